"""The ``runner`` command: build the parser from the registry, run one command.

Exit codes: 0 all went well, 1 some host failed, 2 bad input (a
:class:`UserError`, printed as ``file:line:col: message`` without a
traceback), 3 a bug in runner or a plugin (the traceback is kept).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from runner import __version__
from runner.cli.api import Command, CommandContext
from runner.cli.options import add_stack_options
from runner.errors import RunnerError, UserError
from runner.model.redact import Redactor
from runner.plugin.manager import disabled_from_env
from runner.plugin.registry import Registry

EXIT_BUG = 3


def split_plugin_flags(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Take ``-p no:NAME`` / ``-pno:NAME`` out of argv before the parser exists.

    Plugins add commands, so the plugins to block must be known before the
    parser is built. Returns (names to disable, the remaining argv).
    """
    disabled: list[str] = []
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        value = None
        if arg == "-p" and i + 1 < len(args):
            value, i = args[i + 1], i + 2
        elif arg.startswith("-p") and arg != "-p" and not arg.startswith("--"):
            value, i = arg[2:], i + 1
        else:
            rest.append(arg)
            i += 1
            continue
        if not value.startswith("no:") or not value[3:]:
            raise UserError(f"-p {value}: expected -p no:NAME to disable the plugin NAME")
        disabled.append(value[3:])
    return disabled, rest


VERBOSE_HELP = "show more (every remote command with -v)"
PLUGIN_FLAG_HELP = "disable the plugin NAME (repeatable)"
_VERBOSE_AFTER = "_verbose_after"  # -v given after the command, added to the count before it


class RunnerParser(argparse.ArgumentParser):
    """The top-level parser: ``-v`` counts wherever it stands (``runner -v deploy app -v`` is ``-vv``)."""

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
                         ) -> tuple[argparse.Namespace, list[str]]:
        parsed, rest = super().parse_known_args(args, namespace)
        parsed.verbose = getattr(parsed, "verbose", 0) + vars(parsed).pop(_VERBOSE_AFTER, 0)
        return parsed, rest


def add_global_options_after(parser: argparse.ArgumentParser) -> None:
    """The global -v and -p also after the command (``runner deploy app -v``), as the README says.

    ``-p`` is taken out of argv before parsing (:func:`split_plugin_flags`); it is declared here
    only so the command's help shows it.
    """
    parser.add_argument("-v", "--verbose", dest=_VERBOSE_AFTER, action="count", default=argparse.SUPPRESS,
                        help=VERBOSE_HELP)
    parser.add_argument("-p", dest="_plugin_flag", metavar="no:NAME", default=argparse.SUPPRESS,
                        help=PLUGIN_FLAG_HELP)


def build_parser(registry: Registry) -> argparse.ArgumentParser:
    parser = RunnerParser(
        prog="runner",
        description="Agentless configuration management and deployment over SSH.",
    )
    parser.add_argument("--version", action="version", version=f"runner {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    parser.add_argument("-p", dest="_plugin_flag", metavar="no:NAME", help=PLUGIN_FLAG_HELP)
    parser.add_argument("-f", "--file", default="stack.yml", help="the stack file (default: ./stack.yml)")
    registry.pm.hook.runner_add_options(parser=parser)
    # plain parsers for the commands: only the top-level one folds the -v counts
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser)
    for name in sorted(registry.commands):
        command: Command = registry.commands[name]  # what plugins' runner_commands returned
        cmd_parser = sub.add_parser(name, help=command.help, description=command.help)
        add_global_options_after(cmd_parser)
        if command.stack_options:
            add_stack_options(cmd_parser)
        command.add_arguments(cmd_parser)
        cmd_parser.set_defaults(_command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        disabled, argv = split_plugin_flags(argv)
        registry = Registry.load(disabled_from_env() + disabled)
        parser = build_parser(registry)
        args = parser.parse_args(argv)
        if not getattr(args, "_command", None):
            parser.print_help(sys.stderr)
            return 2
        return args._command.run(args, CommandContext(registry=registry, out=sys.stdout, err=sys.stderr))
    except UserError as exc:
        print(_masked(f"runner: {exc}" if exc.location is None else str(exc)), file=sys.stderr)
        return exc.exit_code
    except RunnerError as exc:  # on purpose, not the user's input (a host, a cloud): exit 1, no traceback
        print(_masked(f"runner: {exc}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        from runner.cli.render import interrupted_message  # here: render's imports are not needed to start

        print(interrupted_message(exc), file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception:
        sys.stderr.write(_masked(traceback.format_exc()))
        print(
            "runner: internal error: this is a bug in runner or in a plugin; "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG


def _masked(text: str) -> str:
    """``text`` with every value decrypted in this run hidden: the last resort for messages and
    tracebacks that quote a value (a bug's exception message may hold anything)."""
    from runner.secrets.reveal import revealed  # here: only a run that decrypted something has any

    return Redactor(revealed())(text)
