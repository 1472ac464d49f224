"""Merging the hosts' deployments.log lines into one row per deployment."""

import json

from runner.api.deploys import merge_history


def line(**entry):
    return json.dumps(entry)


def test_rows_group_by_deployment_and_say_where_it_failed():
    a = "\n".join([
        line(deployment="d1", time="2026-01-01T00:00:02+00:00", command="deploy", release="r1", revision="abc",
             host="app1", result="ok"),
        line(deployment="d2", time="2026-01-02T00:00:00+00:00", command="rollback", release="r0", host="app1",
             result="ok"),
        "not json",
        "",
    ])
    b = "\n".join([
        line(deployment="d1", time="2026-01-01T00:00:01+00:00", command="deploy", release="r1", revision="abc",
             host="app2", result="failed"),
        json.dumps(["a list"]),
    ])
    rows = merge_history({"app1": a, "app2": b})
    assert [(r["command"], r["release"], r["hosts"], r["result"]) for r in rows] == [
        ("deploy", "r1", ["app1", "app2"], "failed on app2"),
        ("rollback", "r0", ["app1"], "ok"),
    ]
    assert rows[0]["time"] == "2026-01-01T00:00:01+00:00" and rows[0]["revision"] == "abc"


def test_no_history():
    assert merge_history({"app1": "", "app2": ""}) == []


def test_runs_within_one_second_keep_the_order_of_the_log():
    same = "2026-01-01T00:00:05+00:00"
    log = "\n".join([
        line(deployment="zzz", time=same, command="deploy", release="r1", host="app1", result="ok"),
        line(deployment="aaa", time=same, command="undeploy", host="app1", result="ok"),
    ])
    assert [r["command"] for r in merge_history({"app1": log})] == ["deploy", "undeploy"]
