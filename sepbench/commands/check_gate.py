"""``sepbench check gate``: fail on a case slower than a saved baseline (both runs' samples; flagged cases re-run)."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from sepbench.bench.gate import (
    MIN_EFFECT,
    CaseSamples,
    GateError,
    GateOutcome,
    NotComparable,
    check_comparable,
    confirm,
    judge_runs,
    rerun_command,
    samples,
)
from sepbench.bench.nox_args import has_option, saved_threads
from sepbench.commands.arg_types import fraction
from sepbench.util.console import print_table

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


def run(args: argparse.Namespace) -> int:
    base, current = _load(args.baseline, "baseline"), _load(args.run, "run")
    try:
        outcome = judge_runs(base, current, args.min_effect)
    except NotComparable as exc:
        print(f"sepbench check gate: NOT COMPARED: {exc}", file=sys.stderr)
        return 2
    if outcome.flagged and not args.no_rerun:
        extra = list(args.passthrough)
        if not has_option(extra, "--threads"):
            threads = saved_threads(args.run)  # else the re-run would choose by the load of its own moment
            extra += ["--threads", str(threads)] if threads is not None else []
        with tempfile.TemporaryDirectory(prefix="sepbench-gate-") as tmp:
            out = Path(tmp) / "rerun.json"
            names = [v.name for v in outcome.flagged]
            print(f"== re-running {len(names)} flagged case(s) to confirm", file=sys.stderr, flush=True)
            proc = subprocess.run(rerun_command(sys.executable, names, str(out), extra))
            if proc.returncode != 0 or not out.is_file():
                raise GateError(f"the confirmation re-run failed (pytest exit status {proc.returncode})")
            rerun = _load(out, "rerun")
            try:
                check_comparable(base, rerun)  # a re-run on another set-up (threads) confirms nothing
            except NotComparable as exc:
                print(f"sepbench check gate: NOT CONFIRMED: the re-run: {exc}", file=sys.stderr)
                return 2
            confirm(outcome, base, rerun, args.min_effect)
    print_outcome(outcome, samples(base, "baseline"), samples(current, "run"))
    return 1 if outcome.regressions else 0


def print_outcome(outcome: GateOutcome, base: dict[str, CaseSamples], run: dict[str, CaseSamples]) -> None:
    again = {v.name: v for v in outcome.confirmed}
    rows = []
    for v in outcome.verdicts:
        s = v.slowdown
        status = s.verdict
        if v.too_noisy:
            status += f" (too noisy to judge finely: spread {v.spread:.0%}, fails only beyond {1 + v.threshold:.2f}x)"
        if v.regressed:
            status = "REGRESSION" if v in outcome.regressions else "flagged, not confirmed"
            if v.name in again:
                status += f" (re-run {again[v.name].slowdown.ratio:.3f}x)"
        name = v.name.split("::")[-1]
        ms = (statistics.median(base[v.name].times) * 1e3, statistics.median(run[v.name].times) * 1e3)
        speed = "yes" if v.normalized else "no"
        rows.append(
            [name, f"{ms[0]:.3f}", f"{ms[1]:.3f}", speed, f"{s.ratio:.3f}", f"{s.low:.3f}-{s.high:.3f}", f"{1 + v.threshold:.2f}x", status]
        )
    cols = ["case", "base ms", "run ms", "per speed", "run/base", "95 % interval", "fails beyond", "verdict"]
    title = (
        "Benchmark gate: each case against the baseline (medians of both runs' samples; 'per speed': each sample divided by "
        "the reference matmul of its round, and run/base is of those)"
    )
    print_table(title, cols, rows)
    noisy = [v.name.split("::")[-1] for v in outcome.verdicts if v.too_noisy]
    if noisy:
        print(f"too noisy in the baseline to judge finely (rerun the baseline on a quieter machine): {', '.join(noisy)}")
    for name in outcome.missing:
        print(f"not in this run: {name}")
    n = len(outcome.regressions)
    print(f"{'FAIL' if n else 'PASS'}: {n} confirmed regression(s) of {len(outcome.verdicts)} cases ({len(outcome.flagged)} flagged)")
