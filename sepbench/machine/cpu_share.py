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

import math
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


def own_cores(start: CpuSample | None, end: CpuSample | None) -> float | None:
    """Cores this process's threads kept busy on average between two readings (``None`` without readings):
    beside the threads a case asked for, it tells a path that used fewer cores (one thread of two idle,
    or only one core given) from a machine that ran it slower, which timing alone cannot."""
    if start is None or end is None or end.wall_s <= start.wall_s:
        return None
    return max(0.0, (end.own_s - start.own_s) / (end.wall_s - start.wall_s))


@dataclass(frozen=True)
class FreeCores:
    """What a short probe found: the cores this process may use, the cores other processes kept busy
    meanwhile (``None``: not readable here), and the cores left free (0: none)."""

    cores: int
    others_cores: float | None
    free: int
    probe_s: float  # seconds the probe watched

    @property
    def threads(self) -> int:
        """The compute threads that fit: one per free core, at least one."""
        return max(1, self.free)

    def as_dict(self) -> dict[str, float | int | None]:
        return {"cores": self.cores, "others_cores": self.others_cores, "free": self.free, "probe_s": self.probe_s}


def free_cores_of(others: float | None, cores: int) -> int:
    """The cores that ``others`` busy cores (on average) leave free: a core counts as taken once other
    processes use more of it than the claims engine lets pass as a quiet machine
    (:data:`sepbench.core.evidence.BUSY_CORES`), so a run at the free cores is not judged busy while the
    load stays as the probe found it."""
    from sepbench.core.evidence import BUSY_CORES

    if others is None:
        return cores
    return max(0, min(cores, cores - math.ceil(others - BUSY_CORES)))


def probe_free_cores(probe_s: float = 0.5) -> FreeCores:
    """Watch the machine for ``probe_s`` seconds while this process sleeps: the cores others keep busy,
    and so the compute threads that fit.  A thread pool larger than the free cores waits a scheduler
    slice at every barrier (measured: a 2-thread PyTorch evaluate beside a one-core hog took 200x its
    quiet time)."""
    from sepbench.machine.threads import usable_cores

    cores = usable_cores()
    before = sample()
    time.sleep(probe_s)
    others = others_cores(before, sample())
    others = None if others is None else min(others, float(cores))
    return FreeCores(cores, others, free_cores_of(others, cores), probe_s)
