"""Read ``stack.cookbooks``: where the cookbooks come from, searched in order (first match wins).

::

    cookbooks:
      - path: ../cookbooks                       # a directory here (a bare string works as well)
      - git: https://example.com/cookbooks.git   # fetched into .runner/cookbooks and locked
        ref: v1.2                                #   a branch, a tag or a commit (default: HEAD)
        subdirectory: site-cookbooks             #   where the cookbooks are inside the tree
      - archive: https://example.com/cb.tar.gz   # .tar.gz / .tgz / .zip, a URL or a file here
      - s3: s3://bucket/cookbooks.tgz            # an archive in S3
        endpoint_url: http://127.0.0.1:5000      #   an S3-compatible store (moto, MinIO)
      - package: runner-community-cookbooks      # cookbooks an installed plugin distribution ships

Only the keys are checked here; fetching is :mod:`runner.cookbooks.resolve`'s.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from runner.model.fields import Checker, Invalid
from runner.model.stack import COOKBOOK_SOURCE_KINDS, CookbookSource
from runner.model.yamlsource import KeyPath

#: the keys each kind accepts besides its own
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "path": (),
    "git": ("ref", "subdirectory"),
    "archive": ("subdirectory",),
    "s3": ("endpoint_url", "region", "subdirectory"),
    "package": (),
}
SHAPE = "a list of cookbook sources ({path: DIR}, {git: URL}, {archive: FILE_OR_URL}, {s3: URI}, {package: NAME})"


def read_cookbook_sources(check: Checker, path: KeyPath, value: Any) -> tuple[CookbookSource, ...]:
    """Every valid entry of ``stack.cookbooks`` (the broken ones are reported and left out)."""
    if not isinstance(value, list):
        raise check.expected(path, SHAPE, value)
    sources = []
    for i, item in enumerate(value):
        item_path = path + (i,)
        if isinstance(item, dict):
            source = check.attempt(_entry, check, item_path, item, i)
        else:
            directory = check.attempt(check.file_path, item_path, item)
            source = None if directory is None else CookbookSource(directory, check.at(item_path), index=i)
        if source is not None:
            sources.append(source)
    return tuple(sources)


def _entry(check: Checker, path: KeyPath, item: dict[str, Any], index: int) -> CookbookSource:
    kinds = [kind for kind in COOKBOOK_SOURCE_KINDS if kind in item]
    if len(kinds) > 1:
        raise check.fail(path, f"one source per entry: both '{kinds[0]}' and '{kinds[1]}' are given",
                         "write each source as its own list item", at_key=True)
    if not kinds:
        check.mapping(path, item, [*COOKBOOK_SOURCE_KINDS, *{k for keys in KIND_KEYS.values() for k in keys}])
        raise check.fail(path, f"a cookbook source needs one of {', '.join(COOKBOOK_SOURCE_KINDS)}", at_key=True)
    kind = kinds[0]
    before = len(check.errors)
    check.mapping(path, item, (kind, *KIND_KEYS[kind]))
    if kind == "path":
        directory = check.file_path(path + ("path",), item["path"])
        if len(check.errors) > before:
            raise Invalid()
        return CookbookSource(directory, check.at(path), index=index)
    options: dict[str, Any] = {}
    readers = {"ref": check.scalar_string, "subdirectory": _subdirectory(check), "git": check.string,
               "archive": _archive(check), "s3": _s3(check), "endpoint_url": _http_url(check),
               "region": check.string, "package": check.string}
    for key in (kind, *KIND_KEYS[kind]):
        found = check.get(item, path + (key,), readers[key])
        if found is not None:
            options[key] = found
    if len(check.errors) > before:
        raise Invalid()
    return CookbookSource(None, check.at(path), kind, options, index)


def _subdirectory(check: Checker) -> Any:
    def read(path: KeyPath, value: Any) -> str:
        text = check.string(path, value)
        parts = [part for part in text.split("/") if part not in ("", ".")]
        if text.startswith("/") or ".." in parts:
            raise check.fail(path, f"subdirectory '{text}' must stay inside the fetched tree (relative, no '..')")
        return "/".join(parts)
    return read


def _archive(check: Checker) -> Any:
    def read(path: KeyPath, value: Any) -> str:
        text = check.string(path, value)
        scheme = urllib.parse.urlsplit(text).scheme
        if scheme and len(scheme) > 1 and scheme not in ("http", "https"):  # one letter: a Windows drive
            raise check.fail(path, f"archive must be a file or an http(s) URL, got scheme '{scheme}'",
                             "use {s3: s3://BUCKET/KEY} for S3, {git: URL} for a repository")
        if not text.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
            raise check.fail(path, f"archive '{text}' is not a .tar.gz, .tgz, .tar or .zip")
        return text
    return read


def _s3(check: Checker) -> Any:
    def read(path: KeyPath, value: Any) -> str:
        text = check.string(path, value)
        parts = urllib.parse.urlsplit(text)
        if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
            raise check.fail(path, f"expected s3://BUCKET/KEY, got '{text}'")
        return text
    return read


def _http_url(check: Checker) -> Any:
    def read(path: KeyPath, value: Any) -> str:
        text = check.string(path, value)
        if urllib.parse.urlsplit(text).scheme not in ("http", "https"):
            raise check.fail(path, f"expected an http(s) URL, got '{text}'")
        return text
    return read


def describe(options: Mapping[str, object]) -> str:
    """A stack.cookbooks entry in one line: ``git URL @ ref``, ``archive FILE``, ``s3 URI``, ``package NAME``."""
    kind = next(iter(options))
    text = f"{kind} {options[kind]}"
    if "ref" in options:
        text += f" @ {options['ref']}"
    if "subdirectory" in options:
        text += f" ({options['subdirectory']})"
    return text


def entry_label(source: CookbookSource) -> str:
    """How reports name the entry a cookbook came from: its directory, or a fetched entry as written
    (also once the resolver has pointed it at its cache directory)."""
    fetched = [kind for kind in COOKBOOK_SOURCE_KINDS if kind != "path" and kind in source.options]
    return describe(source.options) if fetched else str(source.path)
