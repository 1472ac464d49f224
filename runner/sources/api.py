"""What an app source type is: how an app's ``source:`` becomes what a release directory is filled from.

A source type declares the keys it accepts (:attr:`AppSourceType.keys`,
checked with file:line:col when the stack is loaded, see
:mod:`runner.model.sources`) and whether it can be fetched on the hosts
(``fetch: remote``). A deploy calls :func:`prepare_source`, which gives a
:class:`PreparedSource`: either a *payload* (a gzip'd tar made on the laptop,
unpacked on each host) or a *remote script* (POSIX sh that fills ``$RELEASE``
on the host itself: the artifact never passes through the laptop).

A third-party source type is a subclass registered through the
``runner_app_sources`` hook::

    class Rsync(AppSourceType):
        name = "rsync"
        description = "a directory of a build server, copied with rsync"
        keys = (SourceKey("host", required=True), SourceKey("path", "string", required=True))

        def prepare(self, source):
            ...  # a deterministic tar.gz of the tree, see runner.sources.tarpack
"""

from __future__ import annotations

import abc
import contextlib
import os
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from runner.errors import Location, UserError
from runner.model.fields import suggest
from runner.model.sources import SourceDeclaration, SourceKey, SourceProblem
from runner.model.stack import App, AppSource, Stack
from runner.sources.links import escaping_link, payload_links

__all__ = ["AppSourceType", "PreparedSource", "SourceContext", "SourceKey", "SourceProblem", "prepare",
           "prepare_source"]


@dataclass(frozen=True)
class PreparedSource:
    """What a release directory is filled from; see the module docstring."""

    type: str  # the source type's name: directory | archive | git | s3 | a plugin's
    description: str  # one line for reports; never holds credentials
    revision: str | None  # git: full commit sha; s3: VersionId or ETag; else None
    checksum: str | None  # "sha256:<hex>" when known on the laptop; None when fetched on the host
    # gzip'd tar of the release contents, for: tar -xzf - -C "$RELEASE"
    payload: bytes | None = field(repr=False)
    # sh that fills $RELEASE and writes .runner_checksum (+ .runner_revision); may hold a URL's credentials
    # or a presigned URL: keep it out of logs (hence out of repr too)
    remote_script: str | None = field(repr=False)
    needs: tuple[str, ...] = ()  # commands the remote script needs on the host


