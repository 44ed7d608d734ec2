"""``sepbench check ab-rates`` / ``check gate-rates``: the A/B check's and the benchmark gate's hit and
false-alarm rates on commits of known slowdown (in a scratch clone of HEAD)."""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sepbench.commands.arg_types import MAX_REPEATS, int_in, output_file
from sepbench.commands.check_ab import add_alert_options
from sepbench.util.console import print_table


def add_parser(sub: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help="measure the A/B alert's hit and false-alarm rates (commits slowed 1.00-2.0x, in a scratch clone)",
    )
    add_rate_options(p, trials=20, factors="1.00,1.05,1.10,1.25,2.0")
    p.add_argument(
        "--ci-cases",
        action="store_true",
        help="time CI's own selection (every backend x model, b1-n1 and b100-n1000; slowed: numpy-regular-default-b100-n1000)",
    )
    add_alert_options(p)
    return p


def add_rate_options(p: argparse.ArgumentParser, trials: int, factors: str) -> None:
    p.add_argument("--trials", type=int_in(1, MAX_REPEATS), default=trials, help=f"runs per factor (default {trials})")
    p.add_argument("--factors", default=factors, help="slowdown factors, 1.00 = a no-op commit (default %(default)s)")
    p.add_argument("--output", type=output_file, default=None, help="the rates JSON (default: results/<kind>-<machine>-<UTC time>.json)")


def factors_of(text: str) -> list[float]:
    """``--factors``: numbers in 1.00..10.00 in steps of 0.01 (the injected work is in whole percent)."""
    try:
        factors = [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise ValueError(f"--factors takes numbers separated by commas, e.g. 1.00,1.10,2.0; got {text!r}") from None
    if not factors or any(not 1.0 <= f <= 10.0 or abs(f * 100 - round(f * 100)) > 1e-6 for f in factors):
        raise ValueError(f"--factors must lie in 1.00..10.00, in steps of 0.01 (1.00 is the no-op commit); got {text!r}")
    return factors


def run(args: argparse.Namespace) -> int:
    from sepbench.checks.ab_rates import CI_SLOWED, RATE_CASES, SLOWED, run_ab_rates
    from sepbench.checks.ab_run import default_cases

    cases, slowed = (default_cases(), CI_SLOWED) if args.ci_cases else (RATE_CASES, SLOWED)

    def measure_rates(source: Path, factors: list[float], progress: Callable[[str], None]) -> dict[str, Any]:
        options = {"rounds": args.rounds, "min_effect": args.min_effect, "confirm": args.confirm}
        return run_ab_rates(source, args.trials, factors, cases, slowed, progress=progress, **options)

    return run_and_save(args, "ab-rates", measure_rates, "A/B check rates")


def run_and_save(args: argparse.Namespace, kind: str, measure_rates: Callable[..., dict[str, Any]], title: str) -> int:
    """Run ``measure_rates`` on this checkout, write its JSON (atomically, to a new file) and print its table."""
    from sepbench.machine.fingerprint import machine_name
    from sepbench.machine.provenance import REPO_ROOT, collect_provenance
    from sepbench.util.atomic import atomic_write_json, check_writable, unique_path
    from sepbench.util.paths import results_dir

    factors = factors_of(args.factors)
    if args.trials < 1:
        raise ValueError("--trials must be >= 1")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = check_writable(args.output) if args.output else unique_path(results_dir(), f"{kind}-{machine_name()}-{stamp}", ".json")
    try:
        result = measure_rates(REPO_ROOT, factors, lambda msg: print(msg, file=sys.stderr, flush=True))
        result["kind"] = kind
        result["provenance"] = collect_provenance(extra={"threads": 1})
        atomic_write_json(out, result)
    except (RuntimeError, subprocess.CalledProcessError) as exc:  # a failed run or git step: one line, the log named
        detail = (exc.stderr or "").strip() if isinstance(exc, subprocess.CalledProcessError) else ""
        print(f"sepbench check {kind}: error: {exc}{': ' + detail if detail else ''}", file=sys.stderr)
        return 2
    finally:
        if not args.output and out.is_file() and out.stat().st_size == 0:
            out.unlink()  # the reserved name, never filled
    print_rates(result, title)
    print(f"written: {out}")
    return 0


def print_rates(rates: dict[str, Any], title: str) -> None:
    rows = []
    for r in rates["rows"]:
        what = "false alarms" if r["factor"] == 1.0 else "hits"
        rows.append(
            [
                f"{r['factor']:.2f}",
                r["trials"],
                f"{r['alerts']} {what}",
                f"{r['rate']:.0%}",
                f"{r['rate_low']:.0%}-{r['rate_high']:.0%}",
                f"{r['measured_slowdown']:.3f}",
                r["other_false_alarms"],
                f"{r['wall_s_median']:.0f} / {r['wall_s_max']:.0f}",
            ]
        )
    cols = ["factor", "trials", "alerts", "rate", "95 % Wilson", "measured", "other alerts", "wall s (median / max)"]
    print_table(f"{title}: slowed case {rates['slowed_case']}; cases {', '.join(rates['cases'])}", cols, rows)
