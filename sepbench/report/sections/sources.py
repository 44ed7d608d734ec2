"""The last sections: every file read, and every measurement (the data behind every table)."""

from __future__ import annotations

import pandas as pd

from sepbench.report.sections.base import Inputs, SectionSpec


def sources(df: pd.DataFrame, rates: pd.DataFrame | None = None) -> pd.DataFrame:
    """The files read, with their provenance and how many measurements each gave (a rates file: one per factor)."""
    cols = ["source_kind", "source_file", "machine", "cpu", "commit", "created", "measurements"]
    parts = []
    if not df.empty:
        g = df.groupby(["source_kind", "source_file"], dropna=False)
        out = g.agg(
            machine=("machine", "first"),
            cpu=("cpu", "first"),
            commit=("commit", "first"),
            created=("created", "first"),
            measurements=("value", "size"),
        ).reset_index()
        parts.append(out[cols])
    if rates is not None and not rates.empty:
        g = rates.groupby(["kind", "source_file"], dropna=False)
        out = g.agg(machine=("machine", "first"), commit=("commit", "first"), created=("created", "first"), measurements=("factor", "size"))
        parts.append(out.reset_index().rename(columns={"kind": "source_kind"}).assign(cpu=None)[cols])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def _sources(i: Inputs) -> pd.DataFrame:
    return sources(i.df, i.rates)


SOURCES = SectionSpec(key="sources", title="Sources", note="Every file read, with its provenance.", table=_sources)

MEASUREMENTS = SectionSpec(
    key="measurements",
    title="All measurements (tidy)",
    note=lambda df: (
        f"{len(df)} rows, one per measured figure with its provenance (source file, machine, CPU, commit); the CSV is the complete "
        "data behind every table."
    ),
    table=lambda i: i.df,
    shown=None,
)
