"""update_dependencies without a host: the host script, its output's parsing, the diff, the report, the text."""

import io
import shlex
import subprocess

from runner.api.dependencies import MARK, package_changes, parse_update, update_script
from runner.api.reports import DependenciesReport, HostDependencies, PackageChange
from runner.cli.render import print_dependencies

HOSTILE = "update_dependencies by we'ird $(touch /tmp/pwned) `x`; y@host"


def test_script_is_valid_shell_and_quotes_the_holder():
    script = update_script(HOSTILE)
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0
    assert shlex.quote(HOSTILE) in script
    assert "apt-get update -q" in script and "apt-get upgrade -y -q" in script
    assert "dnf -y upgrade" in script and "yum -y update" in script
    assert "dpkg-query -W" in script and "rpm -qa" in script


def test_parse_update_reads_only_its_lines():
    text = "\n".join([
        "Reading package lists...",  # not ours: ignored
        f"{MARK} manager apt",
        f"{MARK} before curl 7.88.1-10",
        f"{MARK} before libfoo:amd64 1:2.0-1",
        f"{MARK} before old-pkg 0.9",
        f"{MARK} after curl 7.88.1-10+deb12u5",
        f"{MARK} after libfoo:amd64 1:2.0-1",
        f"{MARK} after new-pkg 3.1",
        f"{MARK} done",
    ])
    found = parse_update(text)
    assert found.manager == "apt" and found.done and found.error is None
    assert found.before == {"curl": "7.88.1-10", "libfoo:amd64": "1:2.0-1", "old-pkg": "0.9"}
    assert package_changes(found.before, found.after) == [
        PackageChange("curl", "7.88.1-10", "7.88.1-10+deb12u5"),
        PackageChange("new-pkg", None, "3.1"),
        PackageChange("old-pkg", "0.9", None),
    ]


def test_parse_update_failure_keeps_the_output_tail():
    found = parse_update(f"{MARK} manager dnf\n{MARK} failed 1\n{MARK} output Error: no network\n")
    assert not found.done and found.error == "the upgrade failed (exit status 1)"
    assert found.output == ["Error: no network"]
    found = parse_update(f"{MARK} error no supported package manager (apt-get, dnf or yum) on this host\n")
    assert found.manager is None and "no supported package manager" in found.error


def report() -> DependenciesReport:
    return DependenciesReport("update_dependencies", "shop", [
        HostDependencies("app1", True, "apt", [PackageChange("curl", "1.0", "1.1"), PackageChange("x", None, "2")],
                         seconds=3.25),
        HostDependencies("app2", False, "apt", error="the upgrade failed (exit status 100)",
                         output=["E: Failed to fetch file:/nope"]),
    ], seconds=4.0)


def test_report_ok_failures_and_dict():
    r = report()
    assert not r.ok and r.failures() == {"app2": "the upgrade failed (exit status 100)"}
    assert [(h.host, h.changed, h.failed) for h in r.host_results()] == [("app1", 2, 0), ("app2", 0, 1)]
    data = r.to_dict()
    assert data["ok"] is False and data["hosts"][0]["changes"][0] == {"name": "curl", "before": "1.0", "after": "1.1"}
    assert data["hosts"][1]["output"] == ["E: Failed to fetch file:/nope"] and data["hosts"][0]["output"] is None


def test_text_names_each_package_move():
    out = io.StringIO()
    print_dependencies(out, report(), "text")
    text = out.getvalue()
    assert "update_dependencies of stack shop: 4.0 s" in text
    assert "  curl 1.0 -> 1.1\n" in text and "  x (not installed) -> 2\n" in text
    assert "app2: the upgrade failed (exit status 100)" in text and "E: Failed to fetch file:/nope" in text


# -- the session's two methods, without a host -------------------------------------------------

STACK = """\
stack:
  name: deps
  provider: static
  ssh: {{user: root, host_key_policy: "off", connect_timeout: 5}}
layers:
  a: {{packages: [curl, tree]}}
  b: {{packages: [tree, jq]}}
  c: {{}}
instances:
  i1: {{layers: [a, b], address: 127.0.0.1, port: {port}}}
  i2: {{layers: [c], address: 127.0.0.1, port: {port}}}
"""


def test_install_dependencies_runs_just_the_layers_packages_each_once(tmp_path):
    from runner.lifecycle import plan_run
    from runner.model.loader import load_stack
    from runner.plugin.registry import Registry
    from runner.providers.api import HostAddress, InstanceState

    (tmp_path / "stack.yml").write_text(STACK.format(port=22))
    stack = load_stack(tmp_path / "stack.yml")
    states = [InstanceState(n, "online", HostAddress(n, n, "127.0.0.1")) for n in ("i1", "i2")]
    plan = plan_run(stack, Registry.load(), "install_dependencies", ["i1", "i2"], states=states)
    first, second = plan.jobs
    assert [r.key for r in first.resources] == ["package[curl tree jq]"]
    assert first.resources[0].names == ("curl", "tree", "jq")
    assert first.setup_resources is None and first.setup_marker is None
    assert second.resources == []


def test_update_dependencies_reports_every_unreachable_host(tmp_path):
    from net_support import listening_port

    from runner.api import HostFinished, Session

    events = []
    with listening_port(hang_up=True) as port:
        (tmp_path / "stack.yml").write_text(STACK.format(port=port))
        with Session.open(tmp_path / "stack.yml", on_event=events.append) as session:
            report = session.update_dependencies()
    assert not report.ok
    assert [h.host for h in report.hosts] == ["i1", "i2"]
    assert all(not h.ok and h.error and h.manager is None for h in report.hosts)
    assert sorted(e.host for e in events if isinstance(e, HostFinished)) == ["i1", "i2"]


def test_layer_package_names_are_checked_where_written(tmp_path, monkeypatch):
    import pytest

    from runner.errors import UserErrors
    from runner.model.loader import load_stack

    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yml").write_text(
        'stack: {name: s}\nlayers:\n  a: {packages: [curl, "tree; touch /tmp/pwned", curl, 3]}\n')
    with pytest.raises(UserErrors) as info:
        load_stack("stack.yml")
    assert [str(e) for e in info.value.errors] == [
        "stack.yml:3:24: layers.a.packages[1]: invalid package name 'tree; touch /tmp/pwned'"
        " (letters, digits and . + _ : ~ -, starting with a letter or digit)",
        "stack.yml:3:50: layers.a.packages[2]: package 'curl' is listed twice",
        "stack.yml:3:56: layers.a.packages[3]: expected a string, got integer 3",
    ]
