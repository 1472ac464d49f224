"""Load stack.yml (and its includes) into a :class:`Stack`, reporting every problem at once.

Each value is checked by a :class:`Checker` bound to the file it came from,
so an error in an included file points into that file. Nothing stops at the
first problem: all errors are collected and raised together as
:class:`UserErrors`, each as ``file:LINE:COL: message``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runner.errors import Location, UserError, UserErrors
from runner.model.apps import build_app
from runner.model.cookbook_sources import read_cookbook_sources
from runner.model.databases import build_databases
from runner.model.encrypted import RECIPIENT, Encrypted, encrypted_in, replace_encrypted
from runner.model.fields import Checker
from runner.model.hostnames import LAYER_DEPENDENT, RENAMED_THEMES, THEMES, assign_hostnames
from runner.model.includes import SECTIONS, Part, read_parts
from runner.model.merge import deep_merge
from runner.model.redact import MASK, Redactor
from runner.model.sections import InstanceDraft, build_layer, read_instance
from runner.model.sources import SourceDeclaration, check_app_source
from runner.model.stack import (
    HOST_KEY_POLICIES,
    KEX_CHOICES,
    App,
    CookbookSource,
    Instance,
    Path_,
    SecretsSettings,
    SshSettings,
    Stack,
)
from runner.model.yamlsource import Document, KeyPath

STACK_KEYS: tuple[str, ...] = (
    "name", "hostname_theme", "provider", "provider_options", "ssh", "cookbooks", "custom_json", "databases",
    "secrets",
)
SECRETS_KEYS: tuple[str, ...] = ("recipients",)
#: decrypts one ``!encrypted`` value (see :mod:`runner.secrets.reveal`); raises UserError at its location
Reveal = Callable[[Encrypted], str]
SSH_KEYS: tuple[str, ...] = (
    "user", "key", "port", "host_key_policy", "known_hosts", "config_file", "use_agent",
    "connect_timeout", "command_timeout", "keepalive_interval", "keepalive_count", "sudo", "sudo_password_env",
    "transport", "persist", "kex",
)


def load_stack(path: str | Path, app_sources: Mapping[str, SourceDeclaration] | None = None,
               reveal: Reveal | None = None) -> Stack:
    """Read, merge and check a stack file.

    :param path: the stack file; messages name it as given (``stack.yml:3:5: ...``).
    :param app_sources: the declarations of the app source types the plugins add, by name; each
        app's ``source:`` is checked against its type's. None leaves the sources unchecked (raw).
    :param reveal: decrypts each ``!encrypted`` value before the values are checked, so one may stand
        wherever a string may; its plaintext is then secure (:attr:`Stack.decrypted`). None leaves
        them :class:`Encrypted` (a string setting then reads as wrong).
    :raises UserErrors: everything wrong with the file and its includes.
    """
    draft = read_stack(path, app_sources, reveal)
    if draft.errors or draft.stack is None:
        raise UserErrors(draft.errors)
    return draft.stack


@dataclass(frozen=True)
class StackDraft:
    """A stack as far as it could be built, with every problem found in its files.

    What was wrong is left out or at its default, so the stack can still be
    checked against its cookbooks (validation reports all problems at once).
    """

    stack: Stack | None  # None: no file could be read at all
    errors: list[UserError]  # sorted by position
    cookbooks_complete: bool  # stack.cookbooks was read without a problem


def read_stack(path: str | Path, app_sources: Mapping[str, SourceDeclaration] | None = None,
               reveal: Reveal | None = None) -> StackDraft:
    """Like :func:`load_stack`, but hand back the errors with what could be built instead of raising."""
    errors: list[UserError] = []
    parts = read_parts(path, errors)
    if not parts:
        return StackDraft(None, errors, False)
    decrypted: dict[str, str] = {}
    parts = [_revealed(part, reveal, decrypted, errors) for part in parts]
    builder = _Builder(Path(path), parts, errors)
    stack = replace(builder.build(), decrypted=decrypted)
    if app_sources is not None:
        stack = replace(stack, apps=_checked_sources(stack.apps, app_sources, errors))
    if decrypted:  # a message may quote a value ("expected an integer, got string '...'")
        redact = Redactor(decrypted.values())
        errors = [_masked(error, redact) for error in errors]
    return StackDraft(stack, sorted(errors, key=error_position), builder.cookbooks_complete)


def _revealed(part: Part, reveal: Reveal | None, decrypted: dict[str, str], errors: list[UserError]) -> Part:
    """The part with its ``!encrypted`` values decrypted (by ``reveal``) and their paths noted.

    A value that cannot be decrypted is reported and stands as a masked string, so the checks
    that follow do not report it again.
    """
    found = list(encrypted_in(part.doc.data))
    if not found:
        return part
    data = part.doc.data

    def one(value: Encrypted) -> str:
        assert reveal is not None
        try:
            text = reveal(value)
        except UserError as exc:
            errors.append(exc)
            return MASK
        decrypted[value.armored] = text
        return text

    if reveal is not None:
        data = replace_encrypted(data, one)
    doc = replace(part.doc, data=data, encrypted=frozenset(path for path, _ in found))
    return replace(part, doc=doc)


def _masked(error: UserError, redact: Redactor) -> UserError:
    message, hint = redact(error.message), redact(error.hint) if error.hint else error.hint
    if message == error.message and hint == error.hint:
        return error
    return UserError(message, error.location, hint)


def _checked_sources(apps: dict[str, App], declarations: Mapping[str, SourceDeclaration],
                     errors: list[UserError]) -> dict[str, App]:
    """The apps with their sources checked against their types' declarations (the unusable ones left out)."""
    checked = {}
    for name, app in apps.items():
        origin = app.source.origin
        if origin is None:  # built in code, not read from a file: nothing to point at
            checked[name] = app
            continue
        source = check_app_source(Checker(origin.document, errors), origin.path, app.source, declarations)
        if source is not None:
            checked[name] = replace(app, source=source)
    return checked


