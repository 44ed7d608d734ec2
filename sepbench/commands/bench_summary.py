"""``sepbench bench-summary``: seed-style vs fastest 10k latency per backend and model, from a saved benchmark run."""

from __future__ import annotations

import argparse

import pandas as pd

from sepbench.bench.saved_runs import load_run, paired_ratios, separable_ratios, summarize
from sepbench.util.paths import results_dir
from sepbench.results.schema import ResultsError
from sepbench.core.spec import MODELS
from sepbench.core.study import study_ratio
from sepbench.util.console import print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bench-summary",
        help="summarize a saved pytest-benchmark run: seed-style vs fastest 10,000-image latency, separable/regular ratios",
    )
    p.add_argument("run", nargs="?", default=None, help="a saved run (.json) or a storage directory, newest run used (default: <results>/bench)")
    return p


def _s(x: float | None, digits: int = 3) -> str:
    return "" if x is None or x != x else f"{x:.{digits}f}"


def run(args: argparse.Namespace) -> int:
    df, machine = load_run(args.run or results_dir() / "bench")
    paired = paired_ratios(df)
    try:
        summary = summarize(df)
    except ResultsError:
        if paired.empty:
            raise
        summary = None  # a run of paired cases only (e.g. `-k paired`)
    roof = machine.get("roofline") or {}
    print(f"run: {df.attrs['source']}")
    print(
        f"machine: {machine.get('cpu_model', '?')}, {machine.get('usable_cores', '?')} usable cores, "
        f"threads {((machine.get('threads') or {}).get('requested'))}; roofline: float32 GEMM {roof.get('gemm_gflops', '?')} GFLOP/s, "
        f"memory {roof.get('mem_bandwidth_gbs', '?')} GB/s"
    )
    if summary is not None:
        _print_summary(summary)
    paired_table(paired)
    return 0


def _print_summary(summary: pd.DataFrame) -> None:
    rows = [
        (r.backend, r.model, _s(r.seed_s), _s(r.fastest_s), r.fastest_way, _s(r.speedup, 1), _s(r.limit_fraction, 2))
        for r in summary.itertuples()
    ]
    print_table(
        "10,000 test images: seed-style (Keras-style evaluate, batch 32) vs the fastest way measured (median seconds)",
        ["backend", "model", "seed-style s", "fastest s", "fastest way (path, batch)", "speed-up", "compute-limit fraction"],
        rows,
        right_from=2,
    )
    ratios = separable_ratios(summary)
    if not ratios.empty:
        print(f"separable / regular: the study's evaluate time {study_ratio('eval_seconds'):.2f}, MACs {MODELS['separable'].macs / MODELS['regular'].macs:.3f}")
        print_table(
            "separable / regular time, this run",
            ["backend", "seed-style", "fastest vs fastest"],
            [(r.backend, _s(r.seed_ratio, 2), _s(r.fastest_ratio, 2)) for r in ratios.itertuples()],
        )


def paired_table(paired: pd.DataFrame) -> None:
    if not paired.empty:
        print_table(
            "separable / regular measured in alternating pairs, 10,000 images each (per-pair ratio: median and quartiles; "
            "the figure to trust on a shared machine)",
            ["backend", "path", "regular s", "separable s", "ratio", "q1-q3", "pairs"],
            [(r.backend, r.path, _s(r.regular_s), _s(r.separable_s), _s(r.ratio, 2), f"{_s(r.q1, 2)}-{_s(r.q3, 2)}", str(int(r.pairs))) for r in paired.itertuples()],
            right_from=2,
        )
