"""Source type ``archive``: a .tar.gz, .tgz, .tar or .zip, as a file here or at an http(s) URL."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from runner.errors import UserError
from runner.sources.api import AppSourceType, PreparedSource, SourceContext, SourceKey, SourceProblem
from runner.sources.archives import archive_script, repacked
from runner.sources.http import download, public_url, redact


class ArchiveSource(AppSourceType):
    name = "archive"
    description = ("a .tar.gz, .tgz, .tar or .zip (a 'path' here or an http(s) 'url'); a single top-level "
                   "directory is stripped; 'fetch: remote' downloads the url on the hosts")
    keys = (
        SourceKey("path", "path", description="an archive file on this machine"),
        SourceKey("url", description="an http(s) URL of the archive (user:password@ for basic auth)"),
    )
    remote_fetch = True

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> Iterable[SourceProblem]:
        if ("path" in options) == ("url" in options):
            yield SourceProblem(None, "archive source takes 'path' or 'url', not both" if "path" in options
                                else "archive source needs 'path' or 'url'")
        elif "path" in options and options.get("fetch") == "remote":
            yield SourceProblem("fetch", "'fetch: remote' needs the archive at a 'url' the hosts can reach, "
                                "not a local 'path'")

    def prepare(self, source: SourceContext) -> PreparedSource:
        if "url" in source.options:
            url = self._url(source)
            with source.scratch() as scratch:
                try:
                    download(url, str(scratch))
                except OSError as exc:  # urllib's errors (HTTPError, URLError) are OSErrors
                    raise UserError(f"cannot download {public_url(url)}: {redact(str(exc), url)}",
                                    source.where("url")) from None
                return repacked(source, f"archive {public_url(url)}", scratch, None, "url")
        path = source.path()
        if not path.is_file():
            raise UserError(f"app source archive {path} does not exist", source.where("path"))
        return repacked(source, f"archive {source.shown_path(path)}", path, None, "path")

    def prepare_remote(self, source: SourceContext) -> PreparedSource:
        if "url" not in source.options:
            raise UserError("'fetch: remote' needs the archive at a 'url' the hosts can reach, not a local 'path'",
                            source.where("fetch"))
        url = self._url(source)
        return PreparedSource("archive", f"archive {public_url(url)}", None, None, None, archive_script(url),
                              ("python3",))

    @staticmethod
    def _url(source: SourceContext) -> str:
        url = source.options["url"]
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise UserError(f"archive url must be http:// or https://, got {public_url(url)}", source.where("url"))
        return url
