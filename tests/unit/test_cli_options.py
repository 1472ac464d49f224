"""Command-line options: where the global ones may stand, and --parallel's range."""

import textwrap

import pytest

from runner.cli.main import build_parser, main
from runner.plugin.registry import Registry

STACK = """\
stack: {name: opts, provider: docker}
layers:
  app: {}
apps:
  hello:
    layers: [app]
    source: {type: directory, path: .}
"""


@pytest.fixture
def parser():
    return build_parser(Registry.load([]))


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yml").write_text(textwrap.dedent(STACK))
    return tmp_path


@pytest.mark.parametrize("argv, verbose", [
    (["deploy", "hello", "-v"], 1),
    (["deploy", "hello", "--verbose"], 1),
    (["-v", "deploy", "hello", "-vv"], 3),
    (["-v", "converge"], 1),
    (["status"], 0),
    (["plugins", "-v"], 1),
])
def test_verbose_before_and_after_the_command(parser, argv, verbose):
    assert parser.parse_args(argv).verbose == verbose


def test_file_before_or_after_the_command(parser):
    assert parser.parse_args(["deploy", "hello", "-f", "b.yml"]).file == "b.yml"
    assert parser.parse_args(["-f", "a.yml", "deploy", "hello"]).file == "a.yml"


def test_validate_takes_verbose_after_the_command(project, capsys):
    assert main(["validate", "-v"]) == 0
    assert "stack.yml: ok" in capsys.readouterr().out


def test_plugin_flag_after_the_command(project, capsys):
    assert main(["plugins", "-p", "no:haproxy"]) == 0
    out = capsys.readouterr().out
    assert "haproxy" not in out and "strategies" in out


@pytest.mark.parametrize("value", ["0", "-5"])
def test_parallel_below_one_is_a_usage_error_on_the_option(project, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        main(["deploy", "hello", "--parallel", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument --parallel: must be 1 or more, got {value}" in err and "Traceback" not in err


def test_parallel_not_a_number_is_a_usage_error(project, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["converge", "--parallel", "many"])
    assert exit_.value.code == 2
    assert "error: argument --parallel: expected a whole number, got 'many'" in capsys.readouterr().err
