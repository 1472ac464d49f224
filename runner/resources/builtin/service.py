"""``service``: a daemon, enabled at boot and running (or not).

The step finds the service manager when it runs: systemd when
``/run/systemd/system`` exists (``systemctl``), else sysvinit when
``/etc/init.d/NAME`` exists (``service``, ``update-rc.d`` or ``chkconfig``),
else the plain supervisor of :mod:`runner.resources.builtin.supervisor`
(containers without an init, like the Docker hosts of the tests).

``restart`` and ``reload`` are notification actions: declared as an action
they run on every converge, like in Chef.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from runner.resources.api import Change, Resource, ResourceError, Step
from runner.resources.builtin import supervisor
from runner.resources.builtin.shell import UNCHANGED, flag, parse_kv, q

_NAME = re.compile(r"^[A-Za-z0-9_.@:-]+$")

#: how each manager does each action; $runner_n is the service name
OPERATIONS: dict[str, dict[str, str]] = {
    "systemd": {
        "start": "runner_sd_reload_units; systemctl start \"$runner_n\"",
        "stop": "systemctl stop \"$runner_n\"",
        "restart": "runner_sd_reload_units; systemctl restart \"$runner_n\"",
        "reload": "runner_sd_reload_units; systemctl reload \"$runner_n\"",
        "enable": "systemctl enable \"$runner_n\"",
        "disable": "systemctl disable \"$runner_n\"",
    },
    "sysv": {
        "start": "service \"$runner_n\" status >/dev/null 2>&1 || service \"$runner_n\" start",
        "stop": "! service \"$runner_n\" status >/dev/null 2>&1 || service \"$runner_n\" stop",
        "restart": "service \"$runner_n\" restart",
        "reload": "service \"$runner_n\" reload",
        "enable": "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d \"$runner_n\" defaults && "
                  "update-rc.d \"$runner_n\" enable; else chkconfig \"$runner_n\" on; fi",
        "disable": "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d \"$runner_n\" disable; "
                   "else chkconfig \"$runner_n\" off; fi",
    },
    "supervisor": {
        "start": "runner_sv_start",
        "stop": "runner_sv_stop",
        "restart": "runner_sv_stop && runner_sv_start",
        "reload": "runner_sv_reload",
        "enable": "runner_sv_enable",
        "disable": "runner_sv_disable",
    },
}

DETECT = (
    "if [ -d /run/systemd/system ]; then runner_kind=systemd\n"
    "elif [ -f \"/etc/init.d/$runner_n\" ]; then runner_kind=sysv\n"
    "else runner_kind=supervisor\n"
    "fi\n"
    "runner_sd_reload_units() {\n"
    "  [ \"$(systemctl show -p NeedDaemonReload --value \"$runner_n\" 2>/dev/null)\" != yes ] || "
    "systemctl daemon-reload\n"
    "}\n"
    "runner_sysv_enabled() {\n"
    "  for runner_f in /etc/rc[2345].d/S[0-9][0-9]\"$runner_n\" /etc/rc.d/rc[2345].d/S[0-9][0-9]\"$runner_n\"; do\n"
    "    [ ! -e \"$runner_f\" ] || return 0\n"
    "  done\n"
    "  return 1\n"
    "}\n"
)

PROBE = """\
echo "kind=$runner_kind"
case $runner_kind in
  systemd)
    if systemctl is-enabled --quiet "$runner_n" 2>/dev/null; then echo enabled=1; else echo enabled=0; fi
    if systemctl is-active --quiet "$runner_n" 2>/dev/null; then echo running=1; else echo running=0; fi ;;
  sysv)
    if runner_sysv_enabled; then echo enabled=1; else echo enabled=0; fi
    if service "$runner_n" status >/dev/null 2>&1; then echo running=1; else echo running=0; fi ;;
  *) runner_sv_status ;;
esac
"""


@dataclass(frozen=True)
class ServiceState:
    kind: str = "supervisor"  # systemd | sysv | supervisor
    enabled: bool = False
    running: bool = False
    unit: bool | None = None  # supervisor only: a unit file was found


class Service(Resource):
    probe_isolated = False  # its probe neither exits nor changes directory
    type_name = "service"
    actions = ("enable", "disable", "start", "stop", "restart", "reload", "nothing")
    default_action = ("enable", "start")
    notify_only_actions = ("restart", "reload")
    properties: ClassVar[dict[str, Any]] = {"service_name": None}

    def validate(self) -> None:
        name = self.args["service_name"] or self.name
        if not isinstance(name, str) or not _NAME.match(name) or name.startswith("-"):
            raise ResourceError(f"{self.key}: {name!r} is not a valid service name")
        self.service_name = name.removesuffix(".service")
        for a, b in (("start", "stop"), ("enable", "disable")):
            if a in self.action and b in self.action:
                raise ResourceError(f"{self.key}: actions {a!r} and {b!r} contradict each other")

    def _prelude(self, with_loop: bool) -> str:
        return supervisor.library(self.service_name, with_loop) + DETECT

    def probe(self) -> str:
        return self._prelude(with_loop=False) + PROBE

    def parse(self, output: str) -> ServiceState:
        kv = parse_kv(output)
        kind = kv.get("kind", "supervisor")
        return ServiceState(
            kind=kind if kind in OPERATIONS else "supervisor",
            enabled=bool(flag(kv, "enabled")),
            running=bool(flag(kv, "running")),
            unit=flag(kv, "unit"),
        )

    def needed(self, state: ServiceState) -> list[str]:
        """The declared actions that have something to do, in order."""
        todo = []
        for action in self.action:
            if action in ("restart", "reload"):
                todo.append(action)
            elif ((action == "enable" and not state.enabled) or (action == "disable" and state.enabled)
                  or (action == "start" and not state.running) or (action == "stop" and state.running)):
                todo.append(action)
        return todo

    def diff(self, state: ServiceState) -> list[Change]:
        return [Change(action) for action in self.needed(state)]

    def apply(self, state: ServiceState, changes: list[Change]) -> Step:
        return self._step(self.needed(state))

    def action_step(self, action: str) -> Step:
        if action not in self.actions or action == "nothing":
            return super().action_step(action)
        return self._step([action])

    def _step(self, actions: list[str]) -> Step:
        if not actions:
            return Step(UNCHANGED)
        lines = [self._prelude(with_loop=any(a in ("start", "restart", "reload") for a in actions))]
        for action in actions:
            lines.append("case $runner_kind in")
            for kind, ops in OPERATIONS.items():
                lines.append(f"  {kind}) {ops[action]} ;;")
            lines.append(f"esac || {{ printf '%s\\n' {q(f'{self.key}: {action} failed')} >&2; exit 1; }}")
        return Step("\n".join(lines))
