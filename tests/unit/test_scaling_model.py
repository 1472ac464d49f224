"""instances.<name>.schedule / scaling and layers.<name>.load_based: what they build and every error with its place."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.errors import UserErrors
from runner.model.loader import load_stack
from runner.model.stack import DOWN_DEFAULTS, UP_DEFAULTS, LoadBased, ScalingThresholds, Schedule

HEAD = """\
stack: {name: s, provider: docker}
layers:
  app:
    load_based: {up: {cpu: 80}, down: {cpu: 30}}
  db: {}
instances:
"""


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(text: str):
    Path("stack.yml").write_text(textwrap.dedent(text))
    return load_stack("stack.yml")


def errors_of(text: str) -> list[str]:
    with pytest.raises(UserErrors) as info:
        load(text)
    return [str(e) for e in info.value.errors]


def hours_of(schedule: Schedule) -> dict[int, set[int]]:
    return {day: set(hours) for day, hours in enumerate(schedule.days) if hours}


# -- schedules ---------------------------------------------------------------


@pytest.mark.parametrize("schedule, expected", [
    ('{Monday: {"9": on, "10": on}}', {0: {9, 10}}),  # OpsWorks' form, YAML 1.1 booleans
    ('{Monday: {"9": "on", "10": "off", "11": true, "12": false}}', {0: {9, 11}}),
    ('{Monday-Friday: "8-18"}', {d: set(range(8, 18)) for d in range(5)}),  # the end hour is excluded
    ('{Saturday: "8-12, 14-16", Sunday: 9}', {5: {8, 9, 10, 11, 14, 15}, 6: {9}}),
    ('{Friday-Monday: "0-24"}', {d: set(range(24)) for d in (4, 5, 6, 0)}),  # wraps past Sunday
    ('{Daily: "22-24"}', {d: {22, 23} for d in range(7)}),
    ('{monday: on, TUESDAY: "off", Wednesday: false}', {0: set(range(24))}),  # any case; a whole day
    ('{Monday: {"8-18": on, "12": off}}', {0: set(range(8, 18)) - {12}}),  # an off hour wins over a range
    ("{}", {}),
])
def test_schedules(in_tmp, schedule, expected):
    stack = load(HEAD + f"  web: {{layers: [db], schedule: {schedule}}}\n")
    web = stack.instances["web"]
    assert web.scaling == "time"
    assert hours_of(web.schedule) == expected


def test_an_instance_without_schedule_or_scaling_is_24_7(in_tmp):
    stack = load(HEAD + "  web: {layers: [db]}\n  w2: {layers: [app], scaling: 24/7}\n")
    assert [(i.scaling, i.schedule) for i in stack.instances.values()] == [("24/7", None), ("24/7", None)]


def test_scaling_time_with_a_schedule_and_load_instances(in_tmp):
    stack = load(HEAD + "  web: {layers: [db], scaling: time, schedule: {Monday: 9}}\n"
                 "  a1: {layers: [app], scaling: load}\n")
    assert stack.instances["web"].scaling == "time"
    assert stack.instances["a1"].scaling == "load"
    assert stack.instances["a1"].schedule is None


def test_schedule_block_around_an_hour():
    schedule = Schedule((frozenset(range(8, 18)),) + (frozenset(),) * 6)
    assert schedule.block(0, 9) == (8, 18)
    assert schedule.block(0, 20) == (18, 24)
    assert schedule.block(0, 3) == (0, 8)
    assert schedule.block(1, 12) == (0, 24)


SCHEDULE_ERRORS = {
    "unknown day": ('{Mondy: "8"}', '7:34: instances.web.schedule.Mondy: unknown day \'Mondy\''
                    " (did you mean 'Monday'?)"),
    "unknown day in a range": ('{Monday-Fryday: "8"}', "7:34: instances.web.schedule.Monday-Fryday: unknown day"
                               " 'Fryday' (did you mean 'Friday'?)"),
    "three days": ('{Monday-Tuesday-Friday: "8"}', "7:34: instances.web.schedule.Monday-Tuesday-Friday:"
                   " 'Monday-Tuesday-Friday' is not a day or a range of days (write 'Monday' or 'Monday-Friday')"),
    "a day twice": ('{Monday-Friday: "8-18", Tuesday: "9"}', "7:57: instances.web.schedule.Tuesday: Tuesday"
                    " already set by 'Monday-Friday' (give each day once)"),
    "hour out of range": ('{Monday: "25"}', "7:42: instances.web.schedule.Monday: hour 25 is out of range:"
                          " hours are 0 to 23 (write hours like '8-18' (08:00 to 18:00 UTC), '8-12, 14-18',"
                          " \"9\", or {\"9\": on, \"10\": on})"),
    "integer hour out of range": ("{Monday: 24}", "7:42: instances.web.schedule.Monday: hour 24 is out of range:"
                                  " hours are 0 to 23 (write hours like '8-18' (08:00 to 18:00 UTC), '8-12, 14-18',"
                                  " \"9\", or {\"9\": on, \"10\": on})"),
    "range past midnight": ('{Monday: "18-2"}', "7:42: instances.web.schedule.Monday: the range 18-2 ends before"
                            " it starts (a range ends at the hour it names: 18-24 is 18:00 to midnight; give a"
                            " night across midnight as the evening of one day and the morning of the next)"),
    "range end past 24": ('{Monday: "20-25"}', "7:42: instances.web.schedule.Monday: a range ends at hour 24 at"
                          " the latest, got 25 (24 is midnight at the end of the day)"),
    "not hours": ('{Monday: "mornings"}', "7:42: instances.web.schedule.Monday: 'mornings' is not an hour (0-23)"
                  " or a range of hours such as 8-18 (write hours like '8-18' (08:00 to 18:00 UTC), '8-12, 14-18',"
                  " \"9\", or {\"9\": on, \"10\": on})"),
    "one bad part": ('{Monday: "8-12, x"}', "7:42: instances.web.schedule.Monday: 'x' is not an hour (0-23) or a"
                     " range of hours such as 8-18 (write hours like '8-18' (08:00 to 18:00 UTC), '8-12, 14-18',"
                     " \"9\", or {\"9\": on, \"10\": on})"),
    "a list": ("{Monday: [8, 9]}", "7:42: instances.web.schedule.Monday: expected the day's on-hours (write hours"
               " like '8-18' (08:00 to 18:00 UTC), '8-12, 14-18', \"9\", or {\"9\": on, \"10\": on})"),
    "hour key out of range": ('{Monday: {"24": on}}', "7:43: instances.web.schedule.Monday.24: hour 24 is out of"
                              " range: hours are 0 to 23 (write hours like '8-18' (08:00 to 18:00 UTC), '8-12,"
                              " 14-18', \"9\", or {\"9\": on, \"10\": on})"),
    "hour switch": ('{Monday: {"9": maybe}}', "7:48: instances.web.schedule.Monday.9: expected on or off,"
                    " got string 'maybe'"),
    "not a mapping": ('"8-18"', "7:33: instances.web.schedule: expected a mapping, got string '8-18'"),
}


@pytest.mark.parametrize("schedule, expected", list(SCHEDULE_ERRORS.values()), ids=list(SCHEDULE_ERRORS))
def test_schedule_errors(in_tmp, schedule, expected):
    assert errors_of(HEAD + f"  web: {{layers: [db], schedule: {schedule}}}\n") == [f"stack.yml:{expected}"]


def test_an_unquoted_hour_key_is_a_yaml_key_error(in_tmp):
    """Hours are strings as in OpsWorks; the reader refuses non-string keys everywhere."""
    assert errors_of(HEAD + "  web: {layers: [db], schedule: {Monday: {9: on}}}\n") == [
        "stack.yml:7:43: mapping keys must be strings, got integer 9"]


SCALING_ERRORS = {
    "unknown scaling": ("{layers: [app], scaling: laod}", "7:33: instances.web.scaling: unknown scaling 'laod'"
                        " (did you mean 'load'?)"),
    "time without a schedule": ("{layers: [app], scaling: time}", "7:33: instances.web.scaling: scaling 'time'"
                                " needs a schedule (add a schedule in UTC hours, e.g. schedule:"
                                " {Monday-Friday: '8-18'})"),
    "load without load_based": ("{layers: [db], scaling: load}", "7:32: instances.web.scaling: scaling 'load'"
                                " needs one of the instance's layers to have load_based (add load_based to layer"
                                " 'db', e.g. load_based: {up: {cpu: 80}, down: {cpu: 30}})"),
    "load and a schedule": ("{layers: [app], scaling: load, schedule: {Monday: 9}}", "7:39: instances.web.schedule:"
                            " a schedule makes the instance time-based, but scaling says 'load' (remove the"
                            " schedule or the scaling key)"),
    "24/7 and a schedule": ("{layers: [app], scaling: 24/7, schedule: {Monday: 9}}", "7:39:"
                            " instances.web.schedule: a schedule makes the instance time-based, but scaling says"
                            " '24/7' (remove the schedule or the scaling key)"),
    "unknown instance key": ("{layers: [app], schedul: {}}", "7:24: instances.web: unknown key 'schedul'"
                             " (did you mean 'schedule'?)"),
}


@pytest.mark.parametrize("instance, expected", list(SCALING_ERRORS.values()), ids=list(SCALING_ERRORS))
def test_scaling_errors(in_tmp, instance, expected):
    assert errors_of(HEAD + f"  web: {instance}\n") == [f"stack.yml:{expected}"]


def test_load_instance_of_a_second_layer_with_load_based(in_tmp):
    stack = load(HEAD + "  a1: {layers: [db, app], scaling: load}\n")
    assert stack.instances["a1"].scaling == "load"


# -- load_based --------------------------------------------------------------

LAYER = """\
stack: {name: s, provider: docker}
layers:
  app:
    load_based:
