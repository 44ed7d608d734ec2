"""The cores other processes take while we time (sepbench/machine/cpu_share.py), read off a real CPU hog."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sepbench.machine.cpu_share import free_cores_of, others_cores, own_cores, probe_free_cores, sample
from sepbench.machine.threads import usable_cores

REPO = Path(__file__).resolve().parent.parent


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
    assert own_cores(None, s) is None and own_cores(s, None) is None
    if s is not None:
        assert others_cores(s, s) is None and own_cores(s, s) is None  # no time passed


@pytest.mark.skipif(sample() is None, reason="/proc/stat is not readable here (not Linux): nothing to measure")
def test_our_own_cores_count_our_spin_and_not_our_sleep():
    """The figure that tells a case that ran on fewer cores than its threads: one spinning thread is about
    one core (at most one, however busy the machine: a shared core only lowers it), a sleep about none."""
    before = sample()
    time.sleep(0.3)
    slept = own_cores(before, sample())
    before = sample()
    _spin(0.4)
    spun = own_cores(before, sample())
    assert slept is not None and spun is not None
    assert slept < 0.2 and 0.3 < spun <= 1.1, (slept, spun)


@pytest.mark.parametrize(
    "others, cores, free",
    [(None, 2, 2), (0.0, 2, 2), (0.4, 2, 2), (0.6, 2, 1), (1.0, 2, 1), (1.5, 2, 1), (1.6, 2, 0), (2.0, 2, 0), (0.0, 1, 1), (2.7, 8, 5)],
)
def test_free_cores_and_the_busy_rule_agree(others, cores, free):
    """A core counts as taken past the busy rule's allowance; a run at the free cores is never judged busy,
    one thread more always is."""
    from sepbench.core.evidence import busy_reason

    assert free_cores_of(others, cores) == free
    if free >= 1:
        assert busy_reason(others, cores, free) == ""
    if others is not None and free < cores:
        assert busy_reason(others, cores, free + 1) != ""


@contextlib.contextmanager
def _one_core_hog() -> Iterator[None]:
    hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    try:
        time.sleep(0.3)  # running
        yield
    finally:
        hog.kill()
        hog.wait()


@pytest.mark.alone  # a second test worker would be a second hog
def test_beside_a_one_core_hog_the_benchmark_runs_at_the_free_cores(tmp_path, mnist_dir):
    """With one core taken, a benchmark session given no --threads measures the free cores and times its
    work at that many threads (one on a 2-core machine), and records why."""
    cores = usable_cores()
    if cores < 2:
        pytest.skip("one usable core: a hog leaves none free, nothing to choose")
    quiet = probe_free_cores()
    if quiet.others_cores is None:
        pytest.skip("/proc/stat is not readable here (not Linux): nothing to measure")
    if quiet.free < cores:
        pytest.skip(f"other processes already keep {quiet.others_cores:.1f} of {cores} cores busy: no quiet machine to compare")
    out = tmp_path / "run.json"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["SEPBENCH_MNIST_DIR"] = str(mnist_dir)
    case = "tests/bench/test_bench.py::test_predict[numpy-regular-default-b32-n32]"
    with _one_core_hog():
        probe = probe_free_cores()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                case,
                "--backends",
                "numpy",
                "--quick",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--benchmark-json={out}",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert probe.free == cores - 1 and probe.threads == cores - 1, probe
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    own = doc["machine_info"]["sepbench"]
    assert own["threads"] == cores - 1 and own["free_cores"]["free"] == cores - 1 and own["free_cores"]["others_cores"] >= 0.6
    assert doc["machine_info"]["threads"]["requested"] == cores - 1
    assert all(p["num_threads"] == cores - 1 for p in doc["machine_info"]["threads"]["blas"])
    assert [b["extra_info"]["threads"] for b in doc["benchmarks"]] == [cores - 1]


def test_the_closing_section_says_why_the_threads_are_what_they_are():
    from sepbench.bench.options import BenchOptions, RoundBudget
    from sepbench.bench.summary import summary_lines
    from sepbench.machine.cpu_share import FreeCores

    opts = BenchOptions(
        threads=1, quick=False, backends=["numpy"], unavailable={}, train_missing=False, inject_delay=0.0, timing=RoundBudget(1, 1, 1)
    )
    assert summary_lines(opts)[0] == "threads: 1 for every backend"  # --threads chose
    opts.free_cores = FreeCores(cores=2, others_cores=1.04, free=1, probe_s=0.5)
    assert (
        summary_lines(opts)[0] == "threads: 1 for every backend: other processes kept 1.0 of 2 cores busy when the session started, 1 free"
    )
    opts.free_cores = FreeCores(cores=2, others_cores=1.9, free=0, probe_s=0.5)
    assert "no core free: the speed verdicts will say 'busy'" in summary_lines(opts)[0]
