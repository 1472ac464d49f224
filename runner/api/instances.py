"""``instances list|start|stop|destroy``: the stack's instances through its provider, with OpsWorks' events.

As in OpsWorks, instances entering or leaving service run lifecycle events:
after ``start``, a converge (setup on the instances never set up, then
configure on every online instance, so e.g. a load balancer learns its new
backends); before ``stop``/``destroy``, the stopping instances' shutdown
recipes (bounded by their layers' ``shutdown_timeout``), and after it a
configure on the instances still online. ``lifecycle=False`` skips them.
"""

from __future__ import annotations

from runner.api import runs, setup_record
from runner.api.base import SessionBase
from runner.api.instance_status import shown
from runner.api.reports import InstanceRow, InstancesReport
from runner.events import Progress
from runner.model.lifecycle import CONFIGURE, CONVERGE, SHUTDOWN
from runner.providers.api import InstanceState, start_instances

ACTIONS = ("list", "start", "stop", "destroy")


def _row(session: SessionBase, state: InstanceState, entries: dict[str, setup_record.SetupEntry]) -> InstanceRow:
    inst = session.stack.instances[state.name]
    host = state.host
    view = shown(state, entries.get(state.name))  # the OpsWorks word: the provider's, or a setup's
    return InstanceRow(state.name, view.status, inst.hostname, list(inst.layers),
                       host.address if host else None, host.port if host else None,
                       dict(host.ports) if host else {}, dict(state.details),
                       view.provider_status if view.overridden else None, view.reason)


def act(session: SessionBase, action: str, names: list[str], *, lifecycle: bool = True) -> InstancesReport:
    if action not in ACTIONS:
        raise ValueError(f"unknown instances action {action!r}")
    provider = session.provider()
    report = InstancesReport(session.stack.name, action)
    events = lifecycle and action != "list"

    def event(command: str, hosts: list[str]) -> None:
        if hosts:
            session.emit(Progress(None, f"{command} on {', '.join(hosts)}"))
            report.events.append(runs.run_recipes(session, command, hosts))

    def online() -> list[str]:
        return [s.name for s in provider.status(list(session.stack.instances)) if s.online]

    if events and action in ("stop", "destroy"):
        event(SHUTDOWN, [n for n in online() if n in names])
    if action == "destroy":
        provider.destroy(names)
        states = provider.status(names)
    else:
        states = {"list": provider.status, "stop": provider.stop,
                  "start": lambda n: start_instances(provider, n, wait_for_ssh=lifecycle)}[action](names)
    if events:
        event(CONVERGE if action == "start" else CONFIGURE, online())
    entries = setup_record.for_stack(session.stack).entries()
    report.instances = [_row(session, s, entries) for s in states]
    return report
