"""``sepbench report``: the study beside our measurements, from whatever results exist -> reports/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sepbench.commands.arg_types import NameList, output_dir
from sepbench.util.neutralise import terminal
from sepbench.util.paths import asv_results_dirs, results_dir


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report",
        help="build the comparison report (HTML, Markdown, CSV, PNG) from reproduce, pytest-benchmark and ASV results",
        description="Reads results (never a framework) and writes index.html, report.md, CSVs and PNGs.",
    )
    p.add_argument(
        "--results",
        action="append",
        type=Path,
        metavar="DIR",
        help="a results directory, searched recursively for reproduce and pytest-benchmark JSON "
        "(repeatable; default: $SEPBENCH_RESULTS_DIR or ./results)",
    )
    p.add_argument(
        "--asv-results",
        action="append",
        type=Path,
        metavar="DIR",
        help="an ASV results directory (repeatable; default: .asv/results and, when present, history/; "
        "a result in both is read once, from .asv/results)",
    )
    p.add_argument(
        "--pairs",
        nargs="+",
        action=NameList,
        default=[],
        metavar="FILE",
        help="pair files (.toml), comma- or space-separated, whose models' parameter and MAC counts the results are checked "
        "against (a built-in model's always are; a user pair's are otherwise the result files' own, and the report says so)",
    )
    p.add_argument(
        "--output", type=output_dir, default=Path("reports"), metavar="DIR", help="where to write the report (default: reports/)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    from sepbench.core.pairs import get_pair, known_specs

    # a bad pair file: one line, exit 2, before any result is read; its models only (its data files may be elsewhere)
    specs = known_specs([get_pair(p, data_files=False) for p in args.pairs])

    from sepbench.machine.fingerprint import machine_name
    from sepbench.report.build import NoResultsError, build_report
    from sepbench.util.console import print_table

    results = args.results or [results_dir()]
    asv = args.asv_results or asv_results_dirs()
    try:
        report = build_report(results, asv, args.output, this_machine=machine_name(), specs=specs)
    except NoResultsError as exc:
        print(f"sepbench report: {exc}", file=sys.stderr)
        return 1
    for w in report.warnings:
        print(f"warning: {terminal(w)}", file=sys.stderr)
    top = report.headline  # the answer first, as on the page: where, then one sentence per line
    print("\n".join(terminal(line) for line in (top.where, *top.sentences) if line))
    view = report.sections["verdict"].view
    print_table(view.caption, list(view.columns), view.terminal_rows(), right_from=len(view.columns))  # words, not numbers
    if view.footnotes:
        print("\n".join(f"[{i}] {terminal(n)}" for i, n in enumerate(view.footnotes, 1)))
    svm = report.sections["study_vs_measured"].shown
    print_table("The study vs our measurements", list(svm.columns), svm.values.tolist(), right_from=5)
    for note in report.missing:
        print(f"missing: {terminal(note)}")
    print(f"report written to {args.output / 'index.html'} ({len(report.files)} files in {args.output})")
    return 0
