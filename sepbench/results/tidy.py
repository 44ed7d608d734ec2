"""The tidy measurement table every loader produces: one row per measured figure, with provenance.

Columns (all loaders fill the same ones, ``None`` where a source has no such thing):

- ``source_kind``: "reproduce" | "pytest-benchmark" | "asv"; ``source_file``: the file read
- ``created``: when the measurement was made (ISO 8601 UTC string)
- ``machine``, ``cpu``, ``commit`` (git hash), ``env`` (ASV environment)
- ``backend``, ``model``, ``path`` (inference path), ``config`` (what a fast path chose),
  ``batch_free`` (the path ignored ``batch_size``), ``pixels`` (the input type the path was given),
  ``workload``, ``batch_size``, ``n_images``,
  ``weights_source`` ("trained" | "trained-subset": on fewer than 60,000 training images | "seeded-init")
- ``benchmark`` (the tool's benchmark name), ``params`` (its parameters as text)
- ``metric`` (e.g. params, hdf5_bytes, test_accuracy, eval_seconds, latency_s, images_per_s),
  ``stat`` (median, iqr, q1, q3, min, max, mean, stddev, or "value" for a single figure),
  ``value`` (float) and ``unit`` (seconds, bytes, MACs, fraction, ...)
- ``note``: words that go with the figure (a paired ratio's interval method and any warning)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from sepbench.results.slowdown import MIN_SECONDS

if TYPE_CHECKING:
    from sepbench.core.spec import ModelSpec

COLUMNS: tuple[str, ...] = (
    "source_kind",
    "source_file",
    "created",
    "machine",
    "cpu",
    "commit",
    "env",
    "backend",
    "model",
    "pair",  # the pair a paired case compared (None: the study's, as every result before pairs were data)
    "path",
    "config",  # what a measured-per-machine path chose (pytest-benchmark extra_info["fast_config"])
    "batch_free",  # True: the path ran in its own chunks, whatever batch_size says (pytest-benchmark extra_info)
    "pixels",  # the input type the path was given: "float32", or "uint8" (MNIST's bytes, for a path that scales them itself)
    "workload",
    "batch_size",
    "n_images",
    "weights_source",
    "benchmark",
    "params",
    "metric",
    "stat",
    "value",
    "unit",
    "note",  # words that go with the figure: how an interval was made, why a spread is wide
)

# the unit of each metric sepbench itself names (others carry the unit their tool gives)
UNITS: dict[str, str] = {
    "params": "parameters",
    "macs_per_image": "MACs",
    "float32_bytes": "bytes",
    "hdf5_bytes": "bytes",
    "native_bytes": "bytes",
    "test_loss": "nats",
    "test_accuracy": "fraction",
    "accuracy": "fraction",
    "eval_seconds": "seconds",
    "predict_10k_seconds": "seconds",
    "paired_10k_seconds": "seconds",
    "paired_eval_seconds": "seconds",
    "paired_ratio": "ratio",
    "pairs": "pairs",
    "train_seconds": "seconds",
    "epochs": "epochs",
    "latency_s": "seconds",
    "images_per_s": "images/s",
    "compute_limit_fraction": "fraction",
    "keras_evaluate_floor_s": "seconds",
    "rounds": "rounds",
}

# where several sources measured the same figure, the report shows the first in this order
SOURCE_PRIORITY: dict[str, int] = {"reproduce": 0, "pytest-benchmark": 1, "asv": 2}


def to_float(value: Any) -> float | None:
    """A finite number as float, or ``None`` for anything else (bools, strings, missing, NaN, infinity)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


# the physical range of each unit: a figure outside it is a broken file, not a measurement
_RANGES: dict[str, tuple[float, float, bool]] = {  # unit -> (low, high, low included)
    "seconds": (MIN_SECONDS, math.inf, True),  # no timer resolves less: 5e-324 s made a ratio infinite
    "fraction": (0.0, 1.0, True),
    "bytes": (0.0, math.inf, False),
    "parameters": (0.0, math.inf, False),
    "MACs": (0.0, math.inf, False),
    "nats": (0.0, math.inf, True),
    "images/s": (0.0, math.inf, False),
    "ratio": (0.0, math.inf, False),
    "rounds": (1.0, math.inf, True),
    "pairs": (1.0, math.inf, True),
    "epochs": (1.0, math.inf, True),
    "GFLOP/s": (0.0, math.inf, False),
    "GB/s": (0.0, math.inf, False),
}


# metrics whose unit's range does not fit: a probe that ran slow makes the limit exceed the time
_METRIC_RANGES: dict[str, tuple[float, float, bool]] = {"compute_limit_fraction": (0.0, math.inf, False)}


SPREAD_STATS = ("stddev", "iqr")  # a spread may be zero (one sample, identical samples); a time may not


