"""What happened to each resource and each host (the engine's report types)."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.resources.api import Change

#: resource statuses
OK, CHANGED, FAILED, SKIPPED, NOT_RUN, WOULD_CHANGE = "ok", "changed", "failed", "skipped", "not-run", "would-change"


@dataclass
class ResourceOutcome:
    key: str  # "type[name]", or "type[name] (restart)" for a notified action
    status: str
    changes: list[Change] = field(default_factory=list)
    output: str = ""
    location: str | None = None
    ignored_failure: bool = False

    def to_json(self) -> dict:
        data: dict = {"resource": self.key, "status": self.status,
                      "changes": [c.summary for c in self.changes]}
        diffs = [c.diff for c in self.changes if c.diff]
        if diffs:
            data["diff"] = "\n".join(diffs)
        if self.output:
            data["output"] = self.output
        if self.location:
            data["location"] = self.location
        if self.ignored_failure:
            data["ignored_failure"] = True
        return data


@dataclass
class HostOutcome:
    host: str
    resources: list[ResourceOutcome] = field(default_factory=list)
    error: str | None = None
    cause: str | None = None
    seconds: float = 0.0
    remote_commands: int = 0
    ran_setup: bool = False

    def count(self, status: str) -> int:
        """Resources with ``status``; FAILED counts only the failures that count (not the ignored ones)."""
        if status == FAILED:
            return sum(1 for r in self.resources if r.status == FAILED and not r.ignored_failure)
        return sum(1 for r in self.resources if r.status == status)

    @property
    def ignored(self) -> int:
        """Failures of resources with ``ignore_failure``: the host is still ok, with a warning."""
        return sum(1 for r in self.resources if r.status == FAILED and r.ignored_failure)

    @property
    def failed(self) -> bool:
        return self.error is not None or any(r.status == FAILED and not r.ignored_failure for r in self.resources)

    def to_json(self) -> dict:
        return {"host": self.host, "ok": not self.failed, "error": self.error, "cause": self.cause,
                "changed": self.count(CHANGED), "would_change": self.count(WOULD_CHANGE),
                "unchanged": self.count(OK), "failed": self.count(FAILED), "ignored": self.ignored,
                "skipped": self.count(SKIPPED),
                "seconds": round(self.seconds, 3), "remote_commands": self.remote_commands,
                "ran_setup": self.ran_setup, "resources": [r.to_json() for r in self.resources]}
