"""``sepbench check asv``: the ASV check (``asv continuous`` base..head + exact figures; exit 1 on a confirmed regression)."""

from __future__ import annotations

import argparse

from sepbench.asv.continuous import DEFAULT_FACTOR, regress
from sepbench.asv.history import AsvError
from sepbench.commands.arg_types import MAX_REPEATS, factor, int_in, machine


def add_parser(sub: argparse._SubParsersAction, name: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help="ASV regression check between a base ref and HEAD (exit 1 on a regression)")
    p.add_argument("--base", default="main", help="git ref to compare against (default: main)")
    p.add_argument("--head", default="HEAD", help="git ref under test (default: HEAD; must be committed)")
    p.add_argument(
        "--factor", type=factor, default=DEFAULT_FACTOR, help=f"alert when worse by more than this factor (default {DEFAULT_FACTOR})"
    )
    p.add_argument(
        "--machine",
        type=machine,
        default=None,
        help="ASV machine name (default: $SEPBENCH_ASV_MACHINE, else this machine's hardware name)",
    )
    p.add_argument("--bench", action="append", default=[], help="only benchmarks matching this regex (repeatable)")
    p.add_argument("--attribute", "-a", action="append", default=[], help="override a benchmark attribute, e.g. repeat=5 (repeatable)")
    p.add_argument(
        "--confirm",
        type=int_in(0, MAX_REPEATS),
        default=1,
        metavar="N",
        help="re-run flagged benchmarks N times; alert only if worse every time (default 1; 0: trust the first run)",
    )
    p.add_argument("--allow-model-change", action="store_true", help="report, but do not fail on, a changed parameter or MAC count")
    return p


def run(args: argparse.Namespace) -> int:
    import re
    import sys

    for pattern in args.bench:  # checked before any git or ASV work
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"--bench {pattern!r} is not a regular expression ({exc})") from None
    try:
        outcome = regress(
            args.base, args.head, args.factor, args.machine, args.bench, args.attribute, args.allow_model_change, confirm=args.confirm
        )
    except AsvError as exc:
        print(f"sepbench check asv: error: {exc}", file=sys.stderr)
        return 2
    return 1 if outcome.failed else 0
