"""App sources on the laptop: directory, archive (file and http), git and s3 (moto server).

Remote scripts are also run here with sh (RELEASE = a temp dir); the Docker
integration tests run them on real hosts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sources_support import (
    HOSTILE,
    SOURCE_TYPES,
    aws_environment,
    git,
    http_server,
    make_app,
    make_repo,
    moto_server,
    run_remote_script,
    tar_archive,
    tar_listing,
    write_tree,
    zip_archive,
)

from runner.errors import UserError
from runner.sources.api import PreparedSource, prepare_source


def prepare(tmp_path: Path, kind: str, **options: object) -> PreparedSource:
    app, stack = make_app(tmp_path, kind, **options)
    return prepare_source(app, stack, tmp_path / ".runner" / "cache", SOURCE_TYPES)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- directory ----------------------------------------------------------------


def test_directory_is_packed_deterministically_with_modes_and_symlinks(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "apps" / "hello")
    for junk in (".git", "__pycache__", ".runner", "deploy/__pycache__"):
        (root / junk).mkdir()
        (root / junk / "junk").write_text("x")
    (root / "secret.txt").write_text("s")
    (root / "secret.txt").chmod(0o600)

    first = prepare(tmp_path, "directory", path="apps/hello")  # relative to the stack file's directory
    assert (first.type, first.description, first.revision) == ("directory", "directory apps/hello", None)
    assert first.checksum == sha256(first.payload) and first.remote_script is None and first.needs == ()
    listing = tar_listing(first.payload)
    assert list(listing) == sorted(listing)
    assert set(listing) == {"app.py", "current.py", "deploy", "deploy/before_migrate", "secret.txt", HOSTILE}
    assert listing["deploy/before_migrate"] == ("file", 0o755, b"#!/bin/sh\necho migrating\n")
    assert listing["app.py"][:2] == ("file", 0o644)
    assert listing["secret.txt"][:2] == ("file", 0o644)  # modes normalised like git's
    assert listing["current.py"] == ("symlink", 0o777, "app.py")
    assert listing[HOSTILE][2] == b"hostile\n"

    os.utime(root / "app.py", (1, 1))  # times, owners and umask do not change the checksum; content does
    (root / "secret.txt").chmod(0o640)
    assert prepare(tmp_path, "directory", path=str(root)).checksum == first.checksum
    (root / "app.py").write_text("print('changed')\n")
    assert prepare(tmp_path, "directory", path=str(root)).checksum != first.checksum


def test_directory_payload_unpacks_with_tar(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app")
    release = tmp_path / "release"
    release.mkdir()
    payload = prepare(tmp_path, "directory", path="app").payload
    subprocess.run(["tar", "-xzf", "-", "-C", str(release)], input=payload, check=True)
    assert os.access(release / "deploy" / "before_migrate", os.X_OK)
    assert os.readlink(release / "current.py") == "app.py"
    assert (release / HOSTILE).read_text() == "hostile\n"
    assert sorted(p.name for p in release.iterdir()) == sorted(p.name for p in root.iterdir())
    assert not list(tmp_path.glob("**/pwned*"))


@pytest.mark.parametrize("options, message", [
    ({"path": "app", "fetch": "remote"}, "'fetch: remote' makes no sense"),
    ({"path": "missing"}, "does not exist"),
    ({"url": "https://example.invalid/app"}, "takes a 'path', not a 'url'"),
])
def test_directory_errors(tmp_path: Path, options: dict[str, str], message: str) -> None:
    (tmp_path / "app").mkdir()
    with pytest.raises(UserError, match=message):
        prepare(tmp_path, "directory", **options)


# -- archive files ------------------------------------------------------------

FILES = {"app.py": b"print(1)\n", "bin/run.sh": b"#!/bin/sh\n", f"{HOSTILE}.txt": b"h\n"}


@pytest.mark.parametrize("suffix, mode", [(".tar.gz", "w:gz"), (".tgz", "w:gz"), (".tar", "w"), (".zip", None)])
def test_archive_formats_strip_a_single_top_directory(tmp_path: Path, suffix: str, mode: str | None) -> None:
    entries: dict[str, bytes | None] = {"hello-1.0": None, **{f"hello-1.0/{k}": v for k, v in FILES.items()}}
    path = tmp_path / f"hello{suffix}"
    zip_archive(path, entries) if mode is None else tar_archive(path, entries, mode)
    prepared = prepare(tmp_path, "archive", path=path.name)
    assert prepared.description == f"archive hello{suffix}"
    assert prepared.checksum == sha256(path.read_bytes())  # the original archive's bytes
    listing = tar_listing(prepared.payload)
    assert set(listing) == {"app.py", "bin", "bin/run.sh", f"{HOSTILE}.txt"}
    assert listing["bin/run.sh"] == ("file", 0o755, b"#!/bin/sh\n")
    assert listing["app.py"] == ("file", 0o644, b"print(1)\n")


def test_archive_with_several_top_entries_is_kept_as_it_is(tmp_path: Path) -> None:
    tar_archive(tmp_path / "a.tgz", {"./one/a": b"a", "./two": b"2"}, symlinks={"./link": "one/a"})
    listing = tar_listing(prepare(tmp_path, "archive", path="a.tgz").payload)
    assert listing == {"link": ("symlink", 0o777, "one/a"), "one": ("dir", 0o755, None),
                       "one/a": ("file", 0o644, b"a"), "two": ("file", 0o644, b"2")}


def test_zip_symlinks_stay_symlinks(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "links.zip", "w") as archive:
        archive.writestr("app/run.py", "print(1)\n")
        link = zipfile.ZipInfo("app/current.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "run.py")
    listing = tar_listing(prepare(tmp_path, "archive", path="links.zip").payload)
    assert listing == {"current.py": ("symlink", 0o777, "run.py"), "run.py": ("file", 0o644, b"print(1)\n")}


def test_archive_with_one_top_file_is_not_stripped(tmp_path: Path) -> None:
    tar_archive(tmp_path / "a.tgz", {"only.txt": b"x"})
    assert set(tar_listing(prepare(tmp_path, "archive", path="a.tgz").payload)) == {"only.txt"}


@pytest.mark.parametrize("entries, symlinks, member", [
    ({"app/../../etc/passwd": b"x"}, {}, "app/../../etc/passwd"),
    ({"/etc/cron.d/evil": b"x"}, {}, "/etc/cron.d/evil"),
    ({"ok": b"x"}, {}, None),
    ({"etc/passwd": b"x", "z": b""}, {"etc": "/etc"}, "etc/passwd"),
])
def test_archive_members_escaping_the_release_are_refused(
    tmp_path: Path, entries: dict[str, bytes], symlinks: dict[str, str], member: str | None
) -> None:
    for suffix in (".tgz", ".zip") if not symlinks else (".tgz",):
        path = tmp_path / f"bad{suffix}"
        tar_archive(path, entries, symlinks=symlinks) if suffix == ".tgz" else zip_archive(path, entries)
        if member is None:
            assert prepare(tmp_path, "archive", path=path.name).payload
            continue
        with pytest.raises(UserError) as caught:
            prepare(tmp_path, "archive", path=path.name)
        assert repr(member) in caught.value.message and "refusing" in caught.value.message


def test_archive_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.tgz").write_text("not an archive")
    with pytest.raises(UserError, match="is not a .tar.gz, .tgz, .tar or .zip archive"):
        prepare(tmp_path, "archive", path="notes.tgz")
    with pytest.raises(UserError, match="does not exist"):
        prepare(tmp_path, "archive", path="missing.tgz")
    with pytest.raises(UserError, match="needs the archive at a 'url'"):
        prepare(tmp_path, "archive", path="notes.tgz", fetch="remote")
    with pytest.raises(UserError, match="must be http:// or https://"):
        prepare(tmp_path, "archive", url="ftp://127.0.0.1/app.tgz")


# -- archive over http --------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path):
    """hello.tgz (one top directory) and hello.zip served on 127.0.0.1; (base URL, requests seen, files)."""
    www = tmp_path / "www"
    www.mkdir()
    entries: dict[str, bytes | None] = {f"hello/{k}": v for k, v in FILES.items()}
    files = {"tgz": tar_archive(www / "hello.tgz", entries), "zip": zip_archive(www / "hello.zip", entries)}
    with http_server(www) as (base, seen):
        yield base, seen, files


def test_http_archive_is_downloaded_without_showing_credentials(tmp_path: Path, served) -> None:
    base, seen, files = served
    url = base.replace("http://", "http://deployer:p%40ss@") + "/hello.tgz?token=s3cr3t"
    prepared = prepare(tmp_path, "archive", url=url)
    assert prepared.description == f"archive {base}/hello.tgz"
    assert "deployer" not in repr(prepared) and "s3cr3t" not in repr(prepared)
    assert prepared.checksum == sha256(files["tgz"].read_bytes())
    assert set(tar_listing(prepared.payload)) == {"app.py", "bin", "bin/run.sh", f"{HOSTILE}.txt"}
    assert seen[-1]["authorization"] == "Basic ZGVwbG95ZXI6cEBzcw=="  # deployer:p@ss
    assert not list((tmp_path / ".runner" / "cache" / "downloads").iterdir())  # no download left behind


def test_http_archive_missing_is_a_user_error(tmp_path: Path, served) -> None:
    base, _, _ = served
    with pytest.raises(UserError, match=r"cannot download .*/missing.tgz: HTTP Error 404"):
        prepare(tmp_path, "archive", url=f"{base}/missing.tgz")


@pytest.mark.parametrize("kind", ["tgz", "zip"])
@pytest.mark.parametrize("with_curl", [True, False], ids=["curl", "python"])
def test_remote_archive_script_fills_the_release(tmp_path: Path, served, kind: str, with_curl: bool) -> None:
    base, seen, files = served
    if with_curl and not shutil.which("curl"):
        pytest.fail("curl is needed on this machine for this test")
    url = f"{base}/hello.{kind}?x=$(touch${{IFS}}pwned)&y='`touch${{IFS}}pwned2`;'"  # no space: not in a URL
    prepared = prepare(tmp_path, "archive", url=url, fetch="remote")
    assert (prepared.payload, prepared.checksum, prepared.needs) == (None, None, ("python3",))
    release = tmp_path / "release dir $(x)"
    release.mkdir()
    path = None if with_curl else _path_without_curl(tmp_path)
    done = run_remote_script(prepared.remote_script, release, path)
    assert done.returncode == 0, done.stderr
    assert seen[-1]["user-agent"].startswith("curl" if with_curl else "Python")
    assert (release / ".runner_checksum").read_text() == sha256(files[kind].read_bytes()) + "\n"
    assert (release / "bin" / "run.sh").read_bytes() == b"#!/bin/sh\n" and os.access(release / "bin/run.sh", os.X_OK)
    assert (release / f"{HOSTILE}.txt").read_text() == "h\n"
    assert not list(tmp_path.glob("**/pwned*"))


def test_remote_archive_script_fails_on_a_bad_archive(tmp_path: Path, served) -> None:
    base, _, files = served
    tar_archive(files["tgz"].parent / "bad.tgz", {"../evil": b"x"})
    release = tmp_path / "release"
    release.mkdir()
    for name, message in (("bad.tgz", "'../evil' has an absolute path or '..'"), ("missing.tgz", "404")):
        prepared = prepare(tmp_path, "archive", url=f"{base}/{name}", fetch="remote")
        done = run_remote_script(prepared.remote_script, release)
        assert done.returncode != 0 and message in done.stderr
    assert not list(release.iterdir())


def _path_without_curl(tmp_path: Path) -> str:
    """A PATH with the commands a remote script uses, but no curl."""
    bin_dir = tmp_path / "bin-no-curl"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("sh", "mktemp", "rm", "sha256sum", "cut", "git", "tar", "gzip", "cat", "mkdir"):
        found = shutil.which(tool)
        assert found, tool
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    if not (bin_dir / "python3").exists():
        (bin_dir / "python3").symlink_to(sys.executable)
    return str(bin_dir)


# -- git ----------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> tuple[str, dict[str, str], Path]:
    path = tmp_path / f"repo {HOSTILE}"
    shas = make_repo(path)
    return f"file://{path}", shas, path


@pytest.mark.parametrize("revision, expected", [
    (None, "main"), ("main", "main"), ("feature", "feature"), ("v1", "v1"), ("SHA:v1", "v1"),
    ("SHORT:feature", "feature"),
])
def test_git_revision_is_resolved_and_archived(tmp_path: Path, repo, revision: str | None, expected: str) -> None:
    url, shas, _ = repo
    if revision and revision.startswith("SHA:"):
        revision = shas[revision[4:]]
    elif revision and revision.startswith("SHORT:"):
        revision = shas[revision[6:]][:8]
    options = {"url": url} | ({"revision": revision} if revision else {})
    prepared = prepare(tmp_path, "git", **options)
    assert (prepared.type, prepared.revision, prepared.remote_script) == ("git", shas[expected], None)
    assert prepared.description == f"git {url} @ {revision or 'HEAD'}"
    listing = tar_listing(prepared.payload)
    assert listing["src/deploy/before_migrate"][:2] == ("file", 0o755)
    assert listing["src/app.py"][:2] == ("file", 0o644)
    assert listing["src/current.py"] == ("symlink", 0o777, "app.py")
    assert f"src/{HOSTILE}" in listing
    assert ("feature.txt" in listing) == (expected == "feature") and ("VERSION" in listing) == (expected == "main")


def test_git_checksum_is_of_the_tree_and_later_calls_fetch(tmp_path: Path, repo) -> None:
    url, shas, path = repo
    first = prepare(tmp_path, "git", url=url, revision="main")
    again = prepare(tmp_path, "git", url=url, revision=shas["main"])
    assert first.checksum == again.checksum and first.payload == again.payload
    assert len(list((tmp_path / ".runner" / "cache" / "git").iterdir())) == 1  # one cached clone
    (path / "NEW").write_text("new\n")
    git(path, "add", "NEW")
    git(path, "commit", "--quiet", "-m", "new")
    newer = prepare(tmp_path, "git", url=url, revision="main")
    assert newer.revision == git(path, "rev-parse", "HEAD") != first.revision
    assert "NEW" in tar_listing(newer.payload) and newer.checksum != first.checksum


def test_git_errors_are_user_errors(tmp_path: Path, repo) -> None:
    url, _, _ = repo
    with pytest.raises(UserError, match="git revision 'nope' not found in"):
        prepare(tmp_path, "git", url=url, revision="nope")
    with pytest.raises(UserError, match="starts with '-'"):
        prepare(tmp_path, "git", url=url, revision="--upload-pack=touch pwned")
    with pytest.raises(UserError) as caught:
        prepare(tmp_path, "git", url=f"file://{tmp_path}/no-such-repo")
    assert "git failed for" in caught.value.message and "does not appear to be a git repository" in caught.value.message


def test_git_credentials_stay_out_of_descriptions_and_errors(tmp_path: Path) -> None:
    url = "http://deployer:s3cr3t@127.0.0.1:9/repo.git"  # port 9 (discard): connection refused
    with pytest.raises(UserError) as caught:
        prepare(tmp_path, "git", url=url)
    assert "s3cr3t" not in str(caught.value) and "http://127.0.0.1:9/repo.git" in caught.value.message
    prepared = prepare(tmp_path, "git", url=url, fetch="remote")
    assert prepared.description == "git http://127.0.0.1:9/repo.git @ HEAD" and prepared.needs == ("git",)


@pytest.mark.parametrize("revision", [None, "feature", "v1", "SHA:v1"])
def test_remote_git_script_fills_the_release_like_a_local_fetch(tmp_path: Path, repo, revision: str | None) -> None:
    url, shas, _ = repo
    if revision and revision.startswith("SHA:"):
        revision = shas[revision[4:]]
    options = {"url": url} | ({"revision": revision} if revision else {})
    local = prepare(tmp_path, "git", **options)
    remote = prepare(tmp_path, "git", **options, fetch="remote")
    assert (remote.payload, remote.checksum, remote.revision) == (None, None, None)
    release = tmp_path / "release"
    release.mkdir()
    done = run_remote_script(remote.remote_script, release)
    assert done.returncode == 0, done.stderr
    assert (release / ".runner_revision").read_text() == local.revision + "\n"
    assert (release / ".runner_checksum").read_text() == local.checksum + "\n"
    assert os.access(release / "src" / "deploy" / "before_migrate", os.X_OK)
    assert os.readlink(release / "src" / "current.py") == "app.py"
    assert not (release / ".git").exists() and not list(tmp_path.glob("**/pwned*"))


def test_remote_git_script_fails_on_an_unknown_revision(tmp_path: Path, repo) -> None:
    url, _, _ = repo
    release = tmp_path / "release"
    release.mkdir()
    done = run_remote_script(prepare(tmp_path, "git", url=url, revision="nope", fetch="remote").remote_script, release)
    assert done.returncode != 0 and "git revision nope not found" in done.stderr
    assert not list(release.iterdir())


# -- s3 (moto in server mode) ---------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A moto S3 endpoint with bucket 'artifacts' (unversioned) and 'versioned', reached through AWS_ENDPOINT_URL."""
    import boto3

    with moto_server() as endpoint:
        aws_environment(monkeypatch, endpoint)
        client = boto3.client("s3")  # no endpoint_url given: the variable must be honoured
        client.create_bucket(Bucket="artifacts")
        client.create_bucket(Bucket="versioned")
        client.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
        entries: dict[str, bytes | None] = {f"hello/{k}": v for k, v in FILES.items()}
        archive = tar_archive(tmp_path / "hello.tgz", entries)
        zipped = zip_archive(tmp_path / "hello.zip", entries)
        yield client, archive, zipped


