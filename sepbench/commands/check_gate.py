"""``sepbench check gate``: fail on a case slower than a saved baseline (both runs' samples; flagged cases re-run)."""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sepbench.bench.gate import (
    CONFIRM_PROCESSES,
    MIN_EFFECT,
    CaseSamples,
    GateError,
    GateOutcome,
    NotComparable,
    check_comparable,
    confirm,
    confirm_records,
    judge_runs,
    rerun_command,
    samples,
)
from sepbench.bench.nox_args import has_option, saved_threads
from sepbench.bench.records_gate import of_runs, run_ids
from sepbench.commands.arg_types import fraction
from sepbench.results.paired_records import PairedRecord
from sepbench.results.slowdown import SAME
from sepbench.util.console import print_table

AB_CONFIRM = 2  # confirmation sets of A/B rounds after the first (check ab's own default is 1)
PASSTHROUGH = True  # the options after -- are the run's pytest options, for the re-run (sepbench.cli)


def add_parser(sub: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help="compare a pytest-benchmark run with a saved baseline, case by case (exit 1 on a confirmed slowdown)",
        description="Each case: ratio of medians with a 95 % bootstrap interval, against the larger of --min-effect and the "
        "case's own spread; a flagged case is re-run (pytest, the options after --) and fails only if flagged again. "
        "A baseline from another machine, other versions or other threads is refused (exit 2).",
    )
    p.add_argument("baseline", type=Path, help="the saved baseline run (.json, saved with --benchmark-save-data)")
    p.add_argument("run", type=Path, help="the run to judge (.json)")
    p.add_argument(
        "--min-effect", type=fraction, default=MIN_EFFECT, help=f"smallest slowdown that fails, a fraction (default {MIN_EFFECT})"
    )
    p.add_argument("--no-rerun", action="store_true", help="judge the first run only (no confirmation re-run of flagged cases)")
    p.add_argument(
        "--records",
        type=Path,
        default=None,
        help="the folder of this machine's paired records (default: results/bench/records/<machine>): each run's paired "
        "cases are judged over its processes, and their between-process spread widens every single-process case's interval",
    )
    p.epilog = "Options after -- are the run's pytest options, for the re-run (e.g. -- --quick); every option before it is the gate's."
    return p


def _load(path: Path, what: str) -> dict:
    """A run file (a baseline is shared, or downloaded by CI: read with the limits of any result file)."""
    from sepbench.results.formats import check
    from sepbench.results.schema import ResultsError, read_json

    try:
        doc = read_json(path)
        check(doc, "pytest_benchmark", path, "pytest-benchmark")
        samples(doc, f"{what} {path}")  # every value the gate reads, checked now: a refusal names the file and the field
        return doc
    except ResultsError as exc:
        raise GateError(f"{what} {exc}") from None


def _records_of(args: argparse.Namespace) -> tuple[list[PairedRecord], list[str]]:
    """This machine's paired records (``--records`` or the default folder) and the reading's warnings."""
    from sepbench.bench.storage import bench_storage
    from sepbench.machine.fingerprint import machine_name
    from sepbench.results.paired_records import read_records_dir, records_dir
    from sepbench.results.schema import ResultsError

    folder = args.records if args.records is not None else records_dir(bench_storage(), machine_name())
    try:
        return read_records_dir(folder)
    except ResultsError as exc:
        raise GateError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    base, current = _load(args.baseline, "baseline"), _load(args.run, "run")
    records, warnings = _records_of(args)
    for line in warnings:
        print(f"sepbench check gate: {line}", file=sys.stderr)
    pair = (of_runs(records, run_ids(base)), of_runs(records, run_ids(current)))
    try:
        outcome = judge_runs(base, current, args.min_effect, pair)
    except NotComparable as exc:
        print(f"sepbench check gate: NOT COMPARED: {exc}", file=sys.stderr)
        return 2
    if (outcome.flagged or outcome.flagged_records) and not args.no_rerun:
        extra = list(args.passthrough)
        if not has_option(extra, "--threads"):
            threads = saved_threads(args.run)  # else the re-run would choose by the load of its own moment
            extra += ["--threads", str(threads)] if threads is not None else []
        ab = _ab_possible(base, args.passthrough)
        status = _confirm_ab(outcome, base, current, pair[0], extra, args) if ab else _confirm(outcome, base, pair[0], extra, args)
        if status:
            return status
    print_gate_outcome(outcome, samples(base, "baseline"), samples(current, "run"))
    return 1 if outcome.failed else 0


