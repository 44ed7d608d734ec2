"""The gate-rates run times cases of the benchmark suite by node id: each must be a case the default job
(what ``nox -s bench -- --compare`` judges) collects, or the run fails before its first trial (its ids once
named a batch-1 case only ``--full`` has and paired ids of an older naming)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_case_the_gate_rates_run_times_is_collected_by_the_default_job(mnist_dir: Path) -> None:
    from sepbench.checks.gate_rates import GATE_SLOWED, OPTIONS, PAIRED_QUIET, SELECTION, SLOWED_PAIRED

    env = {**os.environ, "SEPBENCH_MNIST_DIR": str(mnist_dir)}
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *OPTIONS, *SELECTION]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    collected = {line.strip() for line in out.stdout.splitlines() if line.startswith("tests/bench/")}
    assert set(SELECTION) == collected and {GATE_SLOWED, SLOWED_PAIRED, PAIRED_QUIET} <= collected
