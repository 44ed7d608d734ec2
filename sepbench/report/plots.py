"""The report's figures (matplotlib, Agg, PNG written atomically).  Each returns the PNG path, or
``None`` when there is nothing to plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sepbench.core.pairs import STUDY_PAIR  # noqa: E402
from sepbench.core.study import STUDY  # noqa: E402
from sepbench.util.atomic import atomic_path  # noqa: E402

COLORS = dict(zip(STUDY_PAIR.model_names, ("#4c72b0", "#dd8452")))  # the study's two models, as in its plots


def literal_text() -> Any:
    """A context in which every label is drawn as written: a ``$`` in a machine or benchmark name from a
    result file is not mathtext (which a stray ``$`` makes raise, and so kill the whole report)."""
    return plt.rc_context({"text.parse_math": False})


def save(fig: plt.Figure, path: Path, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` as a PNG at ``dpi``, atomically, and close it; ``tight``: cropped to what is drawn
    (else exactly the figure's size, for a figure whose width in pixels is a promise)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return path


def latency_plot(lat: pd.DataFrame, path: Path) -> Path | None:
    """Median predict latency (ms per call) by backend path and model, one panel per batch size;
    horizontal bars on a log scale (Keras's per-call overhead is 100x a fast path's time: on a linear
    axis every other bar vanishes), error bars span q1..q3."""
    if lat.empty:
        return None
    lat = lat.assign(label=lat["backend"].astype(str) + np.where(lat["machine"].nunique() > 1, " @ " + lat["machine"].astype(str), ""))
    batches = sorted(lat["batch_size"].dropna().unique())
    rows = lat["label"].nunique()
    fig, axes = plt.subplots(1, len(batches), figsize=(max(5.0, 4.2 * len(batches)), 1.2 + 0.42 * rows), squeeze=False, sharey=True)
    labels = sorted(lat["label"].unique())
    y = np.arange(len(labels))
    for ax, batch in zip(axes[0], batches):
        sub = lat[lat["batch_size"] == batch]
        for j, model in enumerate(STUDY_PAIR.model_names):
            m = sub[sub["model"] == model].set_index("label").reindex(labels)
            med = m["median_s"].to_numpy(float) * 1000
            lo = np.clip(med - m["q1_s"].to_numpy(float) * 1000, 0, None)
            hi = np.clip(m["q3_s"].to_numpy(float) * 1000 - med, 0, None)
            err = np.vstack([np.nan_to_num(lo), np.nan_to_num(hi)])
            ax.barh(y + (j - 0.5) * 0.38, med, 0.38, xerr=err, capsize=2, label=model, color=COLORS[model])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels overlap on a short decade
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.grid(axis="x", which="both", alpha=0.3)
        ax.set_title(f"batch {int(batch)}")
        ax.set_xlabel("ms per predict call (log)")
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Predict latency by backend path and model (median; bars q1-q3)")
    return save(fig, path)


def accuracy_params_plot(matrix: pd.DataFrame, path: Path) -> Path | None:
    """Test accuracy against parameters (log x), ours per backend beside the study's two points."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(
        [STUDY["params"][m] for m in STUDY_PAIR.model_names],
        [STUDY["test_accuracy"][m] for m in STUDY_PAIR.model_names],
        marker="*",
        s=160,
        color="black",
        label="study (Keras)",
    )
    plotted = 0
    if not matrix.empty:
        acc = matrix["test_accuracy"].fillna(matrix["accuracy"])
        markers = "osD^vP<>"
        groups = matrix.assign(acc=acc).dropna(subset=["acc", "params"]).groupby(["backend", "machine"], dropna=False)
        for k, ((backend, machine), sub) in enumerate(groups):
            # hollow markers of decreasing size: backends with identical weights stay visible on top of each other
            ax.scatter(
                sub["params"],
                sub["acc"],
                s=max(25, 140 - 25 * k),
                marker=markers[k % len(markers)],
                facecolors="none",
                edgecolors=f"C{k}",
                linewidths=1.6,
                label=f"{backend}" + (f" @ {machine}" if matrix["machine"].nunique() > 1 else ""),
            )
            plotted += len(sub)
    for m in STUDY_PAIR.model_names:
        ax.annotate(m, (STUDY["params"][m], STUDY["test_accuracy"][m]), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.margins(x=0.15, y=0.15)
    ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("parameters")
    ax.set_ylabel("test accuracy (fraction)")
    ax.set_title("Accuracy vs parameters" + ("" if plotted else " (no accuracy measured: study only)"))
    ax.legend(fontsize=7)
    return save(fig, path)


def history_plot(hist: pd.DataFrame, path: Path, max_lines: int = 12) -> Path | None:
    """ASV time benchmarks over commits (date order), one line per benchmark and parameters."""
    h = hist[hist["unit"] == "seconds"] if not hist.empty else hist
    if h.empty or h["commit"].nunique() < 2:
        return None
    h = h.assign(
        series=h["benchmark"].str.rsplit(".", n=1).str[-1]
        + " "
        + h["params"].fillna("")
        + (" @" + h["machine"].astype(str) if h["machine"].nunique() > 1 else "")
    )
    commits = list(dict.fromkeys(h.sort_values("date")["commit"]))
    fig, ax = plt.subplots(figsize=(7, 4))
    for series in list(dict.fromkeys(h["series"]))[:max_lines]:
        s = h[h["series"] == series].groupby("commit")["value"].first().reindex(commits)
        ax.plot(range(len(commits)), s.to_numpy(float) * 1000, marker="o", label=series)
    ax.set_xticks(range(len(commits)), [c[:8] for c in commits], rotation=30, fontsize=8)
    ax.set_ylabel("ms (ASV median)")
    ax.set_title("History over commits (ASV)")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    return save(fig, path)


def accuracy_seeds_plot(seeds: pd.DataFrame, path: Path) -> Path | None:
    """Each seed's test accuracy as a point, the mean with its 95 % interval, and the study's single figure (a star)."""
    if seeds.empty:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, r in enumerate(seeds.itertuples()):
        values = [float(v) for v in str(r.per_seed).split()]
        jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
        ax.scatter(i + np.asarray(jitter), values, s=22, color=COLORS.get(str(r.model), "gray"), alpha=0.8, label=f"{r.model}: seeds")
        if pd.notna(r.low):
            ax.errorbar(i + 0.28, r.mean, yerr=[[r.mean - r.low], [r.high - r.mean]], fmt="o", color="black", capsize=4, markersize=4)
        if pd.notna(r.study):
            ax.scatter([i + 0.28], [r.study], marker="*", s=140, color="crimson", zorder=3, label="study (one run)" if i == 0 else None)
    ax.set_xticks(
        range(len(seeds)), [f"{r.model}" + (f"\n{r.machine}" if seeds["machine"].nunique() > 1 else "") for r in seeds.itertuples()]
    )
    ax.set_ylabel("test accuracy (fraction)")
    ax.set_title("Test accuracy per seed (points), mean and 95 % interval (black), the study (star)", fontsize=9)
    ax.margins(y=0.15)
    ax.legend(fontsize=7, loc="best")
    return save(fig, path)
