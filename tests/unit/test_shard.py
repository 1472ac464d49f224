"""``--shard I/N``: parsing, and a split that is stable, complete, disjoint and even."""

from __future__ import annotations

import subprocess
import sys

import pytest

from runner.errors import UserError
from runner.model.shard import Shard, ShardSelection, shard_of

NAMES = ["app1", "app2", "app3", "app4", "app5", "app6", "lb1", "db1", "web-eu-1", "web-us-1",
         "worker_a", "worker_b", "h\u00f4te", "we ird 'q'"]

#: written down once (app1, app2, app3 and lb1 checked with sha256sum: the first 8 bytes of the digest,
#: big-endian, mod 4): a change of hash, byte order or modulus moves instances between the machines of
#: a fleet split by an older runner, so it must fail here first
EXPECTED_OF_4 = {"app1": 0, "app2": 1, "app3": 3, "app4": 3, "app5": 0, "app6": 1, "lb1": 1, "db1": 3,
                 "web-eu-1": 0, "web-us-1": 2, "worker_a": 2, "worker_b": 2, "h\u00f4te": 3, "we ird 'q'": 2}


@pytest.mark.parametrize("text, index, count", [("0/1", 0, 1), ("0/4", 0, 4), ("3/4", 3, 4), (" 2 / 5 ", 2, 5),
                                                ("07/10", 7, 10)])
def test_parse(text, index, count):
    assert Shard.parse(text) == Shard(index, count)


@pytest.mark.parametrize("text, says", [
    ("3/3", "the index is 0-based, so it goes from 0 to 2"),
    ("4/3", "the index is 0-based"),
    ("0/0", "cannot be split in 0 shards"),
    ("a/b", "the index 'a' is not a whole number"),
    ("1/b", "the count 'b' is not a whole number"),
    ("-1/2", "the index '-1' is not a whole number, 0 or more"),
    ("+1/2", "not a whole number"),
    ("1/-2", "the count '-2' is not a whole number"),
    ("1.0/2", "not a whole number"),
    ("\u00b2/3", "not a whole number"),
    ("1", "expected I/N such as 0/4"),
    ("", "expected I/N"),
    ("1/", "expected I/N"),
    ("/4", "is $JOB_COMPLETION_INDEX set?"),
    ("1/2/3", "the count '2/3' is not a whole number"),
])
def test_bad_shards_are_user_errors_that_say_why(text, says):
    with pytest.raises(UserError) as caught:
        Shard.parse(text)
    assert says in str(caught.value)
    assert caught.value.exit_code == 2
    assert "0 <= I < N" in (caught.value.hint or "")


@pytest.mark.parametrize("index, count", [(2, 2), (-1, 2), (0, 0), (True, 2)])
def test_bad_shards_built_in_python_are_user_errors(index, count):
    with pytest.raises(UserError):
        Shard(index, count)


def test_str_is_what_parse_reads():
    assert str(Shard(1, 4)) == "1/4" and Shard.parse(str(Shard(1, 4))) == Shard(1, 4)


def test_assignment_is_the_one_written_down():
    assert {n: shard_of(n, 4) for n in NAMES} == EXPECTED_OF_4
    assert all(shard_of(n, 1) == 0 for n in NAMES)


def test_assignment_is_the_same_in_another_process_with_another_hash_seed():
    code = ("from runner.model.shard import shard_of; import json; "
            f"print(json.dumps({{n: shard_of(n, 4) for n in {NAMES!r}}}))")
    for seed in ("1", "12345"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
        assert eval(out) == EXPECTED_OF_4  # noqa: S307 - our own JSON of str -> int


def test_assignment_depends_on_the_name_alone():
    picked = Shard(1, 4).pick(NAMES)
    assert Shard(1, 4).pick(list(reversed(NAMES))) == list(reversed(picked))  # order kept, same members
    assert Shard(1, 4).pick(NAMES[:5]) == [n for n in picked if n in NAMES[:5]]  # the others do not matter
    assert Shard(1, 4).pick([*NAMES, "new1", "new2"])[:len(picked)] == picked  # adding some moves none


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16])
def test_the_shards_cover_every_name_once(count):
    names = [f"i-{n:04d}" for n in range(300)] + NAMES
    parts = [Shard(i, count).pick(names) for i in range(count)]
    assert sorted(n for part in parts for n in part) == sorted(names)  # union: all, and no name twice
    for i, part in enumerate(parts):
        for other in parts[i + 1:]:
            assert not set(part) & set(other)


@pytest.mark.parametrize("count", [2, 4, 8, 10])
def test_the_split_is_roughly_even(count):
    names = [f"app-{n}" for n in range(1000)]
    sizes = [len(Shard(i, count).pick(names)) for i in range(count)]
    mean = len(names) / count
    assert all(abs(size - mean) <= 0.3 * mean for size in sizes), sizes


def test_selection_says_what_the_shard_picked():
    assert ShardSelection(Shard(1, 4), 13, 50).describe() == "shard 1/4: 13 of 50 instances"
    assert ShardSelection(Shard(3, 4), 0, 50).describe() == "shard 3/4 selects none of the 50 instances"
    assert ShardSelection(Shard(0, 2), 1, 1).describe() == "shard 0/2: 1 of 1 instance"
    assert ShardSelection(Shard(1, 4), 13, 50).to_dict() == {"index": 1, "count": 4, "selected": 13, "total": 50}
