"""The forest plot of the verdict: every path's candidate / baseline ratio with its 95 % interval, on a
log axis, one panel per ratio claim ("faster", "trains faster") and pair, the tie band shaded, the MAC
ratio and the study's published figure as reference lines, each point coloured by its outcome.

It draws the verdict records (:class:`~sepbench.report.decided.PathVerdicts`), never decides again.  One
row per path (per trainer for a claim counted per trainer), labels in one column on the left, so they
never overlap however many paths there are; the figure is at most :data:`MAX_WIDTH_PX` wide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.ticker
import numpy as np

from sepbench.core.claims import CLAIMS, RULE_BELOW, Claim, Verdict
from sepbench.core.pairs import PAIRS, STUDY_PAIR
from sepbench.core.spec import MODELS
from sepbench.core.study import study_ratio
from sepbench.report.decided import PathVerdicts
from sepbench.report.palette import MARKER

MAX_WIDTH_PX = 1600  # a laptop's screen: the page shows the image at its own size, never scaled down to mush
DPI = 100
PANEL_WIDTH_IN, LABEL_WIDTH_IN = 5.6, 1.9  # a panel's plotting area and the path labels beside it (inches)
ROW_IN = 0.24  # one path's row (inches): labels at 8 pt stay apart
LEGEND_ROWS = 1  # rows kept empty below the paths for the legend
TOP_IN, GAP_IN, BELOW_IN = 0.55, 0.85, 0.5  # the outcome legend; between lines of panels (title, axis label); under the last

# the claims that are a ratio with an interval against a band: the ones a forest plot shows
RATIO_CLAIMS: tuple[Claim, ...] = tuple(c for c in CLAIMS if c.rule == RULE_BELOW)


@dataclass(frozen=True)
class Panel:
    """One claim on one pair (and machine, for other machines' figure): its rows (label, verdict) top to bottom."""

    claim: Claim
    title: str
    pair: str
    rows: tuple[tuple[str, Verdict], ...]


def _mac_ratio(pair: str) -> float | None:
    """Candidate / baseline MACs per image of a built-in pair's two models (``None`` for another pair)."""
    p = PAIRS.get(pair)
    if p is None or any(m not in MODELS for m in p.model_names):
        return None
    base, cand = p.model_names
    return MODELS[cand].macs / MODELS[base].macs


def panels(rows: Sequence[PathVerdicts], by_machine: bool = False) -> list[Panel]:
    """One panel per ratio claim and pair (and machine where ``by_machine``) that has at least one estimate;
    a claim counted per trainer shows each trainer once."""
    out = []
    groups = dict.fromkeys((r.machine if by_machine else None, r.pair) for r in rows if not r.is_study)
    for claim in RATIO_CLAIMS:
        for machine, pair in groups:
            seen: dict[str, Verdict] = {}
            for r in rows:
                if r.is_study or r.pair != pair or (by_machine and r.machine != machine):
                    continue
                v = r.of(claim.key)
                if v is None or v.estimate is None or not math.isfinite(v.estimate):
                    continue
                label = r.variant.split(" (", 1)[0] if claim.per == "trainer" else r.variant
                seen.setdefault(label, v)
            if seen:
                where = f"{machine}: " if by_machine else ""
                out.append(Panel(claim, f"{where}{claim.column} ({pair} pair)", pair, tuple(seen.items())))
    return out


def _draw(ax, panel: Panel) -> None:
    labels = [label for label, _ in panel.rows]
    y = np.arange(len(labels))
    lo_band, hi_band = panel.claim.band
    ax.axvspan(lo_band, hi_band, color="#dddddd", alpha=0.7, zorder=0, label=f"tie band {lo_band:g}-{hi_band:g}")
    ax.axvline(1.0, color="#888888", linewidth=0.8, zorder=1)
    mac = _mac_ratio(panel.pair)
    if mac is not None and panel.claim.key == "faster":
        ax.axvline(mac, color="#0072b2", linestyle="--", linewidth=1, label=f"MAC ratio {mac:.3f}")
    if panel.pair == STUDY_PAIR.name and panel.claim.key == "faster":
        ax.axvline(study_ratio("eval_seconds"), color="black", linestyle=":", label=f"study {study_ratio('eval_seconds'):.2f}")
    values = []
    for i, (_, v) in enumerate(panel.rows):
        colour = MARKER[v.outcome]
        est = float(v.estimate)  # panels() keeps only verdicts with an estimate
        values.append(est)
        if v.has_interval:
            ax.hlines(i, v.low, v.high, color=colour, linewidth=2, zorder=2)
            values += [float(v.low), float(v.high)]
        ax.plot(est, i, "o" if v.has_interval else "D", color=colour, markersize=5, zorder=3)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(len(labels) + LEGEND_ROWS - 0.5, -0.5)  # the first path on top, the legend's own row below the last
    ax.set_xscale("log")
    low = min([*values, lo_band, mac or lo_band]) / 1.15
    high = max([*values, hi_band]) * 1.15
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    # no minor ticks: the labelled 1-2-5 ticks and their grid are the scale (minor ones took a fifth of the drawing)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.grid(axis="x", which="major", alpha=0.3)
    ax.set_title(panel.title, fontsize=9, loc="left")
    ax.set_xlabel("candidate / baseline time (log; < 1: the candidate is faster)", fontsize=8)
    # in one line in the row kept for it: inside the data rows it hid the last path's point
    ax.legend(fontsize=7, loc="lower right", ncol=3, framealpha=0.9, borderaxespad=0.15, borderpad=0.25, handlelength=1.5)


def forest_plot(rows: Sequence[PathVerdicts], path: Path, by_machine: bool = False) -> tuple[Path, int] | None:
    """Draw :func:`panels` of ``rows`` into ``path`` (PNG, at most :data:`MAX_WIDTH_PX` wide): two panels
    side by side per line, each as tall as its rows.  Returns the path and the most rows one panel has
    (what the page states beside the image), or ``None`` when no verdict has an estimate to draw."""
    import matplotlib.pyplot as plt

    from sepbench.report.plots import save

    shown = panels(rows, by_machine)
    if not shown:
        return None
    cols = min(2, len(shown))
    lines = [shown[i : i + cols] for i in range(0, len(shown), cols)]
    plot_h = [(max(len(p.rows) for p in line) + LEGEND_ROWS) * ROW_IN + 0.2 for line in lines]  # each line's axes (inches)
    width, height = cols * (PANEL_WIDTH_IN + LABEL_WIDTH_IN), sum(plot_h) + len(lines) * GAP_IN + TOP_IN
    assert width * DPI <= MAX_WIDTH_PX, "two panels must fit the width"
    fig = plt.figure(figsize=(width, height))
    # margins in inches, fixed: the labels' column and each axis's title and label have their room without
    # a layout engine measuring every text (which took most of a report's plotting time)
    grid = fig.add_gridspec(
        len(lines),
        cols,
        height_ratios=plot_h,
        left=LABEL_WIDTH_IN / width,
        right=1 - 0.2 / width,
        wspace=LABEL_WIDTH_IN / PANEL_WIDTH_IN,
        top=1 - (TOP_IN + GAP_IN - BELOW_IN) / height,
        bottom=BELOW_IN / height,
        hspace=GAP_IN / (sum(plot_h) / len(lines)),
    )
    for row, line in enumerate(lines):
        for k, panel in enumerate(line):
            _draw(fig.add_subplot(grid[row, k]), panel)
    outcomes = list(dict.fromkeys(v.outcome for p in shown for _, v in p.rows))
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=MARKER[o], label=o) for o in outcomes]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, title="outcome", title_fontsize=8, frameon=False)
    return save(fig, path, dpi=DPI, tight=False), max(len(p.rows) for p in shown)
