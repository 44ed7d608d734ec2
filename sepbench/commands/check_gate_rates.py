"""``sepbench check gate-rates``: the benchmark gate's hit and false-alarm rates on commits of known slowdown."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sepbench.bench.gate import MIN_EFFECT
from sepbench.commands.arg_types import fraction
from sepbench.commands.check_ab_rates import add_rate_options, run_and_save


def add_parser(sub: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help="measure the benchmark gate's hit and false-alarm rates (tests/bench runs of commits slowed 1.00-2.0x)",
    )
    add_rate_options(p, trials=10, factors="1.00,1.10,1.25,2.0")
    p.add_argument("--min-effect", type=fraction, default=MIN_EFFECT, help=f"the gate's minimum effect (default {MIN_EFFECT})")
    p.add_argument("--quick", action="store_true", help="time the cases with --quick's round budget (default: the full one)")
    return p


def run(args: argparse.Namespace) -> int:
    from sepbench.checks.gate_rates import OPTIONS, run_gate_rates

    options = [*OPTIONS, *(["--quick"] if args.quick else [])]

    def measure_rates(source: Path, factors: list[float], progress: Callable[[str], None]) -> dict[str, Any]:
        return run_gate_rates(source, args.trials, factors, options=options, min_effect=args.min_effect, progress=progress)

    return run_and_save(args, "gate-rates", measure_rates, "Gate rates")
