"""What ``runner secrets encrypt|edit|rekey|check`` do to the stack's files; the CLI parses and prints.

A plaintext lives in memory here (and in the editor's scratch file, for
``edit``) and is never part of a message, a return value the CLI prints, or
an exception.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import Location, UserError, UserErrors
from runner.secrets import age
from runner.secrets.files import SecretsFile, cookbook_file, read, recipients, scratch_file, stack_files, write_text
from runner.secrets.yamltext import Value, find, replace

NO_RECIPIENTS_HINT = ("list public keys under stack.secrets.recipients (runner secrets keygen prints yours), "
                      "or give --recipient age1...")
YAML_SUFFIXES = (".yml", ".yaml")


def stack_recipients(stack_path: str | Path, extra: Sequence[str] = ()) -> list[str]:
    """The stack's recipients and ``extra`` ones (``--recipient``), each once, in order.

    The stack file may be missing when ``extra`` names someone. :raises UserError: none at all, or a bad one.
    """
    for text in extra:
        try:
            age.parse_recipient(text)
        except ValueError as exc:
            raise UserError(f"--recipient {text}: {exc}") from None
    path = Path(stack_path)
    found = recipients(read(path, str(stack_path))) if (path.exists() or not extra) else []
    chosen = list(dict.fromkeys([*found, *(r.strip() for r in extra)]))
    if not chosen:
        raise UserError("no recipients to encrypt to: stack.secrets.recipients is missing or empty",
                        Location(str(stack_path)), hint=NO_RECIPIENTS_HINT)
    return chosen


def encrypt_value(plaintext: str, chosen: Sequence[str]) -> str:
    """The armored text of ``plaintext`` for the recipients ``chosen`` (see :func:`stack_recipients`)."""
    if not plaintext:
        raise UserError("the value is empty; nothing to encrypt")
    return age.encrypt(plaintext, chosen)


def _decrypted(value: Value, identities: age.Identities) -> str:
    try:
        return age.decrypt(value.armored, identities)
    except age.DecryptionFailed as exc:
        raise UserError(f"{value.dotted}: {exc}", value.location) from None


# -- edit -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where ``edit`` goes: a file and a dotted key path in it."""

    file: Path
    display: str
    key: str


def parse_target(stack_path: str | Path, spec: str) -> Target:
    """``apps.a.environment.X`` (in the stack file), ``FILE.yml:key.path`` (a file the stack includes,
    from here or from the stack file's directory) or ``cookbook:NAME/attributes/default.yml:key.path``."""
    if spec.startswith("cookbook:"):
        book, sep, key = spec[len("cookbook:"):].partition(":")
        if not sep or not key:
            raise UserError(f"{spec}: expected cookbook:NAME/attributes/default.yml:key.path")
        path = cookbook_file(stack_path, book)
        return Target(path, str(path), key)
    file, sep, key = spec.partition(":")
    if sep and file.endswith(YAML_SUFFIXES):
        if not key:
            raise UserError(f"{spec}: expected {file}:key.path")
        path = Path(file)
        if not path.exists() and (Path(stack_path).parent / path).exists():  # as the stack's include says it
            path = Path(os.path.normpath(Path(stack_path).parent / path))
        return Target(path, str(path), key)
    return Target(Path(stack_path), str(stack_path), spec)


def run_editor(path: Path, environ: Mapping[str, str] | None = None) -> None:
    """``$EDITOR`` (default vi) on ``path``. :raises UserError: it cannot start, or exits non-zero."""
    environ = os.environ if environ is None else environ
    command = shlex.split(environ.get("EDITOR", "").strip() or "vi")
    try:
        code = subprocess.run([*command, str(path)], check=False).returncode
    except OSError as exc:
        raise UserError(f"cannot run the editor {command[0]!r}: {exc.strerror}", hint="set $EDITOR") from None
    if code != 0:
        raise UserError(f"the editor ({shlex.join(command)}) exited with {code}: nothing changed")


def edited_text(text: str, before: str) -> str:
    """What the user meant: editors end a file with a line break, a value that had none gets none."""
    if not before.endswith("\n"):
        if text.endswith("\r\n"):
            return text[:-2]
        if text.endswith("\n"):
            return text[:-1]
    return text


def edit(stack_path: str | Path, spec: str, identities: age.Identities,
         editor: Callable[[Path], None] = run_editor) -> tuple[Target, Value, bool]:
    """Decrypt the value at ``spec`` into a scratch file, let ``editor`` change it, re-encrypt it to the
    current recipients and rewrite only its text. Returns (target, value, whether the file changed).

    :raises UserError: nothing encrypted there, it cannot be decrypted, no recipients, the editor
        failed, the value came back empty, or the file changed meanwhile; the file is then untouched.
    """
    target = parse_target(stack_path, spec)
    stack_recipients(stack_path)  # fail before the editor opens, not after
    value = find(read(target.file, target.display).parsed, target.key)
    before = _decrypted(value, identities)
    with scratch_file(before) as scratch:
        editor(scratch)
        try:
            after = edited_text(scratch.read_bytes().decode("utf-8"), before)
        except UnicodeDecodeError:
            raise UserError("the edited value is not UTF-8 text: nothing changed") from None
    if after == before:
        return target, value, False
    if not after:
        raise UserError(f"{value.dotted}: the edited value is empty: nothing changed", value.location)
    armored = age.encrypt(after, stack_recipients(stack_path))
    fresh = read(target.file, target.display)
    current = find(fresh.parsed, target.key)
    if current.armored != value.armored:
        raise UserError(f"{value.dotted}: the value changed in the file while it was being edited: "
                        "nothing written", current.location, hint="run the edit again")
    write_text(target.file, replace(fresh.parsed, [(current, armored)]))
    return target, current, True


# -- rekey and check ------------------------------------------------------------


def rekey(stack_path: str | Path, identities: age.Identities) -> list[tuple[str, int]]:
    """Re-encrypt every value of the stack's files to the current recipients; (file, values) of each file
    written. Every value is decrypted before any file is written: one that fails leaves all untouched."""
    files = stack_files(stack_path)
    chosen = stack_recipients(stack_path)
    planned: list[tuple[SecretsFile, list[tuple[Value, str]]]] = []
    errors: list[UserError] = []
    for file in files:
        changes = []
        for value in file.parsed.values:
            try:
                changes.append((value, age.encrypt(_decrypted(value, identities), chosen)))
            except UserError as exc:
                errors.append(exc)
        planned.append((file, changes))
    if errors:
        raise errors[0] if len(errors) == 1 else UserErrors(errors)
    for file, changes in planned:
        if changes:
            write_text(file.path, replace(file.parsed, changes))
    return [(file.display, len(changes)) for file, changes in planned if changes]


@dataclass(frozen=True)
class Checked:
    """One value and why it does not decrypt (None: it does)."""

    file: str
    value: Value
    problem: str | None


def check(stack_path: str | Path, identities: age.Identities) -> list[Checked]:
    """Whether each value of the stack's files decrypts with ``identities`` (the plaintexts are dropped)."""
    results = []
    for file in stack_files(stack_path):
        for value in file.parsed.values:
            try:
                age.decrypt(value.armored, identities)
                problem = None
            except age.DecryptionFailed as exc:
                problem = str(exc)
            results.append(Checked(file.display, value, problem))
    return results