class _Builder:
    def __init__(self, path: Path, parts: list[Part], errors: list[UserError]):
        self.path = path
        self.parts = parts
        self.errors = errors
        self.main = parts[-1]
        self.check = Checker(self.main.doc, errors)
        self.cookbooks_complete = True

    def build(self) -> Stack:
        check = self.check
        raw = check.get(self.main.data, ("stack",), lambda p, v: check.mapping(p, v, STACK_KEYS, ("name",)), {})
        if "stack" not in self.main.data:
            check.mapping((), self.main.data, required=("stack",))
        entries = self._entries()
        layers = {name: build_layer(c, name, value) for name, (c, value) in entries["layers"].items()}
        theme = check.get(raw, ("stack", "hostname_theme"), self._theme, LAYER_DEPENDENT)
        provider = check.get(raw, ("stack", "provider"), check.string, "static")
        load_layers = [name for name, layer in layers.items() if layer.load_based is not None]
        drafts = [read_instance(c, name, value, list(layers), load_layers)
                  for name, (c, value) in entries["instances"].items()]
        databases = check.get(raw, ("stack", "databases"), lambda p, v: build_databases(check, p, v), {})
        declared = list(raw["databases"]) if isinstance(raw.get("databases"), dict) else []  # broken ones too
        apps = (build_app(c, name, value, list(layers), declared)
                for name, (c, value) in entries["apps"].items())
        return Stack(
            name=check.get(raw, ("stack", "name"), self._name, ""),
            path=self.path.expanduser().absolute(),
            provider=provider,
            provider_options=check.get(raw, ("stack", "provider_options"), check.free_mapping, {}),
            hostname_theme=theme,
            ssh=check.get(raw, ("stack", "ssh"), self._ssh, SshSettings()),
            cookbooks=check.get(raw, ("stack", "cookbooks"), self._cookbooks, ()),
            custom_json=self._custom_json(raw),
            layers=layers,
            instances=self._instances(drafts, theme, provider),
            apps={app.name: app for app in apps if app is not None},
            databases=databases,
            marks=self._marks(entries),
            secrets=check.get(raw, ("stack", "secrets"), self._secrets, SecretsSettings()),
        )

    # -- sections merged across files ---------------------------------------
    def _entries(self) -> dict[str, dict[str, tuple[Checker, Any]]]:
        """name -> (checker of the file it won in, raw value), per section; later files win."""
        merged: dict[str, dict[str, tuple[Checker, Any]]] = {section: {} for section in SECTIONS}
        for part in self.parts:
            check = Checker(part.doc, self.errors)
            for section in SECTIONS:
                found = check.get(part.data, (section,), check.free_mapping, {})
                for name, value in found.items():
                    merged[section][name] = (check, value)
        return merged

    def _custom_json(self, raw: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for part in self.parts[:-1]:
            check = Checker(part.doc, self.errors)
            result = deep_merge(result, check.get(part.data, ("custom_json",), check.free_mapping, {}))
        own = self.check.get(raw, ("stack", "custom_json"), self.check.free_mapping, {})
        return deep_merge(result, own)

    # -- stack settings -------------------------------------------------------
    def _name(self, path: KeyPath, value: Any) -> str:
        """The stack's name: it becomes part of paths and container names on hosts, so a plain name."""
        return self.check.name(path, self.check.string(path, value), "stack")

    def _theme(self, path: KeyPath, value: Any) -> str:
        if isinstance(value, str) and value in RENAMED_THEMES:  # an earlier spelling: point at OpsWorks' one
            raise self.check.fail(path, f"unknown hostname theme '{value}'",
                                  f"did you mean '{RENAMED_THEMES[value]}'? themes are spelled as in OpsWorks")
        return self.check.choice(path, value, THEMES, "hostname theme")

    def _ssh(self, path: KeyPath, value: Any) -> SshSettings:
        check = self.check
        raw = check.mapping(path, value, SSH_KEYS, allow_null=True)
        base = SshSettings()

        def get(key: str, reader: Any) -> Any:
            return check.get(raw, path + (key,), reader, getattr(base, key))

        return SshSettings(
            user=get("user", check.string),
            key=get("key", check.file_path),
            port=get("port", lambda p, v: check.integer(p, v, 1, 65535)),
            host_key_policy=get(
                "host_key_policy", lambda p, v: check.choice(p, v, HOST_KEY_POLICIES, "host key policy")
            ),
            known_hosts=get("known_hosts", check.file_path),
            config_file=get("config_file", check.file_path),
            use_agent=get("use_agent", check.boolean),
            connect_timeout=get("connect_timeout", lambda p, v: check.number(p, v, minimum=0)),
            command_timeout=get("command_timeout", lambda p, v: check.number(p, v, minimum=0)),
            keepalive_interval=get("keepalive_interval", lambda p, v: check.number(p, v, minimum=0.1)),
            keepalive_count=get("keepalive_count", lambda p, v: check.integer(p, v, 1)),
            sudo=get("sudo", check.boolean),
            sudo_password_env=get("sudo_password_env", check.string),
            transport=get("transport", check.string),  # checked against the loaded transports (validate)
            persist=get("persist", lambda p, v: check.number(p, v, minimum=0)),
            kex=get("kex", lambda p, v: check.choice(p, v, KEX_CHOICES, "key exchange choice")),
        )

    def _secrets(self, path: KeyPath, value: Any) -> SecretsSettings:
        """``stack.secrets``: ``recipients``, a list of age public keys (runner.secrets checks each fully)."""
        raw = self.check.mapping(path, value, SECRETS_KEYS, allow_null=True)
        keys: list[str] = []
        given = raw.get("recipients")
        self.check.get(raw, path + ("recipients",), self.check.strings, ())  # reports what is not a string
        for i, item in enumerate(given if isinstance(given, list) else []):
            if not isinstance(item, str) or not item:
                continue
            if not RECIPIENT.match(item.strip()):
                self.check.fail(path + ("recipients", i), f"not an age public key (age1...): {item!r}",
                                "each recipient is a public key as `runner secrets keygen` prints it")
            elif item.strip() in keys:
                self.check.fail(path + ("recipients", i), "recipient listed twice")
            else:
                keys.append(item.strip())
        return SecretsSettings(tuple(keys))

    def _cookbooks(self, path: KeyPath, value: Any) -> tuple[CookbookSource, ...]:
        """``cookbooks: [{path: dir}, {git: url}, ...]`` (see :mod:`runner.model.cookbook_sources`)."""
        found = len(self.errors)
        try:
            return self._cookbook_sources(path, value)
        finally:
            self.cookbooks_complete = len(self.errors) == found

    def _cookbook_sources(self, path: KeyPath, value: Any) -> tuple[CookbookSource, ...]:
        return read_cookbook_sources(self.check, path, value)

    # -- instances ------------------------------------------------------------
    def _instances(self, drafts: list[InstanceDraft], theme: str, provider: str) -> dict[str, Instance]:
        owners: dict[str, str] = {}
        for draft in drafts:
            if draft.hostname is None:
                continue
            if draft.hostname in owners:
                draft.check.fail(
                    ("instances", draft.name, "hostname"),
                    f"hostname '{draft.hostname}' is already used by instance '{owners[draft.hostname]}'",
                )
                draft.hostname = None
            else:
                owners[draft.hostname] = draft.name
        for draft in drafts:
            if provider == "static" and draft.address is None:
                draft.check.report(
                    f"instances.{draft.name}: missing required key 'address'",
                    draft.check.key_at(("instances", draft.name)),
                    "provider 'static' needs an address for every instance",
                )
        names = assign_hostnames(
            theme, [(d.name, d.layers[0] if d.layers else None, d.hostname) for d in drafts]
        )
        return {
            d.name: Instance(
                name=d.name,
                layers=d.layers,
                hostname=names[d.name],
                address=d.address,
                port=d.port,
                user=d.user,
                key=d.key,
                custom_json=d.custom_json,
                ports=d.ports,
                provider_options=d.provider_options,
                location=d.check.key_at(("instances", d.name)),
                scaling=d.scaling,
                schedule=d.schedule,
            )
            for d in drafts
        }

    # -- marks ----------------------------------------------------------------
    def _marks(self, entries: dict[str, dict[str, tuple[Checker, Any]]]) -> dict[Path_, Location]:
        """Where each key path of the merged stack was written.

        Scalars and list items are marked at their value; mappings and lists
        held by a key are marked at the key (the line a user looks for). A
        section entry (``instances.web1``) is marked from the file it won in.
        Linear in the size of the files: each document is walked once.
        """
        marks: dict[Path_, Location] = {}
        for part in self.parts[:-1]:
            marks.update(_marks_of(part.doc, ("custom_json",), ("stack", "custom_json")))
        marks.update(_marks_of(self.main.doc, (), ()))
        won = {(section, name): check.doc for section, named in entries.items() for name, (check, _v) in named.items()}
        marks = {key: where for key, where in marks.items() if key[:2] not in won}
        by_entry: dict[int, dict[KeyPath, dict[Path_, Location]]] = {}  # id(doc) -> entry -> its marks
        for prefix, doc in won.items():
            if id(doc) not in by_entry:
                by_entry[id(doc)] = _marks_by_entry(doc)
            marks.update(by_entry[id(doc)].get(prefix, {}))
        return marks


def error_position(error: UserError) -> tuple[str, int, int]:
    """The sort key that puts errors in file order (file, line, column; unlocated first)."""
    where = error.location
    return (where.path, where.line, where.column) if where else ("", 0, 0)


def _marks_of(doc: Document, prefix: KeyPath, target: KeyPath) -> dict[Path_, Location]:
    marks: dict[Path_, Location] = {}
    for key, location in doc.values.items():
        if key[: len(prefix)] != prefix:
            continue
        if key in doc.keys and isinstance(_lookup(doc.data, key), (dict, list)):
            location = doc.keys[key]
        marks[target + key[len(prefix):]] = location
    return marks


def _marks_by_entry(doc: Document) -> dict[KeyPath, dict[Path_, Location]]:
    """A document's marks grouped by their first two keys (``("instances", "web1")``): one walk."""
    grouped: dict[KeyPath, dict[Path_, Location]] = {}
    for key, location in _marks_of(doc, (), ()).items():
        if len(key) >= 2:
            grouped.setdefault(key[:2], {})[key] = location
    return grouped


def _lookup(data: Any, key: KeyPath) -> Any:
    for part in key:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
