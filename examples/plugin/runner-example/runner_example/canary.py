"""``canary``: deploy to one host first; only when it is healthy, to all the others at once."""

from __future__ import annotations

from runner.strategies.api import Rollout, Strategy


class Canary(Strategy):
    name = "canary"
    description = "one host first (out of the balancer, change, health check, back in), then all the others"
    needs_whole_fleet = True  # one canary for the app, not one per shard: runner deploy refuses --shard

    def deploy(self, rollout: Rollout) -> None:
        first, rest = rollout.hosts[:1], rollout.hosts[1:]
        rollout.say(f"canary: {', '.join(first)}")
        if not rollout.step(first, label="canary"):
            rollout.stop("the canary failed; the other hosts were not touched")
            return
        if rest:
            rollout.say(f"the rest: {', '.join(rest)}")
            if not rollout.step(rest, label="rest"):
                rollout.stop("the rest failed")
