"""The files ``runner secrets`` works on: the identity file, the stack's YAML files, the editor's scratch file.

Every write is atomic (a temp file beside the target, then ``os.replace``), so
a crash or Ctrl-C leaves the old file or the new one, never half of one; a
key file is 0600 from its first byte. The stack's files are read raw (not
through the model), so a stack the model rejects can still be repaired, and
only values' text is rewritten (:mod:`runner.secrets.yamltext`).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from runner.errors import Location, UserError, UserErrors
from runner.secrets import age
from runner.secrets.yamltext import Parsed, location_of, parse
from runner.statefile import replace_file

RECIPIENTS_PATH = ("stack", "secrets", "recipients")
SCRATCH_PREFIX = "runner-secret-"
#: the stack file's includes followed at most this deep (the model refuses cycles; this only bounds the walk)
MAX_INCLUDE_DEPTH = 32


# -- the identity file ----------------------------------------------------------


def identity_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``keygen`` writes by default: ``$RUNNER_AGE_KEY_FILE``, else ``~/.config/runner/age.key``."""
    environ = os.environ if environ is None else environ
    named = environ.get(age.KEY_FILE_ENV, "").strip()
    return Path(named).expanduser() if named else age.DEFAULT_KEY_FILE.expanduser()


def write_identity(path: Path, force: bool = False) -> str:
    """Write a new identity to ``path`` (mode 0600 from the start) and return its public key.

    The file reads like age-keygen's: ``# created:`` and ``# public key:`` comments, then the key.
    :raises UserError: ``path`` exists and ``force`` is false (its values would become undecryptable).
    """
    secret, public = age.generate()
    created = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    text = f"# created: {created}\n# public key: {public}\n{secret}\n"
    if path.is_dir():
        raise UserError(f"{path} is a directory", hint="give the key file's name with --output")
    if path.exists() and not force:
        raise UserError(f"{path} already exists; not replacing an identity (what it decrypts would be lost)",
                        hint="--force replaces it, --output FILE writes elsewhere")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_new(path, text.encode("ascii"), replace=force)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    return public


