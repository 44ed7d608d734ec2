"""The gate-rates run: how often ``nox -s bench -- --compare`` (the benchmark gate) fails, on commits of
known slowdown.

The same commits as the ab-rates run (:func:`sepbench.checks.ab_rates.make_commits`: NumPy's forward does
``factor`` times the work; 1.00 is a no-op). Each trial saves a baseline run of a small selection of
tests/bench from the base commit (a fresh one per trial: a baseline's own luck is part of what a
user of the gate meets); then, per factor, the selection is run again from that commit's tree and
judged against the baseline exactly as the gate does (:mod:`sepbench.bench.gate`, flagged cases
re-run). A trial is a **hit** when the slowed case (NumPy's 10,000-image predict at batch 1024: 10
batches a call, so the factor's extra batches, on average) fails; any other failure, and any failure
at 1.00, is a **false alarm**.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sepbench.bench.gate import MIN_EFFECT, confirm, judge_runs, rerun_command
from sepbench.checks.ab_rates import FactorResult, make_commits
from sepbench.checks.ab_run import export
from sepbench.util.atomic import new_log

SLOWED = "tests/bench/test_bench.py::test_predict_10k[numpy-regular-default-b1024-n10000]"
# the slowed case (it once moved 1.24x between two runs of the same code), a quiet and a noisy one not slowed
SELECTION = (
    SLOWED,
    "tests/bench/test_bench.py::test_predict_10k[torch-regular-default-b1024-n10000]",
    "tests/bench/test_bench.py::test_predict[torch-regular-default-b1-n1]",
)
FACTORS = (1.00, 1.10, 1.25, 2.0)
OPTIONS = ("--backends", "numpy,torch", "--threads", "1")


def _bench(tree: Path, out: Path, cases: Sequence[str], options: Sequence[str], log: Path) -> dict[str, Any]:
    """Run ``cases`` of tree's tests/bench (its own code), samples saved to ``out``; the run's JSON."""
    out.unlink(missing_ok=True)  # never judge an earlier run's file
    cmd = rerun_command(sys.executable, list(cases), str(out), list(options))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("PYTHONPATH", None)
    with open(log, "a") as fh:
        proc = subprocess.run(cmd, cwd=tree, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError(f"the benchmark run in {tree} failed (pytest exit status {proc.returncode}); see {log}")
    return json.loads(out.read_text())


def run_gate_rates(
    source: Path,
    trials: int = 10,
    factors: Sequence[float] = FACTORS,
    cases: Sequence[str] = SELECTION,
    options: Sequence[str] = OPTIONS,
    min_effect: float = MIN_EFFECT,
    progress: Callable[[str], None] = lambda msg: None,
) -> dict[str, Any]:
    """``trials`` gate runs per factor, each trial against a fresh baseline (see the module docstring); the study as a dict."""
    start = time.perf_counter()
    results = {f: FactorResult(f, SLOWED.split("::")[-1]) for f in factors}
    scratch = Path(tempfile.mkdtemp(prefix="sepbench-gate-rates-"))
    log = new_log("sepbench-gate-rates-pytest-")  # kept: what failed, if anything did
    try:
        base, commits = make_commits(source, scratch / "repo", factors)
        trees = {f: export(scratch / "repo", commits[f], scratch / f"tree-{f:.2f}") for f in factors}
        base_tree = export(scratch / "repo", base, scratch / "tree-base")
        for trial in range(trials):
            # a fresh baseline per trial (shared by its factors): a baseline's own luck is part of the gate's
            baseline = _bench(base_tree, scratch / "baseline.json", cases, options, log)
            for factor in factors:
                t0 = time.perf_counter()
                run = _bench(trees[factor], scratch / "run.json", cases, options, log)
                outcome = judge_runs(baseline, run, min_effect)
                if outcome.flagged:
                    rerun = _bench(trees[factor], scratch / "rerun.json", [v.name for v in outcome.flagged], options, log)
                    confirm(outcome, baseline, rerun, min_effect)
                slowed = next((v for v in outcome.verdicts if v.name == SLOWED), None)
                if slowed is None:
                    raise RuntimeError(f"the slowed case {SLOWED} did not run (see {log})")
                alarms = {v.name.split("::")[-1]: v.slowdown.ratio for v in outcome.regressions}
                hit = SLOWED in {v.name for v in outcome.regressions}
                line = results[factor].record(trial + 1, slowed.slowdown.ratio, hit, alarms, time.perf_counter() - t0)
                progress(f"trial {trial + 1}/{trials} {line}; {len(outcome.flagged)} flagged")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "base": base,
        "cases": list(cases),
        "slowed_case": SLOWED,
        "options": list(options),
        "gate": {"min_effect": min_effect, "confirm": 1, "baseline_cases_median_s": _medians(baseline), "baseline": "fresh per trial"},
        "trials_per_factor": trials,
        "rows": [results[f].row() for f in factors],
        "wall_s": time.perf_counter() - start,
    }


def _medians(doc: dict[str, Any]) -> dict[str, float]:
    return {b["fullname"]: statistics.median(b["stats"]["data"]) for b in doc["benchmarks"]}
