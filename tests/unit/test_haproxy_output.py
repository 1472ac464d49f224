"""Parsing HAProxy's runtime API answers (`show servers state`, `show stat`), from real HAProxy 2.6 output."""

import pytest

from runner.balancers.api import DRAIN, MAINT, READY, worst
from runner.balancers.haproxy_output import OutputError, is_up, parse_servers_state, parse_stat
from runner.balancers.haproxy_runtime import MARKER, checked_name, remote_command, split_answers

STATE_HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
    "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
    "srv_check_addr srv_agent_addr srv_agent_port"
)
SERVERS_STATE = f"""1
{STATE_HEADER}
3 app 1 app1 10.0.0.1 2 8 1 1 0 6 3 4 6 0 0 0 - 8080 - 0 0 - - 0
3 app 2 app2 10.0.0.2 0 1 1 1 0 1 0 0 0 0 0 0 - 8080 - 0 0 - - 0
3 app 3 app3 10.0.0.3 2 0 1 1 0 6 3 4 6 0 0 0 - 8080 - 0 0 - - 0
3 app 4 app4 10.0.0.4 2 4 1 1 0 6 3 4 6 0 0 0 - 8080 - 0 0 - - 0
4 other 1 o1 10.0.0.9 2 16 1 1 0 6 3 4 6 0 0 0 - 8080 - 0 0 - - 0

"""

STAT_HEADER = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,"
               "status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,"
               "type,rate,rate_lim,rate_max,check_status,check_code,check_duration")
STAT = f"""{STAT_HEADER}
www,FRONTEND,,,3,5,2048,10,,,,,,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,
app,app1,0,0,2,2,,7,0,0,,0,,0,0,0,0,DRAIN,1,1,0,0,0,1,0,,1,3,1,,0,,2,0,,0,L4OK,,0
app,app2,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,,,1,,,1,3,2,,0,,2,0,,0,,,
app,app3,0,0,1,1,,3,0,0,,0,,0,0,0,0,UP 1/3,1,1,0,0,0,1,0,,1,3,3,,0,,2,0,,0,L7OK,200,1
app,app4,0,0,,0,,3,0,0,,0,,0,0,0,0,DOWN,1,1,0,0,0,1,0,,1,3,4,,0,,2,0,,0,L4CON,,1
app,BACKEND,0,0,3,3,,10,0,0,0,0,,0,0,0,0,UP,2,2,0,,0,1,0,,1,3,0,,7,,1,0,,1,,,

"""


def test_servers_state_lines() -> None:
    servers = {(s.backend, s.server): s for s in parse_servers_state(SERVERS_STATE)}
    assert {k: (s.admin, s.running, s.address) for k, s in servers.items()} == {
        ("app", "app1"): (DRAIN, True, "10.0.0.1"),  # 0x08: forced drain
        ("app", "app2"): (MAINT, False, "10.0.0.2"),  # 0x01: forced maintenance
        ("app", "app3"): (READY, True, "10.0.0.3"),
        ("app", "app4"): (MAINT, True, "10.0.0.4"),  # 0x04: disabled in the config
        ("other", "o1"): (DRAIN, True, "10.0.0.9"),  # 0x10: drain inherited from a tracked server
    }


def test_servers_state_of_an_empty_backend() -> None:
    assert parse_servers_state(f"1\n{STATE_HEADER}\n\n") == []


@pytest.mark.parametrize("text", [
    "Can't find backend.\n\n",
    "No such proxy.\n",
    "",
    f"1\n{STATE_HEADER}\n3 app 1 app1 10.0.0.1 two 8\n",
    "1\n# be_id be_name srv_id\n3 app 1\n",
])
def test_servers_state_errors(text) -> None:
    with pytest.raises(OutputError):
        parse_servers_state(text)


def test_stat_rows_of_servers_only() -> None:
    rows = {s.server: (s.backend, s.sessions, s.status) for s in parse_stat(STAT)}
    assert rows == {"app1": ("app", 2, "DRAIN"), "app2": ("app", 0, "MAINT"),
                    "app3": ("app", 1, "UP 1/3"), "app4": ("app", 0, "DOWN")}


@pytest.mark.parametrize("text", ["No such proxy.\n\n", "", "# pxname,svname\napp,app1\n",
                                  f"{STAT_HEADER}\napp,app1,0,0,many,0,,0,0,0,,0,,0,0,0,0,UP,1\n"])
def test_stat_errors(text) -> None:
    with pytest.raises(OutputError):
        parse_stat(text)


@pytest.mark.parametrize("status, up", [
    ("UP", True), ("UP 1/3", True), ("DRAIN", True), ("NOLB", True),
    ("DOWN", False), ("DOWN 1/2", False), ("MAINT", None), ("MAINT (via app/x)", None), ("no check", None), ("", None),
])
def test_is_up(status, up) -> None:
    assert is_up(status) is up


@pytest.mark.parametrize("states, expected", [
    ([READY, READY], READY), ([READY, DRAIN], DRAIN), ([DRAIN, MAINT, READY], MAINT), ([], MAINT),
])
def test_worst_state_wins(states, expected) -> None:
    assert worst(states) == expected


def test_answers_are_split_by_marker() -> None:
    text = f"{MARKER}\n\n{MARKER}\nNo such server.\n\n"
    assert split_answers(text, 2) == ["\n", "No such server.\n\n"]
    with pytest.raises(ValueError):
        split_answers(text, 3)


def test_remote_command_quotes_every_argument() -> None:
    command = remote_command("/run/a b.sock", ["set server app/app1 state drain"])
    assert "'/run/a b.sock'" in command and "'set server app/app1 state drain'" in command
    assert command.startswith("sh -c '")


@pytest.mark.parametrize("name", ["app1", "web-a", "a.b:c_d"])
def test_good_names(name) -> None:
    assert checked_name(name, "server") == name


@pytest.mark.parametrize("name", ["", "app1;shutdown sessions server app/app2", "a b", "a/b", "ä"])
def test_bad_names(name) -> None:
    from runner.balancers.api import BalancerError

    with pytest.raises(BalancerError):
        checked_name(name, "server")
