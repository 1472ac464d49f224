"""layers.<name>.auto_healing: true, false or {after: DURATION}; what it builds and every error with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import UserErrors
from runner.model.loader import load_stack

HEAD = "stack: {name: s, provider: docker}\nlayers:\n  app:\n"


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def layer(setting: str):
    Path("stack.yml").write_text(HEAD + f"    auto_healing: {setting}\n")
    return load_stack("stack.yml").layers["app"]


def errors_of(setting: str) -> list[str]:
    with pytest.raises(UserErrors) as info:
        layer(setting)
    return [str(e) for e in info.value.errors]


GOOD = {
    "true": ("true", True, 300.0),
    "false": ("false", False, 300.0),
    "after minutes": ("{after: 5m}", True, 300.0),
    "after seconds string": ("{after: 30s}", True, 30.0),
    "after an hour": ("{after: 1h}", True, 3600.0),
    "after a number": ("{after: 90}", True, 90.0),
    "after zero": ("{after: 0}", True, 0.0),
    "block form": ("\n      after: 2m", True, 120.0),
}


@pytest.mark.parametrize("setting, on, after", list(GOOD.values()), ids=list(GOOD))
def test_auto_healing_settings(in_tmp, setting, on, after):
    app = layer(setting)
    assert (app.auto_healing, app.auto_healing_after) == (on, after)


def test_without_auto_healing_it_is_off_with_opsworks_wait(in_tmp):
    Path("stack.yml").write_text(HEAD + "    packages: [curl]\n")
    app = load_stack("stack.yml").layers["app"]
    assert (app.auto_healing, app.auto_healing_after) == (False, 300.0)


BAD = {
    "a string": ("yes please", "4:19: layers.app.auto_healing: expected true, false or {after: DURATION},"
                 " got string 'yes please'"),
    "a number": ("5", "4:19: layers.app.auto_healing: expected true, false or {after: DURATION}, got integer 5"),
    "unknown key": ("{after: 5m, afterr: 1}", "4:31: layers.app.auto_healing: unknown key 'afterr'"
                    " (did you mean 'after'?)"),
    "no after": ("{}", "4:5: layers.app.auto_healing: missing required key 'after'"),
    "bad duration": ("{after: 5x}", "4:27: layers.app.auto_healing.after: '5x' is not a duration: write seconds"
                     " or a string like 30s, 5m, 1h"),
    "negative": ("{after: -10}", "4:27: layers.app.auto_healing.after: a duration cannot be negative (-10)"),
    "boolean after": ("{after: true}", "4:27: layers.app.auto_healing.after: a duration is a number of seconds"
                      " or a string like 30s, 5m, 1h, not a boolean"),
}


@pytest.mark.parametrize("setting, expected", list(BAD.values()), ids=list(BAD))
def test_auto_healing_errors(in_tmp, setting, expected):
    assert errors_of(setting) == [f"stack.yml:{expected}"]


def test_runner_validate_reports_a_bad_auto_healing_and_exits_2(in_tmp, capsys):
    from runner.cli.main import main

    Path("stack.yml").write_text(HEAD + "    auto_healing: {after: soon}\n")
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "stack.yml:4:27: layers.app.auto_healing.after: 'soon' is not a duration" in err
    assert "Traceback" not in err


def test_runner_validate_accepts_auto_healing_settings(in_tmp, capsys):
    from runner.cli.main import main

    Path("stack.yml").write_text(HEAD + "    auto_healing: {after: 10m}\n  db: {auto_healing: true}\n")
    assert main(["validate"]) == 0, capsys.readouterr().err
