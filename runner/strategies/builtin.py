"""The built-in deployment strategies, registered through ``runner_strategies`` like any plugin's."""

from __future__ import annotations

import time

from runner import hookimpl
from runner.strategies.api import Rollout, Strategy, batches

BLUE, GREEN = "blue", "green"


class AllAtOnce(Strategy):
    name = "all_at_once"
    description = ("every host at once, left in the load balancer (taking them all out would leave it "
                   "nothing to serve); a host that fails is put back on its previous release")
    uses_balancer = False

    def deploy(self, rollout: Rollout) -> None:
        rollout.step(rollout.hosts, undo_batch=False, balancer=False)


class Rolling(Strategy):
    name = "rolling"
    description = ("batches (a count or a percentage): out of the balancer, change, health check, back in; "
                   "stops at the first failed batch and puts that batch back")
    needs_whole_fleet = True  # a batch waits for the one before it, across all of the app's hosts

    def deploy(self, rollout: Rollout) -> None:
        groups = batches(rollout.hosts, rollout.settings.batch)
        for number, batch in enumerate(groups, 1):
            rollout.say(f"batch {number}/{len(groups)}: {', '.join(batch)}")
            if not rollout.step(batch, label=f"batch {number}"):
                rollout.stop(f"batch {number} failed; batches after it were not deployed")
                return


def colours(hosts: list[str], options: dict) -> dict[str, list[str]]:
    """The two halves of the app's hosts: ``deploy.options.blue``/``green`` when given, else first half blue."""
    if options.get(BLUE) or options.get(GREEN):
        blue = [h for h in hosts if h in set(options.get(BLUE) or [])]
        green = [h for h in hosts if h in set(options.get(GREEN) or [])]
        return {BLUE: blue, GREEN: green}
    half = (len(hosts) + 1) // 2
    return {BLUE: hosts[:half], GREEN: hosts[half:]}


def live_colour(groups: dict[str, list[str]], states: dict[str, str]) -> str:
    """The colour in service: the one whose hosts are all ready while the other's are not (blue when unclear)."""
    ready = {c: bool(hosts) and all(states.get(h) == "ready" for h in hosts) for c, hosts in groups.items()}
    if ready[GREEN] and not ready[BLUE]:
        return GREEN
    return BLUE


class BlueGreen(Strategy):
    name = "blue_green"
    description = ("change the idle half (colour), health-check it, switch the balancer to it; "
                   "the old colour keeps its release for an instant switch back (runner rollback)")
    needs_balancer = True
    needs_whole_fleet = True  # the app's hosts split in two colours, switched together in the balancer

    def _sides(self, rollout: Rollout) -> tuple[str, list[str], str, list[str]]:
        groups = colours(list(rollout.hosts), rollout.settings.options)
        if not groups[BLUE] or not groups[GREEN]:
            rollout.stop("blue_green needs hosts in both colours (at least 2 hosts, or deploy.options.blue/green)")
            return BLUE, [], GREEN, []
        live = live_colour(groups, rollout.balancer_states())
        idle = GREEN if live == BLUE else BLUE
        return live, groups[live], idle, groups[idle]

    def _switch(self, rollout: Rollout, live: str, live_hosts: list[str], idle: str, idle_hosts: list[str]) -> None:
        rollout.say(f"switching the balancer from {live} to {idle}")
        started = time.monotonic()
        if rollout.enable(idle_hosts):
            rollout.stop(f"could not put {idle} into the balancer; {live} stays in service")
            return
        rollout.drain(live_hosts)
        rollout.record("balancer switch", time.monotonic() - started)
        rollout.say(f"{idle} ({', '.join(idle_hosts)}) is live; {live} ({', '.join(live_hosts)}) is idle "
                    f"and keeps its release: `runner rollback` switches back")

    def deploy(self, rollout: Rollout) -> None:
        live, live_hosts, idle, idle_hosts = self._sides(rollout)
        if not idle_hosts:
            return
        rollout.say(f"{live} is live; deploying to {idle}: {', '.join(idle_hosts)}")
        not_changed = rollout.change(idle_hosts)
        changed = [h for h in idle_hosts if h not in not_changed]
        unhealthy = rollout.health_check(changed)
        if not_changed or unhealthy:
            rollout.revert(changed)  # the idle colour keeps the release it had
            rollout.stop(f"{idle} failed; the balancer still sends everything to {live}")
            return
        self._switch(rollout, live, live_hosts, idle, idle_hosts)

    def rollback(self, rollout: Rollout) -> None:
        """Switch back to the idle colour, which still runs the release it had."""
        live, live_hosts, idle, idle_hosts = self._sides(rollout)
        if not idle_hosts:
            return
        if rollout.health_check(idle_hosts):
            rollout.stop(f"{idle} is not healthy; not switching back")
            return
        self._switch(rollout, live, live_hosts, idle, idle_hosts)


@hookimpl
def runner_strategies() -> list[type[Strategy]]:
    return [AllAtOnce, Rolling, BlueGreen]
