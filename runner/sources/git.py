"""Source type ``git``: a revision of a git repository, archived here from a mirror or fetched on the hosts."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from runner.errors import Location, UserError
from runner.sources.api import AppSourceType, PreparedSource, SourceContext, SourceKey
from runner.sources.http import public_url, redact
from runner.sources.tarpack import sha256

GIT_UMASK = "022"  # git archive's default (002) would make files 0664: normalise like our own tars


class GitSource(AppSourceType):
    name = "git"
    description = ("a revision (branch, tag or sha; default HEAD) of a git repository; the release is its tree "
                   "(git archive) and records the commit sha")
    keys = (
        SourceKey("url", required=True, description="the repository, as git clone takes it"),
        SourceKey("revision", "scalar", description="a branch, a tag or a commit sha (default: HEAD)"),
    )
    remote_fetch = True

    def prepare(self, source: SourceContext) -> PreparedSource:
        url, revision = source.options["url"], _revision(source)
        mirror = _git_mirror(source, url)
        found = _run_git(["git", "-C", str(mirror), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                         url, source.where("url"), check=False)
        sha = found.stdout.decode().strip()
        if found.returncode != 0 or not sha:
            raise UserError(f"git revision '{revision}' not found in {public_url(url)}", source.where("revision"),
                            hint="a branch, a tag or a commit sha of that repository")
        tree = _run_git(["git", "-C", str(mirror), "-c", f"tar.umask={GIT_UMASK}", "archive", "--format=tar", sha],
                        url, source.where("url")).stdout
        return PreparedSource("git", _description(url, revision), sha, sha256(tree), gzip.compress(tree, mtime=0),
                              None)

    def prepare_remote(self, source: SourceContext) -> PreparedSource:
        url, revision = source.options["url"], _revision(source)
        return PreparedSource("git", _description(url, revision), None, None, None, _git_script(url, revision),
                              ("git",))


def _revision(source: SourceContext) -> str:
    revision = str(source.options.get("revision") or "HEAD")
    if revision.startswith("-"):
        raise UserError(f"git revision '{revision}' starts with '-'", source.where("revision"))
    return revision


def _description(url: str, revision: str) -> str:
    return f"git {public_url(url)} @ {revision}"


def _git_mirror(source: SourceContext, url: str) -> Path:
    """A mirror clone of ``url`` in the cache, made once and fetched on later calls."""
    mirror = source.cache("git") / hashlib.sha256(url.encode()).hexdigest()[:24]
    if (mirror / "HEAD").exists():
        _run_git(["git", "-C", str(mirror), "fetch", "--prune", "--quiet", "origin"], url, source.where("url"))
        return mirror
    partial = Path(tempfile.mkdtemp(dir=mirror.parent, prefix=mirror.name + ".partial-"))
    try:
        _run_git(["git", "clone", "--mirror", "--quiet", "--", url, str(partial)], url, source.where("url"))
        with contextlib.suppress(OSError):  # another run may have made the mirror meanwhile: keep that one
            partial.rename(mirror)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return mirror


def _run_git(argv: list[str], url: str, where: Location, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    environ = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", LC_ALL="C")
    try:
        done = subprocess.run(argv, capture_output=True, env=environ, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise UserError("git is not installed on this machine", where,
                        hint="install git, or set 'fetch: remote' to fetch on the hosts") from None
    if check and done.returncode != 0:
        message = redact(done.stderr.decode(errors="replace").strip(), url) or f"exit status {done.returncode}"
        raise UserError(f"git failed for {public_url(url)}: {message}", where)
    return done


def _git_script(url: str, revision: str) -> str:
    """sh for the host: a shallow fetch of ``revision``, its tree into $RELEASE, sha and checksum beside it.

    A server that refuses a shallow fetch of a bare sha gets a full fetch of
    every ref, in which the revision is then looked up.
    """
    return "\n".join([
        "(",
        "set -e",
        "export GIT_TERMINAL_PROMPT=0 LC_ALL=C",
        "tmp=$(mktemp -d)",
        "trap 'rm -rf \"$tmp\"' EXIT",
        f"url={shlex.quote(url)}",
        f"rev={shlex.quote(revision)}",
        'git init --quiet --bare "$tmp/repo"',
        'if git -C "$tmp/repo" fetch --quiet --depth 1 -- "$url" "$rev" 2>"$tmp/err"; then',
        '  sha=$(git -C "$tmp/repo" rev-parse --verify "FETCH_HEAD^{commit}")',
        "else",
        '  git -C "$tmp/repo" fetch --quiet -- "$url" "+refs/*:refs/*" "+HEAD:refs/runner/HEAD"',
        '  [ "$rev" = HEAD ] && rev=refs/runner/HEAD',
        '  sha=$(git -C "$tmp/repo" rev-parse --verify --quiet "$rev^{commit}") ||'
        ' { echo "runner: git revision $rev not found" >&2; cat "$tmp/err" >&2; exit 1; }',
        "fi",
        f'git -C "$tmp/repo" -c tar.umask={GIT_UMASK} archive --format=tar "$sha" > "$tmp/tree.tar"',
        'sum=$(sha256sum "$tmp/tree.tar" | cut -d " " -f 1)',
        'tar -xf "$tmp/tree.tar" -C "$RELEASE"',
        'printf "sha256:%s\\n" "$sum" > "$RELEASE/.runner_checksum"',
        'printf "%s\\n" "$sha" > "$RELEASE/.runner_revision"',
        ")",
    ])
