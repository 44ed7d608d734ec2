"""The gate-rates run: how often ``nox -s bench -- --compare`` (the benchmark gate) fails, on commits of
known slowdown.

The same commits as the ab-rates run (:func:`sepbench.checks.ab_rates.make_commits`: NumPy's forward does
``factor`` times the work; 1.00 is a no-op). Each trial saves a baseline job of a small selection of
tests/bench from the base commit (a fresh one per trial: a baseline's own luck is part of what a
user of the gate meets); then, per factor, the selection is run again from that commit's tree and
judged against the baseline exactly as the gate does (:mod:`sepbench.bench.gate`, flagged cases
re-run).  A job is what ``nox -s bench`` does in small: the selection in one process, then its paired
cases in :data:`PROCESSES` - 1 more fresh processes, every process writing its records; the gate judges
the paired cases over both jobs' processes and widens the single-process cases' intervals by the
between-process spread (:mod:`sepbench.bench.records_gate`).

A trial is a **hit** when a slowed case fails: NumPy's 10,000-image predict at batch 1024 (10 batches a
call, so the factor's extra batches, on average), or either model of NumPy's study-style evaluate
(paired); any other failure, and any failure at 1.00, is a **false alarm**.
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

from sepbench.bench.gate import CONFIRM_PROCESSES, MIN_EFFECT, GateOutcome, confirm, confirm_records, judge_runs, rerun_command
from sepbench.bench.record_writer import new_run_id
from sepbench.bench.records_gate import of_runs
from sepbench.checks.ab_rates import FactorResult, make_commits
from sepbench.checks.ab_run import export
from sepbench.results.paired_records import PairedRecord, read_records_dir, records_dir
from sepbench.util.atomic import new_log

GATE_SLOWED = "tests/bench/test_bench.py::test_predict_10k[numpy-regular-default-b1024-n10000]"
SLOWED_PAIRED = "tests/bench/test_bench.py::test_separable_vs_regular_paired_evaluate[numpy-pair-default-b32-n10000]"
PAIRED_QUIET = "tests/bench/test_bench.py::test_separable_vs_regular_paired[torch-pair-fast-b1024-n10000]"
# the slowed cases (the latency one once moved 1.24x between two runs of the same code), two single-process cases
# and a paired case not slowed: all cases of the default job, which the gate judges (batch 1 is --full's)
SELECTION = (
    GATE_SLOWED,
    "tests/bench/test_bench.py::test_predict_10k[torch-regular-default-b1024-n10000]",
    "tests/bench/test_bench.py::test_evaluate[torch-regular-default-b32-n10000]",
    SLOWED_PAIRED,
    PAIRED_QUIET,
)
GATE_FACTORS = (1.00, 1.10, 1.25, 2.0)
OPTIONS = ("--backends", "numpy,torch", "--threads", "1", "--pairs", "study")
PROCESSES = 2  # processes of a job's paired cases: --quick's schedule (the full job's is 3 or more)


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


def _is_paired(node: str) -> bool:
    return "_paired" in node.split("::")[-1]


def _job(tree: Path, storage: Path, cases: Sequence[str], options: Sequence[str], log: Path, processes: int) -> tuple[dict[str, Any], str]:
    """A job of ``cases`` from ``tree``: all of them in one process, the paired ones in ``processes`` - 1 more
    (records under ``storage``); the first process's run file and the job's run id."""
    run_id = new_run_id()
    doc: dict[str, Any] = {}
    for p in range(processes):
        nodes = list(cases) if p == 0 else [c for c in cases if _is_paired(c)]
        if not nodes:
            break
        out = _bench(
            tree, storage / f"{run_id}-{p}.json", nodes, [*options, "--run-id", run_id, f"--benchmark-storage=file://{storage}"], log
        )
        doc = doc or out
    return doc, run_id


def _records(storage: Path, run_id: str) -> list[PairedRecord]:
    from sepbench.machine.fingerprint import machine_name

    records, _ = read_records_dir(records_dir(storage, machine_name()))
    return of_runs(records, {run_id})


def _judged(
    tree: Path,
    storage: Path,
    baseline: tuple[dict[str, Any], str],
    cases: Sequence[str],
    options: Sequence[str],
    log: Path,
    min_effect: float,
) -> GateOutcome:
    """One gate run: a job of ``tree`` judged against ``baseline`` (its run file and run id), flagged cases
    timed again (single-process ones in one process, paired ones in :data:`CONFIRM_PROCESSES`)."""
    run, run_id = _job(tree, storage, cases, options, log, PROCESSES)
    base_records = _records(storage, baseline[1])
    outcome = judge_runs(baseline[0], run, min_effect, (base_records, _records(storage, run_id)))
    flagged = [v.name for v in outcome.flagged] + sorted({v.node for v in outcome.flagged_records if v.node})
    if flagged:
        rerun, rerun_id = _job(tree, storage, flagged, options, log, CONFIRM_PROCESSES)
        if outcome.flagged:
            confirm(outcome, baseline[0], rerun, min_effect)
        if outcome.flagged_records:
            confirm_records(outcome, base_records, _records(storage, rerun_id), min_effect)
    return outcome


def run_gate_rates(
    source: Path,
    trials: int = 10,
    factors: Sequence[float] = GATE_FACTORS,
    cases: Sequence[str] = SELECTION,
    options: Sequence[str] = OPTIONS,
    min_effect: float = MIN_EFFECT,
    progress: Callable[[str], None] = lambda msg: None,
) -> dict[str, Any]:
    """``trials`` gate runs per factor, each trial against a fresh baseline (see the module docstring); the study as a dict."""
    start = time.perf_counter()
    results = {f: FactorResult(f, GATE_SLOWED.split("::")[-1]) for f in factors}
    scratch = Path(tempfile.mkdtemp(prefix="sepbench-gate-rates-"))
    log = new_log("sepbench-gate-rates-pytest-")  # kept: what failed, if anything did
    try:
        base, commits = make_commits(source, scratch / "repo", factors)
        trees = {f: export(scratch / "repo", commits[f], scratch / f"tree-{f:.2f}") for f in factors}
        base_tree = export(scratch / "repo", base, scratch / "tree-base")
        storage = scratch / "storage"
        for trial in range(trials):
            # a fresh baseline per trial (shared by its factors): a baseline's own luck is part of the gate's
            baseline = _job(base_tree, storage, cases, options, log, PROCESSES)
            for factor in factors:
                t0 = time.perf_counter()
                outcome = _judged(trees[factor], storage, baseline, cases, options, log, min_effect)
                slowed = next((v for v in outcome.verdicts if v.name == GATE_SLOWED), None)
                if slowed is None:
                    raise RuntimeError(f"the slowed case {GATE_SLOWED} did not run (see {log})")
                alarms = {v.name.split("::")[-1]: v.slowdown.ratio for v in outcome.regressions}
                alarms |= {v.name: v.slowdown.ratio for v in outcome.record_regressions}
                paired_hit = {v.name for v in outcome.record_regressions if v.node == SLOWED_PAIRED}
                hit = GATE_SLOWED in {v.name for v in outcome.regressions} or bool(paired_hit)
                if factor != 1.0:  # a slowed paired model that fails is a hit, not another case's false alarm
                    alarms = {k: r for k, r in alarms.items() if k not in paired_hit}
                line = results[factor].record(trial + 1, slowed.slowdown.ratio, hit, alarms, time.perf_counter() - t0)
                progress(f"trial {trial + 1}/{trials} {line}; {len(outcome.flagged) + len(outcome.flagged_records)} flagged")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "base": base,
        "cases": list(cases),
        "slowed_case": GATE_SLOWED,
        "options": list(options),
        "gate": {
            "min_effect": min_effect,
            "confirm": 1,
            "processes": PROCESSES,
            "confirm_processes": CONFIRM_PROCESSES,
            "baseline_cases_median_s": _medians(baseline[0]),
            "baseline": "fresh per trial",
        },
        "trials_per_factor": trials,
        "rows": [results[f].row() for f in factors],
        "wall_s": time.perf_counter() - start,
    }


def _medians(doc: dict[str, Any]) -> dict[str, float]:
    return {b["fullname"]: statistics.median(b["stats"]["data"]) for b in doc["benchmarks"]}