def _write_new(path: Path, data: bytes, replace: bool) -> None:
    """``data`` into a 0600 temp file beside ``path``, then moved there (``replace``) or linked (never over
    a file that appeared meanwhile)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp: 0600, O_EXCL
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise UserError(f"{path} already exists; not replacing an identity",
                            hint="--force replaces it") from None
        except OSError:  # no hard links on this file system: create it exclusively, 0600 from the start
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                out.write(data)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


# -- the stack's files ----------------------------------------------------------


@dataclass(frozen=True)
class SecretsFile:
    """One YAML file that may hold encrypted values: where it is, how messages name it, its parse."""

    path: Path
    parsed: Parsed

    @property
    def display(self) -> str:
        return self.parsed.display


def read(path: Path, display: str | None = None) -> SecretsFile:
    """Read and parse a YAML file as text (its line breaks kept as they are)."""
    shown = str(path) if display is None else display
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError("no such file", Location(shown)) from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UserError(f"cannot read file: {why}", Location(shown)) from None
    return SecretsFile(path, parse(text, shown))


def _plain(file: SecretsFile, *path: str) -> yaml.Node | None:
    """The node at a key path of mappings, or None."""
    node = file.parsed.root
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
    return node


def _strings(file: SecretsFile, node: yaml.Node | None) -> list[tuple[str, yaml.Node]]:
    """The string items of a list node (a lone string counts as a list of one), with their nodes."""
    if node is None:
        return []
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return [(item.value, item) for item in items
            if isinstance(item, yaml.ScalarNode) and item.tag == "tag:yaml.org,2002:str"]


def recipients(stack: SecretsFile) -> list[str]:
    """``stack.secrets.recipients`` of the stack file, each checked.

    :raises UserErrors: not a list of strings, or an entry that is not an age public key (located).
    """
    node = _plain(stack, *RECIPIENTS_PATH)
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return []
    where = _at(stack, node)
    if not isinstance(node, yaml.SequenceNode):
        raise UserError("stack.secrets.recipients must be a list of age public keys (age1...)", where)
    errors: list[UserError] = []
    found: list[str] = []
    for i, item in enumerate(node.value):
        text = item.value if isinstance(item, yaml.ScalarNode) and item.tag.endswith(":str") else None
        try:
            if text is None:
                raise ValueError("expected a string")
            age.parse_recipient(text)
        except ValueError as exc:
            errors.append(UserError(f"stack.secrets.recipients[{i}]: {exc}", _at(stack, item)))
            continue
        found.append(text.strip())
    if errors:
        raise UserErrors(errors)
    return found


def _at(file: SecretsFile, node: yaml.Node) -> Location:
    return location_of(file.display, file.parsed.text, node.start_mark.index)


def stack_files(stack_path: str | Path) -> list[SecretsFile]:
    """The stack file, the files it includes (recursively) and the cookbook attribute files of its
    ``path`` cookbook sources: every file ``rekey`` and ``check`` go through."""
    main = read(Path(stack_path), str(stack_path))
    files = [main]
    seen = {Path(stack_path).resolve()}
    _includes(main, files, seen, depth=0)
    for directory in _cookbook_dirs(main):
        for attributes in _attribute_files(directory):
            if attributes.resolve() not in seen:
                seen.add(attributes.resolve())
                files.append(read(attributes, os.path.normpath(attributes)))
    return files


def _includes(file: SecretsFile, files: list[SecretsFile], seen: set[Path], depth: int) -> None:
    if depth >= MAX_INCLUDE_DEPTH:
        return
    for entry, _ in _strings(file, _plain(file, "include")):
        target = file.path.parent / Path(entry).expanduser()
        if target.resolve() in seen or not target.is_file():
            continue  # a missing include or a cycle is the model's to report
        seen.add(target.resolve())
        included = read(target, os.path.normpath(target))
        files.append(included)
        _includes(included, files, seen, depth + 1)


def _cookbook_dirs(stack: SecretsFile) -> list[Path]:
    """The directories of ``stack.cookbooks`` written as ``- DIR`` or ``- path: DIR`` (not fetched ones)."""
    node = _plain(stack, "stack", "cookbooks")
    entries = node.value if isinstance(node, yaml.SequenceNode) else []
    found = []
    for entry in entries:
        if isinstance(entry, yaml.MappingNode):
            entry = next((v for k, v in entry.value if isinstance(k, yaml.ScalarNode) and k.value == "path"), None)
        if isinstance(entry, yaml.ScalarNode) and entry.value:
            found.append(stack.path.parent / Path(entry.value).expanduser())
    return found


def _attribute_files(directory: Path) -> list[Path]:
    """``NAME/attributes/default.yml`` of each cookbook in a cookbook directory."""
    if not directory.is_dir():
        return []
    return [book / "attributes" / "default.yml" for book in sorted(directory.iterdir())
            if (book / "attributes" / "default.yml").is_file()]


def cookbook_file(stack_path: str | Path, spec: str) -> Path:
    """``NAME/attributes/default.yml`` (a ``cookbook:`` target) in the first path source that has it."""
    name = spec.split("/", 1)[0]
    for directory in _cookbook_dirs(read(Path(stack_path), str(stack_path))):
        if (directory / name).is_dir():
            return Path(os.path.normpath(directory / spec))
    raise UserError(f"cookbook:{spec}: no cookbook {name!r} in the stack's cookbook paths",
                    Location(str(stack_path)), hint="only cookbooks under stack.cookbooks '- path:' entries")


def write_text(path: Path, text: str) -> None:
    """Replace a file's content atomically, keeping its mode (and a symlink pointing where it did)."""
    real = Path(os.path.realpath(path))
    replace_file(real, text, stat.S_IMODE(real.stat().st_mode))


# -- the editor's scratch file --------------------------------------------------


def scratch_base() -> Path | None:
    """/dev/shm (memory, never on a disk) when it is there and writable; else None: the temp dir."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


@contextlib.contextmanager
def scratch_file(text: str, base: Path | None = None) -> Iterator[Path]:
    """A 0600 file holding ``text`` in a fresh 0700 directory, removed with the directory at the end,
    whatever happens (the editor's swap and backup files in there go with it); SIGTERM and SIGHUP
    count as Ctrl-C meanwhile, so they remove it too."""
    directory = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=base if base is not None else scratch_base()))
    try:
        with _signals_interrupt():
            path = directory / "value"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt()

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