def implausible(metric: str, value: float, unit: str, stat: str = "value") -> str | None:
    """Why ``value`` cannot be a measurement of ``metric`` in ``unit`` (``None`` if it can)."""
    low, high, closed = _METRIC_RANGES.get(metric) or _RANGES.get(unit, (-math.inf, math.inf, True))
    if stat in SPREAD_STATS:  # zero is a spread (identical samples), never a time
        low, closed = min(low, 0.0), True
    if value > high or value < low or (value == low and not closed):
        bound = f"[{low:g}, {high:g}]" if closed else f"({low:g}, {high:g}]"
        return f"{metric} = {value:g} {unit} is outside {bound}"
    return None


COUNT_METRICS = ("params", "macs_per_image")  # figures a model's spec fixes exactly


def _count(value: float) -> str:
    return f"{value:,.0f}" if value.is_integer() and abs(value) < 2**53 else f"{value:g}"


def contradicts_spec(metric: str, model: Any, value: float, specs: Mapping[str, ModelSpec] | None = None) -> str | None:
    """Why a count cannot be ``model``'s (``None`` if it can): parameters and MACs per image follow from a spec
    exactly, so where ``model``'s is known (``specs``: the built-in models unless given; the report adds the
    pair files it is given) a result claiming others (10^300 parameters for a model of 1,427) must not
    decide "smaller"; where it is not, the count must still be a whole number a model within the budget
    (:data:`~sepbench.core.budget.MAX_PARAMS`, :data:`~sepbench.core.budget.MAX_MACS`) can have."""
    if metric not in COUNT_METRICS:
        return None
    from sepbench.core.budget import MAX_MACS, MAX_PARAMS
    from sepbench.core.spec import MODELS

    spec = (MODELS if specs is None else specs).get(model) if isinstance(model, str) else None
    if spec is not None:
        expected = spec.params if metric == "params" else spec.macs
        return None if value == expected else f"{metric} {_count(value)} for model {model!r}, whose spec has {expected:,}"
    most = MAX_PARAMS if metric == "params" else MAX_MACS
    if value.is_integer() and 0 <= value <= most:
        return None
    whose = f" for model {model!r}" if isinstance(model, str) else ""
    return f"{metric} {_count(value)}{whose} is no whole number in [0, {most:,}] (the most a model within the budget has)"


def unchecked_models(rows: list[dict[str, Any]], specs: Mapping[str, ModelSpec] | None = None) -> list[str]:
    """The models of ``rows`` whose counts no spec checked (a user pair's, its pair file not given): the report
    says so rather than trusting them silently."""
    from sepbench.core.spec import MODELS

    known = MODELS if specs is None else specs
    return sorted({str(r["model"]) for r in rows if r.get("metric") in COUNT_METRICS and isinstance(r.get("model"), str)} - set(known))


def unchecked_note(models: list[str]) -> str:
    """The sentence that says ``models``' counts were not checked (:func:`unchecked_models`) and how to check them."""
    return (
        f"The parameter and MAC counts of model(s) {', '.join(map(repr, models))} are as their result files say, not checked "
        "against a spec (only a whole number within the model budget is required): give their pair file, "
        "`sepbench report --pairs FILE.toml`, to check them (and drop a count that contradicts it)."
    )


def drop_implausible(rows: list[dict[str, Any]], specs: Mapping[str, ModelSpec] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows whose value is physically possible (and whose counts a model can have: what its spec says where
    ``specs`` or the built-in models hold it, see :func:`contradicts_spec`), and one warning per file naming
    what was dropped."""
    kept, dropped = [], {}
    for row in rows:
        value = row.get("value")
        why = (
            implausible(str(row.get("metric")), float(value), str(row.get("unit") or ""), str(row.get("stat")))
            or contradicts_spec(str(row.get("metric")), row.get("model"), float(value), specs)
            if value is not None
            else None
        )
        if why is None:
            kept.append(row)
        else:
            dropped.setdefault(str(row.get("source_file")), []).append(why)
    warnings = [
        f"rejected {len(w)} impossible figure(s) in {f}: {'; '.join(w[:3])}{' ...' if len(w) > 3 else ''}" for f, w in dropped.items()
    ]
    return kept, warnings


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows (dicts with any subset of :data:`COLUMNS`) as a DataFrame with exactly those columns."""
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype="float64" if c in ("value", "batch_size", "n_images") else "object") for c in COLUMNS})
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    for col in ("batch_size", "n_images"):
        counts = pd.to_numeric(df[col], errors="coerce")
        # a count is a whole number an int64 holds; anything else (32.5, 9.2e18) is no count at all
        df[col] = counts.where(counts.notna() & counts.eq(counts.round()) & counts.abs().lt(2**53)).astype("Int64")
    return df
