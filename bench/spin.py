"""A busy loop at the lowest CPU priority Linux gives an unprivileged process.

`python bench/spin.py SECONDS` spins until killed or until SECONDS have passed (a safety net,
so it can never outlive the benchmark). The `spin` scenario runs the valid path beside it: the
p99 that costs shows what any CPU-bound background work, with none of the verifier's code,
does to /auth on this machine. The login flood's hashing is judged against it.

Run as a script, not imported: it needs nothing but the standard library, and the process
must start in a session of its own (the launcher sees to that) so that its autogroup, not the
benchmark's, is the one set to nice 19.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

LOWEST_NICENESS = 19


def lower_priority() -> str:
    """Take the lowest priority available; return what was achieved, for the log."""
    achieved = []
    # With autogroups (the kernel default), a new session is a scheduling group of its own
    # that competes with the others at its group niceness, whatever its threads' policy.
    with contextlib.suppress(OSError):
        with open("/proc/self/autogroup", "w", encoding="ascii") as autogroup:
            autogroup.write(str(LOWEST_NICENESS))
        achieved.append(f"autogroup nice {LOWEST_NICENESS}")
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        achieved.append("SCHED_IDLE")
    return ", ".join(achieved) or "normal priority (neither SCHED_IDLE nor autogroup nice)"


def spin(seconds: float) -> None:
    """Burn CPU until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


if __name__ == "__main__":
    print(f"spin: {lower_priority()}", flush=True)
    spin(float(sys.argv[1]))
