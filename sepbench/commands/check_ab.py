"""``sepbench check ab``: the A/B check CI runs (two commits timed A/B in one job; exit 1 on a slowdown)."""

from __future__ import annotations

import argparse
import sys

from sepbench.checks.ab_run import CHANNEL, CONFIRM, MIN_EFFECT, ROUNDS, AbCase, AbError, AbOutcome, compare, default_cases
from sepbench.commands.arg_types import MAX_REPEATS, NameList, fraction, int_in, output_file
from sepbench.results.slowdown import MAX_SAMPLES
from sepbench.util.console import print_table


def add_parser(sub: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help="A/B regression alert between two commits, timed in one job (exit 1 on a slowdown)",
        description="Time the predict workloads of two commits side by side (interleaved rounds, one core, one thread) "
        "and alert on a case whose paired slowdown exceeds --min-effect with 95 % confidence.",
    )
    p.add_argument("--base", default="main", help="git ref to compare against (default: main)")
    p.add_argument("--head", default="HEAD", help="git ref under test (default: HEAD; committed code only)")
    p.add_argument(
        "--case",
        action="append",
        type=_case,
        default=None,
        metavar="ID",
        help="a case BACKEND-MODEL-PATH-bBATCH-nIMAGES (repeatable; default: every backend x model at b1-n1 and b100-n1000)",
    )
    p.add_argument(
        "--backends", nargs="+", action=NameList, default=None, help="only these backends of the default cases (comma- or space-separated)"
    )
    add_alert_options(p)
    p.add_argument("--log", type=output_file, default=None, help="file for the workers' (frameworks') output (default: in the temp folder)")
    return p


def _case(text: str) -> AbCase:
    try:
        return AbCase.parse(text)
    except ValueError as exc:  # argparse shows its own message for a ValueError, this one for this type
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_alert_options(p: argparse.ArgumentParser) -> None:
    """--rounds, --min-effect, --confirm (shared with ``sepbench check ab-rates``)."""
    p.add_argument("--rounds", type=int_in(5, MAX_SAMPLES), default=ROUNDS, help=f"interleaved rounds per set (default {ROUNDS})")
    p.add_argument(
        "--min-effect", type=fraction, default=MIN_EFFECT, help=f"smallest slowdown that alerts, as a fraction (default {MIN_EFFECT})"
    )
    p.add_argument(
        "--confirm",
        type=int_in(0, MAX_REPEATS),
        default=CONFIRM,
        help=f"further sets of rounds for a flagged case, in fresh processes; it alerts if its sets pooled are flagged (default {CONFIRM})",
    )


def run(args: argparse.Namespace) -> int:
    from impls.registry import check_backend_name
    from sepbench.core.spec import get_model_spec

    cases = list(args.case or default_cases())
    if args.backends is not None:
        if not args.backends:
            raise ValueError("--backends names no backend (give e.g. numpy,torch)")
        wanted = set(args.backends)
        cases = [c for c in cases if c.backend in wanted]
        for b in wanted:
            check_backend_name(b)
    for c in cases:  # a typo fails here, before two commits are exported and set up
        check_backend_name(c.backend)
        get_model_spec(c.model)
    if not cases:
        raise ValueError("no case left to compare (see --case / --backends)")
    if args.log:
        from sepbench.util.atomic import check_writable

        check_writable(args.log)  # before two commits are exported and timed
    try:
        outcome = compare(
            args.base,
            args.head,
            cases,
            rounds=args.rounds,
            min_effect=args.min_effect,
            confirm=args.confirm,
            log_path=args.log,
            progress=lambda msg: print(f"== {msg}", file=sys.stderr, flush=True),
        )
    except AbError as exc:
        print(f"sepbench check ab: error: {exc}", file=sys.stderr)
        return 2
    print_ab_outcome(outcome)
    return 1 if outcome.failed or outcome.model_changes else 0


def print_ab_outcome(outcome: AbOutcome) -> None:
    rows = []
    for r in outcome.results:
        v = r.verdict
        flag = "REGRESSION" if r.regressed else ("flagged, not confirmed" if r.judgements[0].regressed else v.verdict)
        rows.append([r.case.id, f"{_ms(r.base)}", f"{_ms(r.head)}", f"{v.ratio:.3f}", f"{v.low:.3f}-{v.high:.3f}", len(r.judgements), flag])
    title = (
        f"A/B alert {outcome.base[:8]} (base) -> {outcome.head[:8]} (head): {outcome.rounds} rounds per set, "
        f"alert beyond {1 + outcome.min_effect:.2f}x with 95 % confidence; channel: {CHANNEL}"
    )
    # a line of its own: as the table's title, rich wraps it to the table's width, which the verdicts' words set
    print(title)
    print_table("", ["case", "base ms", "head ms", "head/base", "95 % interval", "sets", "verdict"], rows)
    for backend, why in outcome.skipped.items():
        print(f"skipped {backend}: {why}")
    for change in outcome.model_changes:
        print(f"MODEL CHANGED: {change}")
    for r in outcome.regressions:
        print(f"REGRESSION: {r.case.id}: {r.verdict.describe()}; channel: {CHANNEL}")
    verdict = "FAIL" if outcome.failed or outcome.model_changes else "OK: no regression"
    print(f"{verdict} ({len(outcome.results)} cases, {outcome.wall_s:.0f} s; workers' log: {outcome.log})")


def _ms(seconds: list[float]) -> str:
    import statistics

    return f"{statistics.median(seconds) * 1e3:.3f}"