def _ab_possible(base: dict, run_options: list[str]) -> bool:
    """Whether the flagged cases can be confirmed by A/B rounds against the baseline's commit: it is known,
    clean and present, this tree is committed (the A/B check times commits), and the run's difference can
    be the code's (a run given ``--inject-delay`` differs by an option A/B rounds do not take); says why not."""
    from sepbench.checks.gate_ab import base_commit
    from sepbench.machine.provenance import REPO_ROOT
    from sepbench.util.git import GitError, dirty_files, resolve

    commit, why = base_commit(base)
    if any(a.startswith("--inject-delay") for a in run_options):
        why = "the run injected a delay by an option, which A/B rounds of the code do not"
    try:
        if commit is not None:
            resolve(commit, REPO_ROOT)
            if dirty_files(REPO_ROOT):
                why = "this tree has uncommitted changes (the A/B check times commits)"
    except GitError as exc:
        why = f"the baseline's commit is not here ({exc})"
    if commit is None or why:
        print(f"== confirming by re-running the flagged cases (no A/B rounds: {why})", file=sys.stderr, flush=True)
        return False
    return True


def _confirm_ab(
    outcome: GateOutcome, base: dict, current: dict, base_records: list[PairedRecord], extra: list[str], args: argparse.Namespace
) -> int:
    """Time each flagged case's workload with the baseline's commit and HEAD side by side, in interleaved
    rounds (:mod:`sepbench.checks.gate_ab`); a flagged case fails only if that paired comparison is flagged
    too.  A flagged case the A/B workers cannot time (training, Keras's graph forward, a case one commit
    cannot build) is re-run instead (:func:`_confirm`).  0, or the re-run's exit status."""
    from dataclasses import replace

    from sepbench.checks.ab_run import compare
    from sepbench.checks.gate_ab import base_commit, plan
    from sepbench.machine.provenance import REPO_ROOT

    infos = {b.get("fullname"): b.get("extra_info") or {} for b in current.get("benchmarks") or [] if isinstance(b, dict)}
    flagged = [(v.name, infos.get(v.name, {}), None) for v in outcome.flagged]
    flagged += [(v.name, infos.get(v.node, {}), v.key.model) for v in outcome.flagged_records]
    todo = plan(flagged)
    cases = list(dict.fromkeys(todo.cases.values()))
    commit, _ = base_commit(base)
    print(
        f"== confirming {len(cases)} flagged workload(s) by A/B rounds: {str(commit)[:8]} (baseline) vs HEAD", file=sys.stderr, flush=True
    )
    results = {}
    if cases:
        # three sets of rounds, each in fresh workers started in a drawn order: one pair of processes' luck
        # (where their images landed) once made a no-op look 1.19x slower through one confirmation
        ab = compare(str(commit), "HEAD", cases, min_effect=args.min_effect, confirm=AB_CONFIRM, repo=REPO_ROOT, same_commit=True)
        results = {r.case.id: r for r in ab.results}

    def again(name: str, verdict: Any) -> Any:
        case = todo.cases.get(name)
        r = results.get(case.id) if case is not None else None
        return verdict if r is None else replace(verdict, slowdown=r.verdict if r.regressed else replace(r.verdict, verdict=SAME))

    timed = {name for name, case in todo.cases.items() if case.id in results}
    left = GateOutcome(
        [v for v in outcome.flagged if v.name not in timed],
        record_verdicts=[v for v in outcome.flagged_records if v.name not in timed],
        spread=outcome.spread,
    )
    status = _confirm(left, base, base_records, extra, args) if left.flagged or left.flagged_records else 0
    again_left = {v.name: v for v in left.confirmed} | {v.name: v for v in left.confirmed_records or []}
    outcome.confirmed = [again(v.name, v) if v.name in timed else again_left.get(v.name, v) for v in outcome.flagged]
    outcome.confirmed_records = [again(v.name, v) if v.name in timed else again_left.get(v.name, v) for v in outcome.flagged_records]
    outcome.confirmed_by = "A/B rounds" if not left.flagged and not left.flagged_records else "A/B rounds or re-run"
    return status


def _confirm(outcome: GateOutcome, base: dict, base_records: list[PairedRecord], extra: list[str], args: argparse.Namespace) -> int:
    """Time the flagged cases again: each flagged single-process case in one fresh process, each flagged
    paired case in :data:`CONFIRM_PROCESSES` (its records judged against the baseline's).  0, or the exit
    status of a re-run that cannot confirm (another set-up)."""
    from sepbench.bench.record_writer import new_run_id

    rerun_id = new_run_id()
    names = [v.name for v in outcome.flagged]
    paired = sorted({v.node for v in outcome.flagged_records if v.node})
    print(f"== re-running {len(names) + len(paired)} flagged case(s) to confirm", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="sepbench-gate-") as tmp:
        for process in range(CONFIRM_PROCESSES if paired else 1):
            nodes = (names if process == 0 else []) + paired
            if not nodes:
                continue
            out = Path(tmp) / f"rerun-{process}.json"
            proc = subprocess.run(rerun_command(sys.executable, nodes, str(out), [*extra, "--run-id", rerun_id]))
            if proc.returncode != 0 or not out.is_file():
                raise GateError(f"the confirmation re-run failed (pytest exit status {proc.returncode})")
            rerun = _load(out, "rerun")
            try:
                check_comparable(base, rerun)  # a re-run on another set-up (threads) confirms nothing
            except NotComparable as exc:
                print(f"sepbench check gate: NOT CONFIRMED: the re-run: {exc}", file=sys.stderr)
                return 2
            if process == 0 and names:
                confirm(outcome, base, rerun, args.min_effect)
    if paired:
        records, _ = _records_of(args)
        confirm_records(outcome, base_records, of_runs(records, {rerun_id}), args.min_effect)
    return 0


