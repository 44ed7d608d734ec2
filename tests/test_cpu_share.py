"""The cores other processes take while we time (sepbench/machine/cpu_share.py), read off a real CPU hog."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from sepbench.machine.cpu_share import others_cores, sample


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.alone  # a second test worker beside it would always hold one of two cores
@pytest.mark.skipif(sample() is None, reason="/proc/stat is not readable here (not Linux): nothing to measure")
def test_a_cpu_hog_beside_us_counts_and_our_own_work_does_not():
    """Three kinds of 0.4 s spell, interleaved three times (whatever else the machine runs, a second
    test worker, moves all three alike): we sleep; we sleep beside a one-core hog; we spin ourselves."""

    def spell(kind: str) -> float:
        hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"]) if kind == "hog" else None
        try:
            if hog is not None:
                time.sleep(0.2)  # the hog is running
            before = sample()
            _spin(0.4) if kind == "ours" else time.sleep(0.4)
            share = others_cores(before, sample())
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        assert share is not None
        return share

    got: dict[str, list[float]] = {"quiet": [], "hog": [], "ours": []}
    for _ in range(3):
        for kind in got:
            got[kind].append(spell(kind))
    quiet, hog, ours = (sorted(v)[1] for v in got.values())  # medians
    cores = len(os.sched_getaffinity(0))
    if quiet > cores - 1:
        pytest.skip(f"other processes already keep {quiet:.1f} of {cores} cores busy: a hog has no free core to take")
    assert hog - quiet >= 0.6, got  # the hog's core is someone else's
    assert ours - quiet <= 0.4, got  # our own busy loop is not


def test_no_readings_no_figure():
    s = sample()
    assert others_cores(None, s) is None and others_cores(s, None) is None
    if s is not None:
        assert others_cores(s, s) is None  # no time passed
