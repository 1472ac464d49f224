"""One command per host and pass: is it alive, and how busy is it.

The command prints the 1-minute load average (/proc/loadavg), the aggregate
``cpu`` line of /proc/stat, MemTotal and MemAvailable (/proc/meminfo) and the
boot id. CPU busy % needs two /proc/stat readings: the previous pass's reading
of the same boot serves as the first, so a pass costs no wait on the host; on
the first pass (or after a reboot) the command takes a second reading itself,
a quarter of a second later.

On a container /proc/stat and /proc/loadavg are the machine's, not the
container's: what a Docker host reports is the load of the machine it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.watch.types import Sample

MARK = "@@watch"
SECOND_READING_WAIT = 0.25  # seconds between the two /proc/stat readings of a first pass

# Shell builtins only (read, echo, case): the command starts no process but the shell, where
# cut/grep/tr/cat and their command substitutions started ten; on hosts sharing a few cores
# (containers on one machine) that was most of a pass's time.
_CPU = f"while read -r k rest; do if [ \"$k\" = cpu ]; then echo {MARK} cpu $rest; break; fi; done < /proc/stat"
_READ = (f"read -r l _ < /proc/loadavg; echo {MARK} load $l; "
         f"{_CPU}; "
         "t=; a=; while read -r k v _; do case $k in MemTotal:) t=$v;; MemAvailable:) a=$v;; esac; "
         f"done < /proc/meminfo; echo {MARK} mem $t $a; "
         "b=-; { read -r b < /proc/sys/kernel/random/boot_id; } 2>/dev/null; "
         f"echo {MARK} boot $b")


@dataclass(frozen=True)
class CpuReading:
    """The ``cpu`` line of /proc/stat: busy and total jiffies, and the boot they belong to."""

    busy: int
    total: int
    boot: str


def command(first: bool) -> str:
    """The shell command of one pass on one host (``first``: no earlier reading, take two)."""
    if not first:
        return _READ
    return f"{_CPU}; sleep {SECOND_READING_WAIT}; " + _READ


def _cpu(fields: list[str]) -> tuple[int, int] | None:
    """(busy, total) jiffies from ``cpu user nice system idle iowait irq softirq steal ...``."""
    try:
        values = [int(v) for v in fields[:8]]
    except ValueError:
        return None
    if len(values) < 4:
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values)
    return total - idle, total


def busy_percent(before: CpuReading | None, after: CpuReading) -> float | None:
    """CPU busy % between two readings of one boot (None: no usable earlier reading)."""
    if before is None or before.boot != after.boot:
        return None
    total = after.total - before.total
    if total <= 0:
        return None
    return max(0.0, min(100.0, 100.0 * (after.busy - before.busy) / total))


def parse(instance: str, text: str, now: float, previous: CpuReading | None) -> tuple[Sample, CpuReading | None]:
    """The sample of one host from the command's output, and the CPU reading to keep for the next pass."""
    load: float | None = None
    memory: float | None = None
    boot = "-"
    cpus: list[tuple[int, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] != MARK:
            continue
        kind, rest = parts[1], parts[2:]
        if kind == "load" and rest:
            try:
                load = float(rest[0])
            except ValueError:
                pass
        elif kind == "cpu":
            found = _cpu(rest)
            if found:
                cpus.append(found)
        elif kind == "mem" and len(rest) >= 2:
            try:
                total, available = int(rest[0]), int(rest[1])
            except ValueError:
                continue
            if total > 0:
                memory = max(0.0, min(100.0, 100.0 * (total - available) / total))
        elif kind == "boot" and rest:
            boot = rest[0]
    reading = CpuReading(cpus[-1][0], cpus[-1][1], boot) if cpus else None
    cpu = None
    if reading is not None:
        before = previous
        if len(cpus) >= 2:  # a first pass: the command took its own earlier reading
            before = CpuReading(cpus[-2][0], cpus[-2][1], boot)
        cpu = busy_percent(before, reading)
    return Sample(instance, now, True, load, cpu, memory), reading
