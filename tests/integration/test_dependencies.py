"""`runner update-dependencies` and `runner install-dependencies` on Docker hosts, through the command line.

The upgrade needs a package with a newer version than the installed one, offline: each host builds two
tiny .deb files of one package (1.0 and 1.1) with dpkg-deb, installs 1.0, and serves 1.1 from a flat apt
repository in a local directory.
"""

from __future__ import annotations

import json
import textwrap

from test_converge import runner

PACKAGE = "runner-demo-dep"
REPO = "/srv/localrepo"

MAKE_REPO = textwrap.dedent(f"""\
    set -e
    mkdir -p {REPO} /tmp/debs
    for v in 1.0 1.1; do
      d=/tmp/debs/{PACKAGE}-$v
      mkdir -p $d/DEBIAN $d/usr/share/{PACKAGE}
      echo $v > $d/usr/share/{PACKAGE}/version
      {{ echo "Package: {PACKAGE}"; echo "Version: $v"; echo "Architecture: all";
        echo "Maintainer: runner tests <t@localhost>";
        echo "Description: a package for the update-dependencies test"; }} > $d/DEBIAN/control
      dpkg-deb --build $d /tmp/debs/{PACKAGE}_${{v}}_all.deb >/dev/null
    done
    dpkg -i /tmp/debs/{PACKAGE}_1.0_all.deb >/dev/null
    cp /tmp/debs/{PACKAGE}_1.1_all.deb {REPO}/
    cd {REPO}
    deb={PACKAGE}_1.1_all.deb
    {{ dpkg-deb -f $deb; echo "Filename: ./$deb"; echo "Size: $(stat -c %s $deb)";
      echo "SHA256: $(sha256sum $deb | cut -d' ' -f1)"; echo; }} > Packages
    {{ echo "Origin: runner-tests"; echo "Label: runner-tests"; echo "Architectures: all amd64 arm64";
      echo "SHA256:"; echo " $(sha256sum Packages | cut -d' ' -f1) $(stat -c %s Packages) Packages"; }} > Release
    echo 'deb [trusted=yes] file:{REPO} ./' > /etc/apt/sources.list.d/runner-localrepo.list
    """)


def installed_version(hosts, name: str, package: str) -> str:
    proc = hosts.exec(name, "dpkg-query", "-W", "-f", "${Status} ${Version}", package, check=False)
    words = proc.stdout.split()
    return words[-1] if proc.returncode == 0 and words[2:3] == ["installed"] else ""


def test_update_dependencies_reports_what_moved_and_one_broken_host_stops_no_other(docker_hosts) -> None:
    hosts = docker_hosts(2)
    good, bad = hosts.names
    for name in hosts.names:
        hosts.exec(name, "sh", "-c", MAKE_REPO)
        assert installed_version(hosts, name, PACKAGE) == "1.0"
    # the second host's package lists cannot be read: its apt-get update fails
    hosts.exec(bad, "sh", "-c", "echo 'deb [trusted=yes] file:/srv/no-such-repo ./' "
                                "> /etc/apt/sources.list.d/broken.list")

    proc = runner(hosts.stack.path, "update-dependencies", "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    by_host = {h["host"]: h for h in report["hosts"]}
    assert report["command"] == "update_dependencies" and report["ok"] is False
    assert by_host[good]["ok"] is True and by_host[good]["manager"] == "apt"
    assert {"name": PACKAGE, "before": "1.0", "after": "1.1"} in by_host[good]["changes"]
    assert installed_version(hosts, good, PACKAGE) == "1.1"
    assert hosts.exec(good, "cat", f"/usr/share/{PACKAGE}/version").stdout == "1.1\n"
    assert by_host[bad]["ok"] is False and "the upgrade failed" in by_host[bad]["error"]
    assert any("no-such-repo" in line for line in by_host[bad]["output"])
    assert installed_version(hosts, bad, PACKAGE) == "1.0"

    # the text report of a second run: nothing left to move on the good host
    hosts.exec(bad, "rm", "/etc/apt/sources.list.d/broken.list")
    proc = runner(hosts.stack.path, "update-dependencies", "--instance", bad)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{PACKAGE} 1.0 -> 1.1" in proc.stdout
    assert installed_version(hosts, bad, PACKAGE) == "1.1"
    proc = runner(hosts.stack.path, "update-dependencies", "--instance", good, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hosts"][0]["changes"] == []


def test_install_dependencies_installs_the_layers_packages(docker_hosts) -> None:
    hosts = docker_hosts(1, config={"layers": {"app": {"packages": ["tree"]}}})
    name = hosts.names[0]
    assert installed_version(hosts, name, "tree") == ""
    proc = runner(hosts.stack.path, "install-dependencies", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["command"] == "install_dependencies"
    (resource,) = report["hosts"][0]["resources"]
    assert resource["resource"] == "package[tree]" and resource["status"] == "changed"
    assert installed_version(hosts, name, "tree")
    # nothing ran but the packages: no setup marker, no recipes
    assert hosts.exec(name, "sh", "-c", "ls /var/lib/runner/setup-* 2>/dev/null | wc -l").stdout.strip() == "0"
    again = runner(hosts.stack.path, "install-dependencies")
    assert again.returncode == 0, again.stderr
    assert "package[tree]" not in again.stdout
    assert json.loads(runner(hosts.stack.path, "install-dependencies", "--format", "json").stdout)[
        "hosts"][0]["resources"][0]["status"] == "ok"


def test_update_dependencies_is_refused_while_a_converge_holds_the_host(docker_hosts, tmp_path) -> None:
    from test_converge import stack_config, write_cookbook
    from test_run_locks import SLOW, start, wait_for_line

    books = write_cookbook(tmp_path, "l", {"default": SLOW})
    hosts = docker_hosts(1, config=stack_config(books, ["l"], setup=[]))
    first = start(hosts.stack.path, "converge")
    try:
        wait_for_line(first, "applying")
        proc = runner(hosts.stack.path, "update-dependencies", "--format", "json")
        rest, _ = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, rest
    assert proc.returncode == 1, proc.stderr
    (host,) = json.loads(proc.stdout)["hosts"]
    assert not host["ok"] and "another run holds this host" in host["error"] and "converge" in host["error"]
    assert host["changes"] == []