def test_s3_object_is_downloaded_and_unpacked(tmp_path: Path, s3) -> None:
    client, archive, zipped = s3
    key = f"releases/{HOSTILE}.zip"
    put = client.put_object(Bucket="artifacts", Key=key, Body=zipped.read_bytes())
    prepared = prepare(tmp_path, "s3", bucket="artifacts", key=key, region="us-east-1")
    assert prepared.description == f"s3 s3://artifacts/{key} (us-east-1)"
    assert prepared.revision == put["ETag"].strip('"')
    assert prepared.checksum == sha256(zipped.read_bytes())
    assert set(tar_listing(prepared.payload)) == {"app.py", "bin", "bin/run.sh", f"{HOSTILE}.txt"}


def test_s3_revision_is_the_version_and_pins_it(tmp_path: Path, s3) -> None:
    client, archive, zipped = s3
    first = client.put_object(Bucket="versioned", Key="app.tgz", Body=archive.read_bytes())
    prepared = prepare(tmp_path, "s3", bucket="versioned", key="app.tgz")
    assert prepared.revision == first["VersionId"] and prepared.checksum == sha256(archive.read_bytes())
    client.put_object(Bucket="versioned", Key="app.tgz", Body=zipped.read_bytes())
    newer = prepare(tmp_path, "s3", bucket="versioned", key="app.tgz")
    assert newer.revision != first["VersionId"] and newer.checksum == sha256(zipped.read_bytes())


