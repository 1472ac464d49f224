"""``package``: names, probe parsing, diffs, and the one batched apt-get step (no host)."""

from __future__ import annotations

import pytest

from runner.resources.api import ResourceError
from runner.resources.builtin.package import Package, PackageState

APT_PROBE = """\
manager=apt
pkg tree install ok installed 2.1.0-1
pkg sl deinstall ok config-files 5.02-1
pkg curl
candidate tree 2.1.1-1
candidate curl (none)
pkg unrelated install ok installed 1.0
"""


@pytest.mark.parametrize("name, kwargs, message", [
    ("", {}, "name must be a non-empty string"),
    ([], {}, "name must be a non-empty string"),
    ("bad name", {}, "'bad name' is not a valid package name"),
    ("-o", {}, "'-o' is not a valid package name"),
    (["a", "a"], {}, "a package is named twice"),
    (["a", "b"], {"version": "1.0"}, "version can only be given for a single package"),
    ("a", {"version": "1 0"}, "'1 0' is not a valid version"),
    ("a", {"version": "1.0", "action": "remove"}, "version makes no sense with action remove"),
    ("a", {"action": ["install", "remove"]}, "give one action"),
    ("a", {"action": "purge"}, "unknown action 'purge'"),
])
def test_rejects(name, kwargs, message) -> None:
    with pytest.raises(ResourceError, match=message):
        Package(name, **kwargs)


def test_names() -> None:
    assert Package("tree").names == ("tree",)
    listed = Package(["tree", "sl"])
    assert listed.names == ("tree", "sl") and listed.key == "package[tree, sl]"
    assert Package("tools", package_name=["g++", "libc6-dev"]).names == ("g++", "libc6-dev")


@pytest.mark.parametrize("output, manager, installed, candidate", [
    ("", "none", {"tree": None, "sl": None, "curl": None}, {}),
    (APT_PROBE, "apt", {"tree": "2.1.0-1", "sl": None, "curl": None}, {"tree": "2.1.1-1", "curl": None}),
    ("manager=dnf\npkg tree install ok installed 2.1.0-3.el9\n", "dnf",
     {"tree": "2.1.0-3.el9", "sl": None, "curl": None}, {}),
    ("manager=apt\npkg tree hold ok installed 1.0\npkg sl install ok half-installed 1\n", "apt",
     {"tree": "1.0", "sl": None, "curl": None}, {}),
    ("manager=apt\npkg tree install ok triggers-pending 1.0\n", "apt", {"tree": "1.0", "sl": None, "curl": None},
     {}),
], ids=["empty", "apt", "dnf", "hold-and-half-installed", "triggers-pending"])
def test_parse(output, manager, installed, candidate) -> None:
    state = Package(["tree", "sl", "curl"], action="upgrade").parse(output)
    assert (state.manager, state.installed, state.candidate) == (manager, installed, candidate)


INSTALLED = PackageState("apt", {"tree": "2.1.0-1", "sl": None}, {"tree": "2.1.1-1", "sl": "5.02-1"})

DIFFS = [
    ("install-missing", ["tree", "sl"], {}, ["install sl"]),
    ("install-all-there", "tree", {}, []),
    ("version-pinned", "tree", {"version": "2.0-1"}, ["install tree 2.0-1 (have 2.1.0-1)"]),
    ("version-same", "tree", {"version": "2.1.0-1"}, []),
    ("upgrade", ["tree", "sl"], {"action": "upgrade"}, ["upgrade tree 2.1.0-1 -> 2.1.1-1", "install sl"]),
    ("remove", ["tree", "sl"], {"action": "remove"}, ["remove tree 2.1.0-1"]),
    ("remove-absent", "sl", {"action": "remove"}, []),
]


@pytest.mark.parametrize("name, kwargs, summaries", [d[1:] for d in DIFFS], ids=[d[0] for d in DIFFS])
def test_diff(name, kwargs, summaries) -> None:
    assert [c.summary for c in Package(name, **kwargs).diff(INSTALLED)] == summaries


def test_upgrade_without_candidate_changes_nothing() -> None:
    state = PackageState("apt", {"tree": "2.1.0-1"}, {"tree": None})
    assert Package("tree", action="upgrade").diff(state) == []


def test_one_batch_for_every_package_resource() -> None:
    state = PackageState("apt", {"tree": "1", "sl": None, "curl": None, "old": "1"}, {"tree": "2"})
    items = [(r, state, r.diff(state)) for r in (
        Package(["sl", "curl"]), Package("tree", action="upgrade"), Package("old", action="remove"),
        Package("curl"), Package("vim", version="2:9.0"),
    )]
    script = Package.apply_batch(items).script
    install_lines = [line for line in script.splitlines() if line.strip().startswith(("if ! apt-get install",
                                                                                      "apt-get install"))]
    assert len(install_lines) == 2  # the install, and its retry after apt-get update
    assert all(line.rstrip().endswith("sl curl vim=2:9.0 tree >\"$runner_out\" 2>&1; then")
               or line.rstrip().endswith("sl curl vim=2:9.0 tree || exit 1") for line in install_lines)
    assert "apt-get remove -y" in script and script.count("apt-get remove") == 1
    assert "old || exit 1" in script
    assert "DEBIAN_FRONTEND=noninteractive" in script
    assert "--force-confdef" in script and "--force-confold" in script
    assert "Unable to locate package" in script
    assert "-mmin -60" in script  # lists refreshed only when older than an hour
    assert "dnf" in script and "yum" in script


def test_nothing_to_do_is_unchanged() -> None:
    state = PackageState("apt", {"tree": "1"})
    assert Package.apply_batch([(Package("tree"), state, [])]).script == "printf '%s\\n' @@unchanged"
    assert Package("tree").apply(state, []).script == "printf '%s\\n' @@unchanged"


def test_rpm_specs_and_upgrade() -> None:
    state = PackageState("dnf", {"tree": "1", "vim": None}, {"tree": "2"})
    items = [(r, state, []) for r in (Package("vim", version="9.0-1"), Package("tree", action="upgrade"))]
    script = Package.apply_batch(items).script
    assert "$runner_pm -y install vim-9.0-1 || exit 1" in script
    assert "$runner_pm -y upgrade tree || exit 1" in script


def test_probe_queries_each_name() -> None:
    probe = Package(["tree", "g++"], action="upgrade").probe()
    assert "dpkg-query -W -f '${Status} ${Version}' tree" in probe
    assert "dpkg-query -W -f '${Status} ${Version}' g++" in probe
    assert "apt-cache policy tree" in probe
    assert "apt-cache policy" not in Package("tree").probe()


def test_probe_answers_from_the_dpkg_cache_unless_it_asks_for_candidates() -> None:
    probe = Package(["tree", "g++"]).probe()
    assert "[ /var/lib/dpkg/status -ef" in probe  # the cached answer holds while dpkg's file is the same
    assert "ln /var/lib/dpkg/status" in probe and "/var/lib/dpkg/updates/[0-9]*" in probe
    other = Package(["tree"]).probe()
    key = [w for w in probe.split() if w.startswith("/var/lib/runner/dpkg-cache/")][0]
    assert key not in other  # one cache file per query
    assert "/var/lib/runner/dpkg-cache" not in Package("tree", action="upgrade").probe()
