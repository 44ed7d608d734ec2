"""Test accuracy over training seeds (``sepbench reproduce --seeds N``)."""

from __future__ import annotations

import pandas as pd

from sepbench.core.seed_stats import interval
from sepbench.core.study import STUDY
from sepbench.report import fmt
from sepbench.report.sections.base import SectionSpec
from sepbench.results.schema import WORKLOAD_SEEDS


def accuracy_by_seed(df: pd.DataFrame) -> pd.DataFrame:
    """``reproduce --seeds``: per machine and model the test accuracy over seeds (mean, 95 % t interval,
    sd, n) beside the study's single figure, and each seed's accuracy (the newest such run)."""
    cols = ["machine", "model", "seeds", "mean", "low", "high", "sd", "study", "per_seed"]
    d = df[df["workload"].eq(WORKLOAD_SEEDS) & df["metric"].eq("test_accuracy")] if "workload" in df else df.iloc[0:0]
    if d.empty:
        return pd.DataFrame(columns=cols)
    newest = d.sort_values("created").groupby("machine", dropna=False)["source_file"].last()
    rows = []
    for (machine, model), sub in d[d["source_file"].isin(newest.values)].groupby(["machine", "model"], sort=True, dropna=False):
        values = sub.sort_values("params")["value"].tolist()
        iv = interval(values) if len(values) >= 2 else None
        rows.append(
            {
                "machine": machine,
                "model": model,
                "seeds": len(values),
                "mean": iv.mean if iv else values[0],
                "low": iv.low if iv else None,
                "high": iv.high if iv else None,
                "sd": iv.sd if iv else None,
                "study": STUDY["test_accuracy"].get(model),
                "per_seed": " ".join(f"{v:.4f}" for v in values),
            }
        )
    return pd.DataFrame(rows, columns=cols)


ACCURACY_SEEDS = SectionSpec(
    key="accuracy_seeds",
    title="1d. Test accuracy over training seeds",
    note=(
        "`sepbench reproduce --seeds N` (`nox -s reproduce`: 5): each model trained with N seeds in the fastest trainer; the mean test "
        "accuracy "
        "with its 95 % t interval beside the study's single run (no seed published). The accuracy claim stands on the interval of the "
        "paired cost."
    ),
    table=lambda i: accuracy_by_seed(i.df),
    shown=fmt.by_column,
    optional=True,
)