def test_remote_s3_script_downloads_a_presigned_url(tmp_path: Path, s3) -> None:
    client, archive, _ = s3
    put = client.put_object(Bucket="versioned", Key=f"{HOSTILE}.tgz", Body=archive.read_bytes())
    prepared = prepare(tmp_path, "s3", bucket="versioned", key=f"{HOSTILE}.tgz", fetch="remote")
    assert (prepared.payload, prepared.checksum, prepared.revision) == (None, None, put["VersionId"])
    assert "X-Amz-Signature" in prepared.remote_script and "X-Amz-" not in prepared.description
    assert "testing" not in prepared.description
    client.put_object(Bucket="versioned", Key=f"{HOSTILE}.tgz", Body=b"a newer upload must not be deployed")
    release = tmp_path / "release"
    release.mkdir()
    done = run_remote_script(prepared.remote_script, release)
    assert done.returncode == 0, done.stderr
    assert (release / ".runner_checksum").read_text() == sha256(archive.read_bytes()) + "\n"
    assert (release / "bin" / "run.sh").read_bytes() == b"#!/bin/sh\n"


@pytest.mark.parametrize("fetch", ["local", "remote"])
def test_s3_errors_are_user_errors(tmp_path: Path, s3, monkeypatch: pytest.MonkeyPatch, fetch: str) -> None:
    with pytest.raises(UserError, match="no object 'missing.tgz' in S3 bucket 'artifacts'") as caught:
        prepare(tmp_path, "s3", bucket="artifacts", key="missing.tgz", fetch=fetch)
    assert caught.value.hint
    with pytest.raises(UserError, match="S3 bucket 'nope' does not exist"):
        prepare(tmp_path, "s3", bucket="nope", key="app.tgz", fetch=fetch)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(UserError, match="no AWS credentials to read s3://artifacts/app.tgz") as caught:
        prepare(tmp_path, "s3", bucket="artifacts", key="app.tgz", fetch=fetch)
    assert "AWS_ACCESS_KEY_ID" in caught.value.hint
