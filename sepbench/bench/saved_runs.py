"""Read saved pytest-benchmark runs (``results/bench/<machine>/NNNN_*.json``) into pandas.

- :func:`saved_runs` / :func:`resolve_run`: find the runs in a storage directory (oldest first).
- :func:`load_run`: one row per benchmark (timings in seconds plus the ``extra_info`` keys) and
  the run's ``machine_info``.
- :func:`summarize`: per backend and model, the study's seed-style measurement (Keras-style
  evaluate of 10,000 images at batch 32) against the fastest way the run found to do the same
  10,000 images, and :func:`separable_ratios` of both.

Imports no framework: it only reads files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sepbench.bench.storage import NoSavedRunError, resolve_run
from sepbench.results.schema import WORKLOAD_GRAPH_FORWARD, WORKLOAD_PAIRED, ResultsError

TEN_K = 10_000
STAT_COLUMNS = ("min", "max", "mean", "median", "stddev", "iqr", "rounds")


def load_run(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per benchmark of a saved run (``median`` etc. in seconds, plus ``extra_info``) and its machine info."""
    try:
        path = resolve_run(path)
    except NoSavedRunError as exc:
        raise ResultsError(str(exc)) from None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        benchmarks = data["benchmarks"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{path}: not a pytest-benchmark JSON file ({exc})") from None
    rows = []
    for b in benchmarks:
        stats = b.get("stats") or {}
        row = {"name": b.get("name"), "group": b.get("group"), **{k: stats.get(k) for k in STAT_COLUMNS}}
        row.update(b.get("extra_info") or {})
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["source"] = str(path)
    return df, data.get("machine_info") or {}


def _way(row: pd.Series) -> str:
    if row.get("workload") == "evaluate":
        return f"evaluate b{int(row['batch_size'])}"
    if row.get("batch_free") is True:  # the path ran in its own chunks: its batch size means nothing
        return str(row.get("path"))
    return f"{row.get('path')} b{int(row['batch_size'])}"


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per backend and model: seed-style evaluate-10k median seconds vs the fastest 10,000-image way.

    Columns: ``backend``, ``model``, ``seed_s`` (evaluate of 10,000 at batch 32), ``fastest_s`` and
    ``fastest_way`` (path and batch of the quickest benchmark over 10,000 images, evaluate included;
    the path alone for a path that ignores the batch size),
    ``speedup`` (seed / fastest) and ``limit_fraction`` (compute-limit seconds / fastest seconds).
    """
    need = {"backend", "model", "n_images", "workload", "median"}
    if df.empty or not need <= set(df.columns):
        raise ResultsError(f"{df.attrs.get('source', 'run')}: no sepbench benchmarks with extra_info ({', '.join(sorted(need))}) in it")
    ten_k = df[df["n_images"] == TEN_K]
    # the TensorFlow graph-forward case takes Keras's evaluate apart, and a paired case times both
    # models: neither is one model's way to predict
    ten_k = ten_k[~ten_k["workload"].isin([WORKLOAD_GRAPH_FORWARD, WORKLOAD_PAIRED])]
    rows = []
    for (backend, model), g in ten_k.groupby(["backend", "model"], sort=True):
        seed = g[(g["workload"] == "evaluate") & (g["batch_size"] == 32)]
        best = g.loc[g["median"].idxmin()]
        limit = best.get("compute_limit_seconds")
        rows.append(
            {
                "backend": backend,
                "model": model,
                "seed_s": float(seed["median"].iloc[0]) if len(seed) else None,
                "fastest_s": float(best["median"]),
                "fastest_way": _way(best),
                "speedup": float(seed["median"].iloc[0] / best["median"]) if len(seed) else None,
                "limit_fraction": float(limit / best["median"]) if limit is not None and pd.notna(limit) else None,
            }
        )
    return pd.DataFrame(rows)


def separable_ratios(summary: pd.DataFrame) -> pd.DataFrame:
    """Per backend: separable / regular median time, seed-style and fastest-against-fastest."""
    rows = []
    for backend, g in summary.groupby("backend", sort=True):
        by_model = g.set_index("model")
        if not {"regular", "separable"} <= set(by_model.index):
            continue
        reg, sep = by_model.loc["regular"], by_model.loc["separable"]
        seed = sep["seed_s"] / reg["seed_s"] if pd.notna(sep["seed_s"]) and pd.notna(reg["seed_s"]) else None
        rows.append({"backend": backend, "seed_ratio": seed, "fastest_ratio": sep["fastest_s"] / reg["fastest_s"]})
    return pd.DataFrame(rows)


PAIRED_COLUMNS = ("regular_median_s", "separable_median_s", "ratio_median", "ratio_q1", "ratio_q3", "pairs")


def paired_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Per backend path: separable / regular measured in alternating pairs (the run's paired cases).

    Columns: ``backend``, ``path``, ``regular_s``/``separable_s`` (median seconds of each model over
    the pairs), ``ratio`` (median of the per-pair ratios), ``q1``, ``q3``, ``pairs``; empty if the run
    has no paired cases.
    """
    cols = ["backend", "path", "regular_s", "separable_s", "ratio", "q1", "q3", "pairs"]
    if "workload" not in df or not set(PAIRED_COLUMNS) <= set(df.columns):
        return pd.DataFrame(columns=cols)
    p = df[df["workload"] == WORKLOAD_PAIRED].sort_values(["backend", "path"])
    out = p.rename(columns={"regular_median_s": "regular_s", "separable_median_s": "separable_s", "ratio_median": "ratio", "ratio_q1": "q1", "ratio_q3": "q3"})
    return out[cols].reset_index(drop=True)
