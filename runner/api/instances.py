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
from runner.api.instance_status import gave_up, shown
from runner.api.reports import InstanceRow, InstancesReport
from runner.events import Progress
from runner.model.lifecycle import CONFIGURE, CONVERGE, SHUTDOWN
from runner.providers.api import InstanceState, start_instances
from runner.watch import state as watch_state
from runner.watch.types import WANT_RUNNING, WANT_STOPPED

ACTIONS = ("list", "start", "stop", "destroy")


def _row(session: SessionBase, state: InstanceState, entries: dict[str, setup_record.SetupEntry],
         given_up: dict[str, str]) -> InstanceRow:
    inst = session.stack.instances[state.name]
    host = state.host
    # the OpsWorks word: the provider's, or a setup's, or start_failed from runner watch
    view = shown(state, entries.get(state.name), gave_up=given_up.get(state.name))
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

    if action != "list":  # what runner watch keeps each instance at: a stop by hand is not a failure to heal
        watch_state.for_stack(session.stack).set_wanted(names, WANT_RUNNING if action == "start" else WANT_STOPPED)
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
    given_up = gave_up(session.stack)
    report.instances = [_row(session, s, entries, given_up) for s in states]
    return report
