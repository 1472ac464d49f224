"""The plugin that registers the built-in app source types, through ``runner_app_sources`` like any plugin's."""

from __future__ import annotations

from runner import hookimpl
from runner.sources.api import AppSourceType
from runner.sources.archive import ArchiveSource
from runner.sources.directory import DirectorySource
from runner.sources.git import GitSource
from runner.sources.s3 import S3Source

BUILTIN_SOURCES: tuple[type[AppSourceType], ...] = (DirectorySource, ArchiveSource, GitSource, S3Source)


@hookimpl
def runner_app_sources() -> list[type[AppSourceType]]:
    return list(BUILTIN_SOURCES)
