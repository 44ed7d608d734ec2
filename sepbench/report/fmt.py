"""Display formatting of the report's tables (the CSVs keep raw numbers)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sepbench.core.pairs import STUDY_PAIR

# how many decimals each kind of figure shows
_INT_METRICS = {"params", "hdf5_bytes", "native_bytes", "float32_bytes", "macs_per_image", "epochs", "rounds"}
_FRACTION_METRICS = {"test_accuracy", "accuracy", "test_loss"}


def number(value: Any, metric: str = "", signed: bool = False) -> str:
    """A figure as text: integers with separators, fractions with 4 decimals, times with 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return str(value)
    sign = "+" if signed else ""
    base = metric.split(" ")[0]
    if base in _INT_METRICS:
        return f"{value:{sign},.0f}"
    if base in _FRACTION_METRICS:
        return f"{value:{sign}.4f}"
    if base == "images_per_s":
        return f"{value:{sign},.0f}"
    return f"{value:{sign}.4g}"


def study_vs_measured_shown(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy().astype(object)
    for i, r in df.iterrows():
        out.at[i, "study"] = number(r["study"], r["metric"])
        out.at[i, "measured"] = number(r["measured"], r["metric"]) if pd.notna(r["measured"]) else "(not measured)"
        out.at[i, "difference"] = number(r["difference"], r["metric"], signed=True)
        out.at[i, "measured/study"] = "" if pd.isna(r["measured/study"]) else f"{r['measured/study']:.3f}"
    return out.fillna("")


def claims_shown(df: pd.DataFrame) -> pd.DataFrame:
    """The verdict records, numbers to 3 significant places (the CSV keeps them raw)."""
    out = df.copy().astype(object)
    for col in ("estimate", "low", "high"):
        out[col] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.3g}" for v in df[col]]
    out["n"] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v)) for v in df["n"]]
    return out.fillna("")


def by_column(df: pd.DataFrame) -> pd.DataFrame:
    """Format every numeric column by its name (the metric it holds)."""
    out = df.copy().astype(object)
    for col in df.columns:
        if pd.api.types.is_numeric_dtype(df[col]):
            name = str(col)
            if name.endswith("_s") and not name.startswith("images"):
                out[col] = [number(v * 1000) + " ms" if pd.notna(v) else "" for v in df[col]]  # seconds per call shown in ms
            elif name in ("ratio", "study_ratio", "mac_ratio"):
                out[col] = ["" if pd.isna(v) else f"{v:.3f}" for v in df[col]]
            else:
                out[col] = [number(v, name) for v in df[col]]
    return out.fillna("")


def by_row_metric(df: pd.DataFrame, metric_col: str) -> pd.DataFrame:
    """Format numeric cells by the metric named in ``metric_col`` of their row."""
    out = df.copy().astype(object)
    for i, r in df.iterrows():
        for col in df.columns:
            v = r[col]
            if col != metric_col and isinstance(v, (int, float)) and not isinstance(v, bool):
                out.at[i, col] = number(v, str(r[metric_col]))
    return out.fillna("")


def ratios_shown(df: pd.DataFrame) -> pd.DataFrame:
    """Separable/regular table: the two figures by their metric (latency in ms), ratios with 3 decimals."""
    out = df.copy().astype(object)
    for i, r in df.iterrows():
        metric = str(r["figure"])
        for col in STUDY_PAIR.model_names:  # the study pair's columns of tables.ratios
            v = r[col]
            out.at[i, col] = (number(v * 1000) + " ms") if metric.startswith("latency_s") and pd.notna(v) else number(v, metric)
        for col in ("ratio", "study_ratio", "mac_ratio"):
            out.at[i, col] = "" if pd.isna(r[col]) else f"{r[col]:.3f}"
    return out.fillna("")


