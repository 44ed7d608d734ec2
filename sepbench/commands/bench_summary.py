"""``sepbench bench-summary``: study-style vs fastest 10k latency per backend and model, from a saved benchmark run.

The run is read with the report's pytest-benchmark reader and judged by the report's rules
(:mod:`sepbench.results.verdict`), so its "fastest way" and paired ratios are the report's.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from sepbench.bench.storage import NoSavedRunError, resolve_run
from sepbench.core.study import MAC_RATIO, study_ratio
from sepbench.results import paired as paired_rules
from sepbench.results import verdict
from sepbench.results.claim_verdicts import claim_verdicts
from sepbench.results.paired_records import PairedRecord, read_records_dir, records_dir
from sepbench.results.read_pytest_benchmark import read_run
from sepbench.results.schema import ResultsError
from sepbench.results.tidy import unchecked_models, unchecked_note
from sepbench.util.console import print_table
from sepbench.util.neutralise import terminal
from sepbench.util.paths import results_dir


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench-summary",
        help="summarize a saved pytest-benchmark run: study-style vs fastest 10,000-image latency, separable/regular ratios",
    )
    p.add_argument(
        "run", nargs="?", default=None, help="a saved run (.json) or a storage directory, newest run used (default: <results>/bench)"
    )
    p.add_argument(
        "--records",
        default=None,
        metavar="DIR",
        help="the paired records the speed claims are estimated from (default: <results>/bench/records/<the run's machine>)",
    )
    return p


def _s(x: float | None, digits: int = 3) -> str:
    return "" if x is None or x != x else f"{x:.{digits}f}"


def run(args: argparse.Namespace) -> int:
    try:
        path = resolve_run(args.run or results_dir() / "bench")
    except NoSavedRunError as exc:
        raise ResultsError(str(exc)) from None  # the CLI prints it as one line, exit status 2
    dropped: list[str] = []
    df, machine = read_run(path, dropped)
    paired = paired_rules.paired(df)
    try:
        summary = verdict.study_vs_fastest(df)
    except ResultsError:
        if paired.empty:
            raise
        summary = None  # a run of paired cases only (e.g. `-k paired`)
    print(f"run: {path}")
    print(machine_line(df, machine))
    unchecked = unchecked_models(df.to_dict("records"))
    for line in [*dropped, *([unchecked_note(unchecked)] if unchecked else [])]:  # what decides nothing, or unchecked: said
        print(terminal(line))
    if summary is not None:
        print_summary(summary)
    print_paired(paired)
    records = _records(args.records, df)
    print_verdicts(df, records)
    return 0


def _records(directory: str | None, df: pd.DataFrame) -> list[PairedRecord]:
    """The paired records of the run's machine (every process of every run that pools), a line saying how many."""
    machines = df["machine"].dropna().unique() if "machine" in df else []
    if directory is None and len(machines) != 1:
        return []
    folder = Path(directory) if directory else records_dir(results_dir() / "bench", str(machines[0]))
    try:
        records, warnings = read_records_dir(folder)
    except ResultsError as exc:  # the run's own rows still give a verdict
        print(terminal(f"paired records not read: {exc}"))
        return []
    for w in warnings:
        print(terminal(w))
    if records:
        runs = len({r.process.run_id for r in records})
        processes = len({(r.process.run_id, r.process.pid, r.process.started) for r in records})
        print(f"paired records: {len(records)} from {processes} processes of {runs} run(s) in {folder}")
    return records


def print_verdicts(df: pd.DataFrame, records: Iterable[PairedRecord] = ()) -> None:
    """The study's claims on this run, each cell the outcome with its estimate and 95 % interval
    (decided by :mod:`sepbench.core.claims`, as the report decides them)."""
    from sepbench.core.claims import CLAIMS, OUTCOME_MEANING

    rows = [(pair, str(v), *(x.cell() for x in verdicts)) for _, pair, v, verdicts in claim_verdicts(df, records)]
    if rows:
        print_table(
            "The verdict of this run: the study's claims per pair and backend path",
            ["pair", "backend path", *(c.column for c in CLAIMS)],
            rows,
            right_from=len(CLAIMS) + 2,
        )
        print("; ".join(f"{k}: {m}" for k, m in OUTCOME_MEANING.items()))


def machine_line(df: pd.DataFrame, machine: dict[str, Any]) -> str:
    """CPU, cores, threads and the run's roofline probe (GFLOP/s and the source that set it, GB/s), in one line."""
    probes = verdict.roofline_probes(df)
    probe = probes.iloc[0] if len(probes) else pd.Series({"gemm_gflops": "?", "mem_gbs": "?", "floor_source": ""})
    cpu = df["cpu"].dropna().iloc[0] if df["cpu"].notna().any() else "?"
    source = f" ({probe['floor_source']})" if probe["floor_source"] else ""  # the compute source that set the floor
    return (
        f"machine: {cpu}, {machine.get('usable_cores', '?')} usable cores, "
        f"threads {((machine.get('threads') or {}).get('requested'))}; roofline: float32 GEMM {probe['gemm_gflops']} GFLOP/s{source}, "
        f"memory {probe['mem_gbs']} GB/s"
    )


def print_summary(summary: pd.DataFrame) -> None:
    """The study-style vs fastest table and the separable / regular ratios of both."""
    rows = [
        (r.backend, r.model, _s(r.study_style_s), _s(r.fastest_s), r.fastest_way, _s(r.speedup, 1), _s(r.limit_fraction, 2))
        for r in summary.itertuples()
    ]
    print_table(
        "10,000 test images: study-style (Keras-style evaluate, batch 32) vs the fastest way measured (median seconds)",
        ["backend", "model", "study-style s", "fastest s", "fastest way (path, batch)", "speed-up", "compute-limit fraction"],
        rows,
        right_from=2,
    )
    ratios = verdict.separable_ratios(summary)
    if not ratios.empty:
        print(f"separable / regular: the study's evaluate time {study_ratio('eval_seconds'):.2f}, MACs {MAC_RATIO:.3f}")
        print_table(
            "separable / regular time, this run",
            ["backend", "study-style", "fastest vs fastest"],
            [(r.backend, _s(r.study_style_ratio, 2), _s(r.fastest_ratio, 2)) for r in ratios.itertuples()],
        )


def print_paired(paired: pd.DataFrame) -> None:
    """The paired candidate / baseline table, a row per pair and path (nothing when the run has no paired cases)."""
    if not paired.empty:
        print_table(
            "candidate / baseline in alternating pairs, 10,000 images each",
            ["pair", "backend", "path", "baseline s", "candidate s", "ratio", "q1-q3", "pairs"],
            [
                (
                    r.pair,
                    r.backend,
                    r.path,
                    _s(r.baseline_s),
                    _s(r.candidate_s),
                    _s(r.ratio, 2),
                    f"{_s(r.q1, 2)}-{_s(r.q3, 2)}",
                    _s(r.pairs, 0),
                )
                for r in paired.itertuples()
            ],
            right_from=3,
        )
