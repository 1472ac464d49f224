"""``--shard I/N`` through the command line and the Session, without Docker.

The instances are static ones on 127.0.0.1 at port 9, where nothing listens: the
provider sees them connection_lost, so a run reaches no host, and its report
still says which instances the shard picked.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from runner.api import Session, UserError
from runner.cli.main import build_parser, main
from runner.model.shard import Shard
from runner.plugin.registry import Registry

NAMES = [f"web{n}" for n in range(1, 11)]  # in shards 2 2 2 2 2 2 1 0 0 1 of 3


def stack_text(names=NAMES, strategy: str = "all_at_once") -> str:
    instances = "\n".join(f"  {n}: {{layers: [web], address: 127.0.0.1, port: 9}}" for n in names)
    return textwrap.dedent("""\
        stack:
          name: shardtest
          provider: static
          ssh: {user: root, host_key_policy: "off", connect_timeout: 2}
        layers:
          web: {}
        instances:
        """) + instances + textwrap.dedent(f"""
        apps:
          site:
            layers: [web]
            source: {{type: directory, path: .}}
            deploy: {{strategy: {strategy}}}
        """)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yml").write_text(stack_text())
    return tmp_path


FLEET_COMMANDS = [["converge"], ["setup"], ["configure"], ["execute-recipes", "web"], ["plan"],
                  ["install-dependencies"], ["update-dependencies"], ["deploy", "site"], ["rollback", "site"],
                  ["undeploy", "site"], ["history", "site"], ["status"], ["instances"], ["instances", "start"],
                  ["watch"]]


@pytest.mark.parametrize("argv", FLEET_COMMANDS, ids=lambda a: " ".join(a))
def test_every_fleet_command_takes_shard(argv):
    assert build_parser(Registry.load([])).parse_args([*argv, "--shard", "1/3"]).shard == "1/3"


@pytest.mark.parametrize("argv", [["validate"], ["plugins"], ["cookbooks", "list"], ["secrets", "check"],
                                  ["import", "opsworks", "x.json"], ["events"], ["update-cookbooks"]],
                         ids=lambda a: " ".join(a))
def test_commands_on_no_host_do_not(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser(Registry.load([])).parse_args([*argv, "--shard", "0/2"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --shard" in capsys.readouterr().err


@pytest.mark.parametrize("value, says", [("3/3", "0-based, so it goes from 0 to 2"), ("a/b", "not a whole number"),
                                         ("0/0", "cannot be split in 0 shards"), ("-1/2", "not a whole number"),
                                         ("/2", "$JOB_COMPLETION_INDEX")])
def test_a_bad_shard_is_exit_2_without_a_traceback(project, capsys, value, says):
    assert main(["converge", f"--shard={value}"]) == 2  # = : argparse takes -1/2 for an option otherwise
    err = capsys.readouterr().err
    assert f"--shard {value!r}" in err and says in err and "Traceback" not in err


def test_converge_on_a_shard_runs_on_its_instances_only(project, capsys):
    for index in range(3):
        picked = Shard(index, 3).pick(NAMES)
        assert main(["converge", "--format", "json", "--shard", f"{index}/3"]) == 1  # port 9: every host fails
        captured = capsys.readouterr()
        report = json.loads(captured.out)
        assert [h["host"] for h in report["hosts"]] == picked
        assert report["shard"] == {"index": index, "count": 3, "selected": len(picked), "total": len(NAMES)}
        assert f"shard {index}/3: {len(picked)} of 10 instances" in captured.err  # the live line


def test_the_shard_splits_what_layer_and_instance_selected(project, capsys):
    assert main(["converge", "--shard", "1/2", "--instance", "web2", "--instance", "web3", "--instance", "web1"]) == 1
    out = capsys.readouterr().out
    picked = Shard(1, 2).pick(["web1", "web2", "web3"])  # stack order, then the shard
    assert f"shard 1/2: {len(picked)} of 3 instances" in out
    assert all((f"\n{n} " in out) == (n in picked) for n in NAMES)


def test_a_shard_that_selects_none_has_nothing_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yml").write_text(stack_text(["web1"]))
    empty = next(i for i in range(4) if not Shard(i, 4).holds("web1"))
    for argv in (["converge"], ["status"], ["update-dependencies"], ["deploy", "site"], ["history", "site"],
                 ["undeploy", "site"], ["instances", "stop", "--no-lifecycle"]):
        assert main([*argv, "--shard", f"{empty}/4"]) == 0, argv
        captured = capsys.readouterr()
        assert f"shard {empty}/4 selects none of the 1 instance: nothing to do" in captured.out + captured.err, argv
    assert main(["deploy", "site", "--shard", f"{empty}/4", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["hosts"] == [] and report["shard"]["selected"] == 0


@pytest.mark.parametrize("argv, says", [
    (["deploy", "site", "--strategy", "rolling"], "deploy with strategy 'rolling' cannot run on a shard"),
    (["deploy", "site", "--strategy", "blue_green"], "deploy with strategy 'blue_green' cannot run on a shard"),
    (["rollback", "site", "--strategy", "rolling"], "rollback with strategy 'rolling' cannot run on a shard"),
    (["instances", "start"], "instances start cannot run on a shard: it ends with a converge"),
    (["instances", "stop"], "instances stop cannot run on a shard: it ends with a configure"),
    (["instances", "destroy"], "instances destroy cannot run on a shard"),
    (["watch", "--once"], "watch cannot run on a shard"),
])
def test_commands_that_need_the_whole_fleet_refuse_a_shard(project, capsys, argv, says):
    assert main([*argv, "--shard", "0/2"]) == 2
    err = capsys.readouterr().err
    assert f"--shard 0/2: {says}" in err and "Traceback" not in err
    assert "hint:" in err or "without --shard" in err


def test_the_strategy_of_the_stack_file_is_refused_too(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yml").write_text(stack_text(strategy="rolling"))
    assert main(["deploy", "site", "--shard", "0/2"]) == 2
    assert "strategy 'rolling' cannot run on a shard" in capsys.readouterr().err
    assert main(["deploy", "site", "--shard", "0/2", "--strategy", "all_at_once", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [h["host"] for h in report["hosts"]] == Shard(0, 2).pick(NAMES)


def test_instances_without_lifecycle_take_a_shard(project, capsys):
    assert main(["instances", "start", "--no-lifecycle", "--shard", "1/2", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["instance"] for r in report["instances"]] == Shard(1, 2).pick(NAMES) and report["events"] == []
    assert main(["instances", "--shard", "1/2"]) == 0  # list
    captured = capsys.readouterr()
    assert f"shard 1/2: {len(Shard(1, 2).pick(NAMES))} of 10 instances" in captured.err


def test_without_shard_the_json_is_unchanged(project, capsys):
    assert main(["converge", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert "shard" not in report and [h["host"] for h in report["hosts"]] == NAMES


def test_the_session_takes_a_shard_or_its_text(project):
    with Session.open("stack.yml", shard="2/3") as session:
        assert session.shard == Shard(2, 3)
        assert session.select() == Shard(2, 3).pick(NAMES)
        assert session.chosen() == NAMES
    with Session.open("stack.yml", shard=Shard(0, 1)) as session:
        assert session.select(layers=["web"]) == NAMES
    with pytest.raises(UserError, match="0-based"):
        Session.open("stack.yml", shard="3/3")


def test_the_session_refuses_what_needs_the_whole_fleet(project):
    with Session.open("stack.yml", shard="0/2") as session:
        with pytest.raises(UserError, match="strategy 'rolling' cannot run on a shard"):
            session.deploy("site", strategy="rolling")
        with pytest.raises(UserError, match="instances stop cannot run on a shard"):
            session.instances_stop()
        with pytest.raises(UserError, match="watch cannot run on a shard"):
            session.watch(once=True)
        report = session.instances_start(lifecycle=False)
        assert [r.instance for r in report.instances] == Shard(0, 2).pick(NAMES)
        assert report.shard is not None and report.shard.total == len(NAMES)
