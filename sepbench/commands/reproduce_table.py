"""The table ``sepbench reproduce`` prints: the study's figures beside ours, the claims, the seeds."""

from __future__ import annotations

from typing import Any

from sepbench.core.claims import Verdict
from sepbench.core.pairs import STUDY_PAIR
from sepbench.training.reproduce import MODEL_ORDER, TABLE_METRICS


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "params":
        return f"{value:,.0f}"
    if metric.endswith("_bytes"):
        return f"{value / 1024:,.2f} KiB"
    if metric == "eval_seconds":
        return f"{value:.3f} s"
    return f"{value:.4f}"


def _ratio(values: dict[str, float | None]) -> str:
    reg, sep = (values.get(m) for m in STUDY_PAIR.model_names)
    if reg is None or sep is None or reg == 0:
        return "-"
    return f"{sep / reg:.3f}"


def print_report(doc: dict[str, Any], console: Any = None) -> None:
    """The study-vs-measured table, one column group per backend, then the claims per backend."""
    from rich.console import Console
    from rich.table import Table

    from sepbench.core.study import STUDY

    console = console or Console(width=200)
    rows = doc["rows"]
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    models = [m for m in MODEL_ORDER if any(r["model"] == m for r in rows)]
    recipe = doc.get("recipe") or {}
    data = doc["provenance"].get("reproduce") or {}
    table = Table(
        title=f"Study vs measured (recipe {recipe.get('epsilon_placement', '?')}, {recipe.get('epochs', '?')} epochs, "
        f"seed {doc['provenance'].get('seed')}, {data.get('train_images', '?')} training / {data.get('test_images', '?')} test images)",
        title_justify="left",
    )
    # one column per source, each cell "regular / separable (sep/reg)": readable with five backends
    table.add_column(" / ".join(models) + (" (sep/reg)" if len(models) == 2 else ""))
    for group in ("study", *backends):
        table.add_column(group, justify="right")
    for metric in TABLE_METRICS:
        cells = [metric]
        for b in ("study", *backends):
            values = STUDY.get(metric, {}) if b == "study" else {r["model"]: r.get(metric) for r in rows if r["backend"] == b}
            cell = " / ".join(_fmt(metric, values.get(m)) for m in models)
            cells.append(f"{cell} ({_ratio(values)})" if len(models) == 2 and values else cell)
        table.add_row(*cells)
    console.print(table)
    claims = doc.get("claims") or {}
    if claims:
        ct = Table(title="The study's claims, per backend (this run)", title_justify="left")
        ct.add_column("backend")
        ct.add_column("claim")
        ct.add_column("verdict (estimate [95 % interval])")
        ct.add_column("method")
        for b, verdicts in claims.items():
            for v in verdicts:
                verdict = Verdict.from_dict(v)
                ct.add_row(b, verdict.claim, verdict.cell(), verdict.method or verdict.note)
        console.print(ct)
    if doc.get("seeds"):
        _print_seeds(doc["seeds"], console)
    for w in doc.get("thread_warnings") or []:
        console.print(f"warning: {w}")
    for s in doc.get("skipped") or []:
        console.print(f"skipped backend {s['backend']}: {s['reason']}")


def _print_seeds(seeds: dict[str, Any], console: Any) -> None:
    """Accuracy over seeds: per model the mean with its 95 % interval beside the study's single figure,
    then the paired cost and the claim decided on it."""
    from rich.table import Table

    summary = seeds["summary"]
    table = Table(
        title=f"Test accuracy over {len(seeds['seeds'])} seeds ({seeds['trainer']} trainer; 95 % t intervals)", title_justify="left"
    )
    for col in ("model", "accuracy mean", "95 % interval", "sd", "loss mean (interval)", "study", "study vs ours", "per seed"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, m in summary["models"].items():
        acc, loss = m["test_accuracy"], m["test_loss"]
        per = " ".join(f"{r['test_accuracy']:.4f}" for r in seeds["per_seed"] if r["model"] == model)
        z = m.get("study_z")
        where = f"z {z:+.1f}, {m.get('seeds_below_study')} of {acc['n']} seeds below" if z is not None else "-"
        table.add_row(
            model,
            f"{acc['mean']:.4f}",
            f"{acc['low']:.4f} - {acc['high']:.4f}",
            f"{acc['sd']:.4f}",
            f"{loss['mean']:.4f} ({loss['low']:.4f} - {loss['high']:.4f})",
            f"{m.get('study_accuracy') or 0:.4f}",
            where,
            per,
        )
    console.print(table)
    if "claim" in summary:
        c = Verdict.from_dict(summary["claim"])
        console.print(f"a little accuracy (on the interval of regular - separable): {c.cell()} ({c.method})")
