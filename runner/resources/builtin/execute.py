"""``execute``: run a shell command.

Like Chef, an ``execute`` without a guard runs on every converge; ``creates``
(a path) makes it run only until that path exists (checked in the probe and
again in the step), and ``only_if`` / ``not_if`` are the engine's. With
``action="nothing"`` it only runs when notified (``action_step("run")``).
The command's output is the step's output, shown when it fails.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.resources.api import Change, Resource, ResourceError, Step
from runner.resources.builtin.shell import UNCHANGED, check_account, check_path, fail, flag, parse_kv, q

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ExecuteState:
    creates_exists: bool | None = None  # None: no ``creates`` (or the probe said nothing)


class Execute(Resource):
    probe_isolated = False  # its probe neither exits nor changes directory
    type_name = "execute"
    actions = ("run", "nothing")
    default_action = "run"
    properties: ClassVar[dict[str, Any]] = {"command": None, "cwd": None, "environment": None, "user": None,
                                            "creates": None, "returns": (0,)}

    def validate(self) -> None:
        command = self.name if self.args["command"] is None else self.args["command"]
        if not isinstance(command, str) or not command.strip():
            raise ResourceError(f"{self.key}: command must be a non-empty string")
        self.command = command
        cwd, creates, user = self.args["cwd"], self.args["creates"], self.args["user"]
        self.cwd = None if cwd is None else check_path(cwd, self.key, "cwd")
        self.creates = None if creates is None else check_path(creates, self.key, "creates")
        self.user = None if user is None else check_account(user, self.key, "user")
        env = self.args["environment"] or {}
        if not isinstance(env, Mapping):
            raise ResourceError(f"{self.key}: environment must be a mapping of names to strings")
        for key, value in env.items():
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                raise ResourceError(f"{self.key}: environment variable name {key!r} is not valid")
            if not isinstance(value, (str, int, float)) or isinstance(value, bool) or "\0" in str(value):
                raise ResourceError(f"{self.key}: environment[{key!r}] must be a string, got {value!r}")
        self.environment = {k: str(v) for k, v in env.items()}
        returns = self.args["returns"]
        codes = (returns,) if isinstance(returns, int) else returns
        if (not isinstance(codes, (tuple, list)) or not codes
                or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in codes)):
            raise ResourceError(f"{self.key}: returns must be an exit code (0-255) or a list of them, got {returns!r}")
        self.returns = tuple(codes)

    def probe(self) -> str:
        if self.creates is None:
            return ":"
        return f"if [ -e {q(self.creates)} ]; then echo creates=1; else echo creates=0; fi"

    def parse(self, output: str) -> ExecuteState:
        return ExecuteState(flag(parse_kv(output), "creates") if self.creates is not None else None)

    def diff(self, state: ExecuteState) -> list[Change]:
        if "nothing" in self.action or state.creates_exists:
            return []
        return [Change("run")]

    def apply(self, state: ExecuteState, changes: list[Change]) -> Step:
        return self._run_step()

    def action_step(self, action: str) -> Step:
        if action != "run":
            return super().action_step(action)
        return self._run_step()

    def _run_step(self) -> Step:
        # the environment is exported by the shell (a builtin), never given on a command line, where
        # `ps` would show its values (runuser and su keep it, setting only HOME, SHELL, USER, LOGNAME)
        exports = "".join(f"export {k}={q(v)}; " for k, v in self.environment.items())
        inner = shlex.join(["sh", "-c", self.command])
        if self.user is None:
            run = f"( {exports}exec {inner} )" if exports else inner
        else:
            user = q(self.user)
            run = (f"( {exports}if command -v runuser >/dev/null 2>&1; then exec runuser -u {user} -- {inner}; "
                   f"else exec su -s /bin/sh -c {q(inner)} {user}; fi )")
        accepted = "|".join(str(c) for c in self.returns)
        lines = []
        if self.creates is not None:
            lines.append(f"if [ -e {q(self.creates)} ]; then {UNCHANGED}; exit 0; fi")
        if self.cwd is not None:
            lines.append(f"cd -- {q(self.cwd)} || {fail(f'{self.key}: cannot change to directory {self.cwd}')}")
        lines += [
            "runner_rc=0",
            f"{run} || runner_rc=$?",
            "case $runner_rc in",
            f"  {accepted}) exit 0 ;;",
            f"  *) printf '%s\\n' {q(self.key + ': exited with status ')}\"$runner_rc\""
            f"{q(', expected ' + ' or '.join(str(c) for c in self.returns))} >&2",
            "     [ \"$runner_rc\" -ne 0 ] || runner_rc=1; exit \"$runner_rc\" ;;",
            "esac",
        ]
        return Step("\n".join(lines))
