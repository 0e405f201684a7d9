"""How much CPU other processes took during a measurement.

On a 2-core machine the stack and wrk fill both cores, so anybody else's work (a test run,
a build) lowers requests/s and stretches p99 a lot. Each measured window records the
machine's busy time minus the time of this process and all its descendants (the stack, its
workers, wrk): what remains is somebody else's, and says whether to trust the figures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# proc(5) numbers the fields of /proc/PID/stat from 1: ppid is 4, then utime, stime, cutime
# and cstime are 14 to 17. cutime/cstime hold reaped children, so a wrk that exits between two
# samples still counts as ours. _all_stats() keeps the fields from 3 (state) on.
_FIRST_KEPT = 3
_PPID = 4 - _FIRST_KEPT
_TIMES = slice(14 - _FIRST_KEPT, 17 - _FIRST_KEPT + 1)


@dataclass(frozen=True)
class CpuSample:
    """Clock ticks: the whole machine's busy and total time, and our process tree's."""

    machine_busy: int
    machine_total: int
    own: int


def sample() -> CpuSample | None:
    """Read the counters now; None where /proc is not readable."""
    machine = _machine_ticks()
    if machine is None:
        return None
    busy, total = machine
    return CpuSample(machine_busy=busy, machine_total=total, own=_tree_ticks(os.getpid()))


def others_percent(before: CpuSample | None, after: CpuSample | None) -> float | None:
    """Share of the machine's capacity used by other processes between two samples."""
    if before is None or after is None:
        return None
    total = after.machine_total - before.machine_total
    if total <= 0:
        return None
    others = (after.machine_busy - before.machine_busy) - (after.own - before.own)
    # Ticks are sampled at slightly different moments: clamp the small negative noise.
    return round(max(0.0, 100.0 * others / total), 1)


def process_tree_ticks(root: int) -> int:
    """CPU clock ticks (user + system) of a process and its descendants so far."""
    return _tree_ticks(root)


def ticks_to_microseconds(ticks: int) -> float:
    """Clock ticks in microseconds of CPU time."""
    return ticks * 1_000_000 / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int] | None:
    try:
        with Path("/proc/stat").open(encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(value) for value in fields[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    # user .. steal; guest and guest_nice are already inside user and nice. Steal (time the
    # hypervisor gave to other guests) counts as busy and not ours: it is noise too.
    total = sum(ticks[:8])
    return total - idle, total


def _tree_ticks(root: int) -> int:
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[_PPID]), []).append(pid)
    ticks, pending = 0, [root]
    while pending:
        pid = pending.pop()
        found = stats.get(pid)
        if found is not None:
            ticks += sum(int(value) for value in found[_TIMES])
        pending += children.get(pid, [])
    return ticks


def _all_stats() -> dict[int, list[str]]:
    """The fields after the command name of every process's /proc/PID/stat, by PID."""
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue  # exited while we looked
        # The command name is in parentheses and may itself hold spaces or ")".
        fields = text[text.rfind(")") + 2 :].split()
        stats[int(entry.name)] = fields
    return stats