def print_gate_outcome(outcome: GateOutcome, base: dict[str, CaseSamples], run: dict[str, CaseSamples]) -> None:
    again = {v.name: v for v in outcome.confirmed}
    rows = []
    for v in outcome.verdicts:
        s = v.slowdown
        status = s.verdict
        if v.too_noisy:
            status += f" (too noisy to judge finely: spread {v.spread:.0%}, fails only beyond {1 + v.threshold:.2f}x)"
        if v.busier:
            status = f"slower, not judged: other processes held {v.load_shift:.1f} more cores than in the baseline"
        if v.regressed:
            status = "REGRESSION" if v in outcome.regressions else "flagged, not confirmed"
            if v.name in again:
                under_load = ", under more load: not cleared" if again[v.name].busier else ""
                status += f" ({outcome.confirmed_by} {again[v.name].slowdown.ratio:.3f}x{under_load})"
        name = v.name.split("::")[-1]
        ms = (statistics.median(base[v.name].times) * 1e3, statistics.median(run[v.name].times) * 1e3)
        speed = "yes" if v.normalized else "no"
        rows.append(
            [
                name,
                f"{ms[0]:.3f}",
                f"{ms[1]:.3f}",
                speed,
                f"{s.ratio:.3f}",
                f"{s.low:.3f}-{s.high:.3f}",
                f"x{math.exp(v.allowance):.2f}" if v.allowance else "-",
                f"{1 + v.threshold:.2f}x",
                status,
            ]
        )
    cols = ["case", "base ms", "run ms", "per speed", "run/base", "95 % interval", "between processes", "fails beyond", "verdict"]
    title = (
        "Benchmark gate: each case against the baseline (medians of both runs' samples; 'per speed': each sample divided by "
        "the reference matmul of its round, and run/base is of those; 'between processes': the interval widened by what "
        "a fresh process moves the backend's times by, measured on the paired records)"
    )
    print_table(title, cols, rows)
    if outcome.record_verdicts:
        print_record_outcome(outcome)
    noisy = [v.name.split("::")[-1] for v in outcome.verdicts if v.too_noisy]
    if noisy:
        print(f"too noisy in the baseline to judge finely (rerun the baseline on a quieter machine): {', '.join(noisy)}")
    for name in outcome.missing:
        print(f"not in this run: {name}")
    n, flagged = outcome.failed, len(outcome.flagged) + len(outcome.flagged_records)
    print(f"{'FAIL' if n else 'PASS'}: {n} confirmed regression(s) of {outcome.judged} cases ({flagged} flagged)")


def print_record_outcome(outcome: GateOutcome) -> None:
    """Each model of each paired case, over both runs' processes."""
    again = {v.key: v for v in outcome.confirmed_records or []}
    rows = []
    for v in outcome.record_verdicts:
        s = v.slowdown
        status = s.verdict
        if v.regressed:
            status = "REGRESSION" if v in outcome.record_regressions else "flagged, not confirmed"
            if v.key in again:
                status += f" ({outcome.confirmed_by} {again[v.key].slowdown.ratio:.3f}x)"
        speed = "yes" if v.normalized else "no"
        rows.append([v.key.label(), f"{s.n_base}/{s.n_head}", speed, f"{s.ratio:.3f}", f"{s.low:.3f}-{s.high:.3f}", status])
    cols = ["paired case, model", "processes (base/run)", "per speed", "run/base", "95 % interval", "verdict"]
    title = (
        "Benchmark gate, paired cases: each model's time over the processes of both runs (per process the median of its rounds, "
        "divided by the reference matmul timed around them where both runs did; the interval's variance pooled over the "
        "backend and path's cases)"
    )
    print_table(title, cols, rows)
    if outcome.spread is not None:
        print(f"between fresh processes a time moves by {math.expm1(math.sqrt(outcome.spread.variance)):.1%} (sd, {outcome.spread.df} df)")
