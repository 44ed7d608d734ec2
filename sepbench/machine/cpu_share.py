"""How much of the machine other processes took while we timed: cores busy with work that is not ours.

A paired round cancels load that slows both models alike; it does not cancel a machine that lacks the
cores the case asks for.  With a one-core CPU hog beside a 2-thread run on 2 cores, the paired
study-style evaluate of NumPy moved from 1.38x (quiet) to 0.41x (hog), LiteRT's from 0.89x to 1.28x:
each interval narrow, each answer the load's, not the models'.  So the rounds record how many cores
other processes used on average (``/proc/stat``'s busy time, hypervisor steal included, less this
process's own CPU time), and the claims engine does not decide on a machine that was short of cores
(:func:`sepbench.core.evidence.busy_reason`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuSample:
    """One reading: wall seconds, CPU seconds of every process (busy, steal included) and of this one."""

    wall_s: float
    all_busy_s: float
    own_s: float


def sample() -> CpuSample | None:
    """Read the counters now, over the CPUs this process may run on (``taskset``: others elsewhere do
    not compete); ``None`` where ``/proc/stat`` cannot be read (not Linux)."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
        ours = os.sched_getaffinity(0)
    except (OSError, AttributeError):
        return None
    busy = 0
    for line in lines:
        fields = line.split()
        if not fields or not fields[0].startswith("cpu") or not fields[0][3:].isdigit() or int(fields[0][3:]) not in ours:
            continue
        # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already in user
        ticks = [int(v) for v in fields[1:9]] + [0] * max(0, 9 - len(fields))
        busy += sum(ticks[:3]) + sum(ticks[5:8])
    if busy == 0:
        return None
    t = os.times()
    return CpuSample(time.perf_counter(), busy / _TICKS, t.user + t.system)


def others_cores(start: CpuSample | None, end: CpuSample | None) -> float | None:
    """Cores other processes kept busy on average between two readings (``None`` without readings)."""
    if start is None or end is None or end.wall_s <= start.wall_s:
        return None
    others = (end.all_busy_s - start.all_busy_s) - (end.own_s - start.own_s)
    return max(0.0, others / (end.wall_s - start.wall_s))
