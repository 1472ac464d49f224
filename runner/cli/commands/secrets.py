"""``runner secrets keygen|encrypt|edit|rekey|check``: age-encrypted values in the stack's files.

The work is :mod:`runner.secrets.actions`'; here are the arguments, the prompt and the printing.
No output of these commands holds a plaintext.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import IO

from runner import hookimpl
from runner.cli.api import Command, CommandContext
from runner.cli.options import count
from runner.errors import UserError
from runner.secrets import actions, age, files
from runner.secrets.yamltext import render_block, render_flow


def _add_file(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: `runner -f x.yml secrets check` and `runner secrets check -f x.yml` both work
    parser.add_argument("-f", "--file", default=argparse.SUPPRESS, help="the stack file (default: ./stack.yml)")


class SecretsCommand(Command):
    name = "secrets"
    help = "age-encrypted values in stack.yml: keygen, encrypt, edit, rekey, check"
    stack_options = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="secrets_action", metavar="ACTION", required=True)
        keygen = sub.add_parser("keygen", help="write a new age identity (0600) and print its public key")
        keygen.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                            help=f"where (default: ${age.KEY_FILE_ENV}, else {age.DEFAULT_KEY_FILE})")
        keygen.add_argument("--force", action="store_true", help="replace an existing identity file")
        encrypt = sub.add_parser("encrypt", help="encrypt a value read on stdin (or prompted for) and print "
                                                 "the !encrypted YAML to paste")
        _add_file(encrypt)
        encrypt.add_argument("-r", "--recipient", action="append", default=[], metavar="AGE1...",
                             help="also encrypt to this public key (repeatable)")
        encrypt.add_argument("--indent", type=count, default=2, metavar="N",
                             help="indent the armored lines by N spaces, more than the key's (default 2)")
        encrypt.add_argument("--inline", action="store_true",
                             help='one line, !encrypted "...": fits anywhere, {...} included')
        edit = sub.add_parser("edit", help="decrypt a value into $EDITOR, then encrypt it again in place")
        _add_file(edit)
        edit.add_argument("target", metavar="KEY.PATH",
                          help="e.g. apps.web.environment.DB_PASSWORD, stack.custom_json.api.token, "
                               "FILE.yml:key.path or cookbook:NAME/attributes/default.yml:key.path")
        rekey = sub.add_parser("rekey", help="encrypt every value again to the current stack.secrets.recipients")
        _add_file(rekey)
        check = sub.add_parser("check", help="check that every encrypted value decrypts with the identity at hand")
        _add_file(check)

    def run(self, args: argparse.Namespace, ctx: CommandContext) -> int:
        action = args.secrets_action
        if action == "keygen":
            return _keygen(args, ctx)
        if action == "encrypt":
            return _encrypt(args, ctx)
        identities = age.load_identities()
        if action == "edit":
            target, value, changed = actions.edit(args.file, args.target, identities)
            state = "re-encrypted" if changed else "unchanged: file left as it was"
            ctx.err.write(f"runner: {value.location}: {value.dotted}: {state}\n")
            return 0
        if action == "rekey":
            return _rekey(args, ctx, identities)
        return _check(args, ctx, identities)


def _keygen(args: argparse.Namespace, ctx: CommandContext) -> int:
    path = args.output.expanduser() if args.output is not None else files.identity_file()
    public = files.write_identity(path, force=args.force)
    ctx.out.write(public + "\n")
    ctx.err.write(f"runner: wrote a new age identity to {path} (mode 0600); share the public key above, "
                  "add it to stack.secrets.recipients and run runner secrets rekey\n")
    if os.environ.get(age.KEY_ENV, "").strip():
        ctx.err.write(f"runner: warning: ${age.KEY_ENV} is set and is used instead of any key file\n")
    return 0


def read_value(stdin: IO[str]) -> str:
    """The value to encrypt: stdin when it is not a terminal (without its final line break), else
    typed twice without echo."""
    if not stdin.isatty():
        text = stdin.read()
        return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    first = getpass.getpass("value to encrypt: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two entries differ: nothing encrypted")
    return first


def _encrypt(args: argparse.Namespace, ctx: CommandContext) -> int:
    recipients = actions.stack_recipients(args.file, args.recipient)  # before the prompt
    armored = actions.encrypt_value(read_value(sys.stdin), recipients)
    ctx.out.write((render_flow(armored) if args.inline else render_block(armored, args.indent)) + "\n")
    ctx.err.write(f"runner: encrypted for {len(recipients)} recipient(s); paste it as the key's value\n")
    return 0


def _rekey(args: argparse.Namespace, ctx: CommandContext, identities: age.Identities) -> int:
    written = actions.rekey(args.file, identities)
    recipients = actions.stack_recipients(args.file)
    for display, n in written:
        ctx.out.write(f"{display}: {n} value{'s' if n != 1 else ''} re-encrypted\n")
    if not written:
        ctx.out.write(f"{args.file}: no {age.TAG} values (nor in its includes and cookbook attributes)\n")
    else:
        ctx.err.write(f"runner: for {len(recipients)} recipient(s) of stack.secrets.recipients\n")
    return 0


def _check(args: argparse.Namespace, ctx: CommandContext, identities: age.Identities) -> int:
    results = actions.check(args.file, identities)
    failed = [r for r in results if r.problem is not None]
    for result in failed:
        ctx.out.write(f"{result.value.location}: {result.value.dotted}: {result.problem}\n")
    for display in dict.fromkeys(r.file for r in results):
        mine = [r for r in results if r.file == display]
        good = sum(1 for r in mine if r.problem is None)
        ctx.out.write(f"{display}: {good} of {len(mine)} value{'s' if len(mine) != 1 else ''} decrypt\n")
    if not results:
        ctx.out.write(f"{args.file}: no {age.TAG} values (nor in its includes and cookbook attributes)\n")
    if failed:
        ctx.err.write(f"runner: {len(failed)} of {len(results)} encrypted values cannot be decrypted "
                      f"(identities tried: {identities.describe()})\n")
        return 2
    return 0


@hookimpl
def runner_commands() -> list[Command]:
    return [SecretsCommand()]