class SourceContext:
    """A source's options with the stack around them, for a source type's methods.

    The source is an app's ``source:`` (``SourceContext(app, stack, cache_dir)``)
    or anything else fetched the same way, such as a ``stack.cookbooks`` entry
    (:meth:`for_options`): then ``app`` is None, ``where()`` points into that
    entry (``aliases`` maps an option to the key it was written as) and
    ``subject`` names it in messages.
    """

    def __init__(self, app: App | None, stack: Stack, cache_dir: Path, *, source: AppSource | None = None,
                 keys: tuple[str | int, ...] | None = None, subject: str | None = None,
                 aliases: Mapping[str, str] | None = None):
        self.app = app
        self.stack = stack
        if app is not None:
            source, keys, subject = source or app.source, keys or ("apps", app.name, "source"), \
                subject or f"app '{app.name}'"
        if source is None or keys is None or subject is None:
            raise TypeError("a SourceContext without an app needs source, keys and subject")
        self.source: AppSource = source
        self.type = source.type
        self.options: dict[str, Any] = source.options
        self.cache_dir = cache_dir
        self.keys = keys
        #: who the source belongs to, in messages: "app 'web'", "cookbook source stack.cookbooks[1]"
        self.subject = subject
        self.aliases = dict(aliases or {})
        #: whether the source is fetched on the hosts (``fetch: remote``)
        self.remote = self.options.get("fetch", "local") == "remote"

    @classmethod
    def for_options(cls, type: str, options: dict[str, Any], stack: Stack, cache_dir: Path,
                    keys: tuple[str | int, ...], subject: str,
                    aliases: Mapping[str, str] | None = None) -> "SourceContext":
        """A source that is not an app's: its type's options, where it is written, who it belongs to."""
        return cls(None, stack, cache_dir, source=AppSource(type, options), keys=keys, subject=subject,
                   aliases=aliases)

    def where(self, key: str | None = None) -> Location:
        """Where the source (or one of its keys) is written in the stack file, for a UserError."""
        key = self.aliases.get(key, key) if key else None
        return self.stack.where(*self.keys, *((key,) if key else ()))

    def path(self, key: str = "path") -> Path:
        """A path option, absolute: loading already resolves it; a raw one is relative to its file."""
        origin = self.source.origin
        base = Path(origin.document.path).parent if origin is not None else self.stack.path.parent
        return (base / Path(self.options[key]).expanduser()).absolute()

    def shown_path(self, path: Path) -> str:
        """A path as short as it can be for a report: relative to the stack directory when inside it."""
        try:
            return str(path.relative_to(self.stack.path.parent.absolute()))
        except ValueError:
            return str(path)

    def cache(self, *parts: str) -> Path:
        """A directory of the stack's cache (git mirrors, downloads), made when missing."""
        directory = self.cache_dir.joinpath(*parts)
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A temporary file in the cache directory for a download, removed afterwards."""
        handle, name = tempfile.mkstemp(dir=self.cache("downloads"), prefix="download-")
        os.close(handle)
        try:
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)


class AppSourceType(abc.ABC):
    """Base class of app source types; :attr:`name` is what ``source.type`` says in stack.yml."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: the keys the type accepts besides ``type`` and ``fetch`` (names, types, required, defaults)
    keys: ClassVar[tuple[SourceKey, ...]] = ()
    #: whether ``fetch: remote`` is accepted (then :meth:`prepare_remote` must be implemented)
    remote_fetch: ClassVar[bool] = False
    #: what ``fetch: remote`` is refused with when :attr:`remote_fetch` is false (a default when empty)
    no_remote_reason: ClassVar[str] = ""

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> Iterable[SourceProblem]:
        """Problems with a combination of keys (each key alone is checked against :attr:`keys`).

        :param options: the source's keys as written (raw values), without ``type``.
        """
        return ()

    @classmethod
    def declaration(cls) -> SourceDeclaration:
        """The type's keys and rules as plain data, for the stack loader (which imports no plugin code)."""
        return SourceDeclaration(cls.name, tuple(cls.keys), cls.remote_fetch, cls.no_remote_reason, cls.check)

    @abc.abstractmethod
    def prepare(self, source: SourceContext) -> PreparedSource:
        """Fetch the source on this machine: a :class:`PreparedSource` with a payload and its checksum.

        :raises UserError: anything the user can fix (a missing file, an unknown revision ...).
        """

    def prepare_remote(self, source: SourceContext) -> PreparedSource:
        """For ``fetch: remote``: a :class:`PreparedSource` with the remote script (and no payload)."""
        raise UserError(f"source type '{self.name}' does not support 'fetch: remote'", source.where("fetch"))


def prepare_source(app: App, stack: Stack, cache_dir: Path,
                   types: Mapping[str, type[AppSourceType]]) -> PreparedSource:
    """Prepare ``app``'s source for a deploy with its type from ``types`` (the registry's ``app_sources``).

    ``cache_dir`` keeps git clones and downloads. Raises :class:`UserError`
    for anything the user can fix (a missing directory, an unknown git
    revision, a missing S3 key, a bad archive).
    """
    return prepare(SourceContext(app, stack, cache_dir), types)


def prepare(source: SourceContext, types: Mapping[str, type[AppSourceType]]) -> PreparedSource:
    """Prepare any source (an app's, a cookbook source's) with its type from ``types``; links checked."""
    kind = types.get(source.type)
    if kind is None:
        raise UserError(f"unknown app source type '{source.type}'", source.where("type"),
                        suggest(source.type, list(types), list_all=True) or "no app source plugin is loaded")
    handler = kind()
    prepared = handler.prepare_remote(source) if source.remote else handler.prepare(source)
    check_release_links(source, prepared)  # whatever the type: no payload may link outside the release
    return prepared


def check_release_links(source: SourceContext, prepared: PreparedSource) -> None:
    """Refuse a payload holding a symlink that points outside the release (UserError naming app, link, target)."""
    if prepared.payload is None:
        return
    try:
        links = payload_links(prepared.payload)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"{source.subject}: {prepared.description} did not give a .tar.gz payload ({exc})",
                        source.where()) from None
    found = escaping_link(links)
    if found is not None:
        name, target = found
        raise UserError(f"{source.subject}: {prepared.description}: symlink '{name}' -> '{target}' points "
                        "outside the release: refusing it", source.where(),
                        hint="a release may only link to its own files (a relative target that stays inside it)")
