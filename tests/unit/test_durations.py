import pytest

from runner.model.durations import parse_duration


@pytest.mark.parametrize("text,seconds", [(30, 30.0), (1.5, 1.5), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0),
                                          ("90", 90.0), (" 2m ", 120.0), ("0.5m", 30.0)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", [-1, True, "5 minutes", "m", "", None, [1]])
def test_bad_durations_say_what_is_accepted(bad):
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(bad)