"""


def test_load_based_reads_every_field(in_tmp):
    stack = load(LAYER + "      up: {instances: 2, cpu: -1, memory: 90, load: 4.5, thresholds_wait_time: 1m,"
                 " ignore_metrics_time: 30}\n"
                 "      down: {instances: 1, cpu: 20, memory: -1, thresholds_wait_time: 1h,"
                 " ignore_metrics_time: 10s}\n")
    assert stack.layers["app"].load_based == LoadBased(
        enable=True,
        up=ScalingThresholds(2, -1.0, 90.0, 4.5, 60.0, 30.0),
        down=ScalingThresholds(1, 20.0, -1.0, -1.0, 3600.0, 10.0),
    )
    assert stack.layers["app"].load_based.up.thresholds == {"memory": 90.0, "load": 4.5}


def test_load_based_defaults(in_tmp):
    stack = load(LAYER + "      enable: false\n")
    assert stack.layers["app"].load_based == LoadBased(False, UP_DEFAULTS, DOWN_DEFAULTS)
    assert UP_DEFAULTS.thresholds == {"cpu": 80.0} and DOWN_DEFAULTS.thresholds == {"cpu": 30.0}
    assert load(LAYER.replace("load_based:", "load_based: {}")).layers["app"].load_based == LoadBased()
    assert load("stack: {name: s, provider: docker}\nlayers: {app: {}}\n").layers["app"].load_based is None


LOAD_ERRORS = {
    "cpu above 100": ("up: {cpu: 150}", "5:17: layers.app.load_based.up.cpu: must be -1 (off) or a percentage"
                      " from 0 to 100, got 150"),
    "memory negative": ("down: {memory: -5}", "5:22: layers.app.load_based.down.memory: must be -1 (off) or a"
                        " percentage from 0 to 100, got -5"),
    "load negative": ("up: {load: -0.5}", "5:18: layers.app.load_based.up.load: must be -1 (off) or a load"
                      " average of 0 or more, got -0.5"),
    "cpu not a number": ("up: {cpu: high}", "5:17: layers.app.load_based.up.cpu: expected a number, got string"
                         " 'high'"),
    "count below 1": ("up: {instances: 0}", "5:23: layers.app.load_based.up.instances: must be at least 1, got 0"),
    "count not an integer": ("down: {instances: 1.5}", "5:25: layers.app.load_based.down.instances: expected an"
                             " integer, got number 1.5"),
    "bad duration": ("up: {thresholds_wait_time: 5x}", "5:34: layers.app.load_based.up.thresholds_wait_time: '5x'"
                     " is not a duration: write seconds or a string like 30s, 5m, 1h"),
    "negative duration": ("down: {ignore_metrics_time: -3}", "5:35: layers.app.load_based.down.ignore_metrics_time:"
                          " a duration cannot be negative (-3)"),
    "unknown key": ("enabel: true", "5:7: layers.app.load_based: unknown key 'enabel' (did you mean 'enable'?)"),
    "unknown threshold": ("up: {cpus: 80}", "5:12: layers.app.load_based.up: unknown key 'cpus' (did you mean"
                          " 'cpu'?)"),
    "enable not a boolean": ("enable: yes please", "5:15: layers.app.load_based.enable: expected a boolean (true or"
                             " false), got string 'yes please'"),
    "down not below up": ("down: {cpu: 85}", "5:19: layers.app.load_based.down.cpu: down.cpu (85) must be below"
                          " up.cpu (80) (otherwise the layer would start and stop instances in turn)"),
    "up not a mapping": ("up: 80", "5:11: layers.app.load_based.up: expected a mapping, got integer 80"),
}


@pytest.mark.parametrize("line, expected", list(LOAD_ERRORS.values()), ids=list(LOAD_ERRORS))
def test_load_based_errors(in_tmp, line, expected):
    assert errors_of(LAYER + f"      {line}\n") == [f"stack.yml:{expected}"]


def test_a_bad_threshold_is_not_compared_at_its_default(in_tmp):
    """up.cpu 150 is reported; down.cpu 85 is not also called 'not below the default 80'."""
    assert errors_of(LAYER + "      up: {cpu: 150}\n      down: {cpu: 85}\n") == [
        "stack.yml:5:17: layers.app.load_based.up.cpu: must be -1 (off) or a percentage from 0 to 100, got 150"]


def test_load_based_not_a_mapping(in_tmp):
    assert errors_of(LAYER.replace("load_based:", "load_based: on")) == [
        "stack.yml:4:17: layers.app.load_based: expected a mapping, got boolean true"]


def test_runner_validate_reports_every_scaling_error_and_exits_2(in_tmp, capsys):
    from runner.cli.main import main

    Path("stack.yml").write_text(HEAD + "  web: {layers: [db], schedule: {Sundy: '8-18'}}\n"
                                 "  l1: {layers: [db], scaling: load}\n")
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "stack.yml:7:34: instances.web.schedule.Sundy: unknown day 'Sundy' (did you mean 'Sunday'?)" in err
    assert "stack.yml:8:31: instances.l1.scaling: scaling 'load' needs one of the instance's layers" in err
    assert "Traceback" not in err


def test_runner_validate_accepts_scaling_settings(in_tmp, capsys):
    from runner.cli.main import main

    Path("stack.yml").write_text(HEAD + "  web: {layers: [db], schedule: {Monday-Friday: '8-18'}}\n"
                                 "  l1: {layers: [app], scaling: load}\n")
    assert main(["validate"]) == 0, capsys.readouterr().err