def evaluate_vs_study_shown(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds with 3 decimals, ms/step with 2, 'beats the study' as yes/NO."""
    out = df.copy().astype(object)
    for col in ("study_s", "evaluate_s", "keras_floor_s", "graph_b32_s", "rest_s"):
        out[col] = ["" if v is None or pd.isna(v) else f"{v:.3f}" for v in df[col]]
    out["ms_per_step"] = ["" if pd.isna(v) else f"{v:.2f}" for v in df["ms_per_step"]]
    out["beats_study"] = [
        "" if v is None or (isinstance(v, float) and math.isnan(v)) else ("yes" if v else "NO") for v in df["beats_study"]
    ]
    out["source"] = [_short_source(v) for v in df["source"]]
    return out.fillna("")


def _short_source(source: Any) -> str:
    """``pytest-benchmark 0002_<commit>_<date>.json`` -> ``pytest-benchmark 0002_<commit[:8]>`` (the CSV keeps it whole)."""
    text = "" if source is None else str(source)
    kind, _, name = text.partition(" ")
    parts = name.split("_")
    return f"{kind} {parts[0]}_{parts[1][:8]}" if len(parts) >= 3 else text


def _columns(df: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    """Each column of ``formats`` formatted (empty when missing), the run file shortened."""
    out = df.copy().astype(object)
    for col, f in formats.items():
        out[col] = ["" if pd.isna(v) else f.format(v) for v in df[col]]
    out["source"] = [_short_source(f"run {v}") for v in df["source"]]
    return out.fillna("")


def roofline_shown(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds with 4 significant digits, GFLOP/s and GB/s with 1 decimal, x_limit with 2."""
    return _columns(
        df, {"seconds": "{:.4g}", "compute_limit_s": "{:.4g}", "gemm_gflops": "{:.1f}", "mem_gbs": "{:.1f}", "x_limit": "{:.2f}"}
    )


def two_roofs_shown(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds with 4 significant digits, rates with 1 decimal, fractions of the floor and ratios with 2 decimals."""
    seconds = {c: "{:.4g}" for c in ("baseline_s", "baseline_floor_s", "candidate_s", "candidate_floor_s")}
    ratios = {c: "{:.2f}" for c in ("baseline_x_floor", "candidate_x_floor", "predicted_ratio", "measured_ratio")}
    return _columns(df, {**seconds, **ratios, "gemm_gflops": "{:.1f}", "mem_gbs": "{:.1f}"})


def paired_shown(df: pd.DataFrame) -> pd.DataFrame:
    """Seconds with 4 significant digits, ratios with 2 decimals, pairs as an integer."""
    return _columns(
        df,
        {
            "baseline_s": "{:.4g}",
            "candidate_s": "{:.4g}",
            "ratio": "{:.2f}",
            "q1": "{:.2f}",
            "q3": "{:.2f}",
            "pairs": "{:.0f}",
            "study_ratio": "{:.2f}",
            "mac_ratio": "{:.3f}",
        },
    )


def machine_cell(value: Any, unit: str) -> str:
    """One cell of the across-machines table: seconds shown as ms (4 significant digits), a fraction
    with 3 significant digits, a ratio with 3 decimals; empty when not measured."""
    if value is None or pd.isna(value):
        return ""
    if unit == "seconds":
        return number(value * 1000)
    return f"{value:.3g}" if unit == "fraction" else f"{value:.3f}"


def across_machines(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The across-machines table: every column but ``keys`` formatted by its row's unit (seconds as ms)."""
    out = df.copy().astype(object)
    for col in (c for c in df.columns if c not in keys):
        out[col] = [machine_cell(v, u) for v, u in zip(df[col], df["unit"])]
    out["unit"] = df["unit"].where(df["unit"] != "seconds", "ms")
    return out.fillna("")


def fingerprints(df: pd.DataFrame) -> pd.DataFrame:
    """The machines' fingerprints: cores as integers, memory (GiB) and GEMM GFLOP/s with 1 decimal."""
    out = df.copy().astype(object)
    for col, f in (("cores", "{:.0f}"), ("memory_gib", "{:.1f}"), ("gemm_gflops", "{:.1f}")):
        out[col] = ["" if v is None or pd.isna(v) else f.format(float(v)) for v in df[col]]
    return out.fillna("")


def _percent(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{100 * float(value):.0f} %"


def _fixed(value: Any, spec: str) -> str:
    return "" if value is None or pd.isna(value) else format(float(value), spec)


def utc_minute(value: Any) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM`` (UTC); anything else as it is."""
    when = pd.to_datetime(value, utc=True, errors="coerce", format="ISO8601") if isinstance(value, str) else pd.NaT
    return "" if value is None else (str(value) if pd.isna(when) else when.strftime("%Y-%m-%d %H:%M"))


def rates(df: pd.DataFrame) -> pd.DataFrame:
    """Section 4: rates as per cent with the 95 % interval, alerts named for what they are (false alarms
    at factor 1.00, hits above it), the commit shortened, wall time as median / max seconds."""
    rows = []
    for r in df.itertuples(index=False):
        what = "false alarm" if r.factor == 1.0 else "hit"
        rows.append(
            {
                "check": r.check,
                "machine": r.machine,
                "date (UTC)": utc_minute(r.date),
                "commit": str(r.commit)[:10],
                "factor": f"{r.factor:.2f}",
                "trials": f"{r.trials:.0f}",
                "alerts": f"{r.alerts:.0f} {what}{'' if r.alerts == 1 else 's'}",
                "rate": _percent(r.rate),
                "95 % interval": f"{_percent(r.rate_low)} - {_percent(r.rate_high)}",
                "measured slowdown": _fixed(r.measured_slowdown, ".3f"),
                "other false alarms": f"{r.other_false_alarms:.0f}",
                "wall s (median / max)": f"{_fixed(r.wall_s_median, '.1f')} / {_fixed(r.wall_s_max, '.1f')}",
            }
        )
    columns = ["check", "machine", "date (UTC)", "commit", "factor", "trials", "alerts", "rate", "95 % interval"]
    return pd.DataFrame(rows, columns=[*columns, "measured slowdown", "other false alarms", "wall s (median / max)"])


def rate_configs(df: pd.DataFrame) -> str:
    """One clause per rates file shown: its machine, slowed case, trials and configuration (the alert's rounds,
    min_effect and confirm; the gate's min_effect)."""
    clauses = []
    for (check, machine), g in df.groupby(["check", "machine"], sort=False):
        r = g.iloc[0]
        if check == "ab-rates":
            config = f"rounds {r['rounds']:.0f}, min_effect {r['min_effect']:g}, confirm {r['confirm']:.0f}"
        else:
            config = f"min_effect {r['min_effect']:g}"
        clauses.append(f"{check} on {machine}: {config}; {r['trials_per_factor']:.0f} trials per factor, slowed case `{r['slowed_case']}`")
    return "; ".join(clauses)
