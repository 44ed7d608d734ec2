"""``sepbench alert-study`` / ``sepbench gate-study`` files -> one row per slowdown factor.

A study file (``results/<kind>-<machine>-<UTC stamp>.json``, written by
``sepbench.commands.alert_study.run_and_save``) is JSON::

    {
      "kind": "alert-study" | "gate-study",
      "base": "<commit>",                  # the commit the slowed commits were made on
      "cases": [...], "slowed_case": "...",
      "alert": {"rounds", "min_effect", "confirm", "sample_s"}   # alert-study
      "gate": {"min_effect", "confirm", ...},                    # gate-study
      "trials_per_factor": 20,
      "rows": [{"factor", "trials", "alerts", "rate", "rate_low", "rate_high", "measured_slowdown",
                "other_false_alarms", "slowdowns", "wall_s", "wall_s_median", "wall_s_max"}, ...],
      "wall_s": 691.4,
      "provenance": {...}                  # sepbench.machine.provenance.collect_provenance()
    }

These are not figures of a model, so they stay out of the tidy measurements: the report shows them
in a table of their own.  Every field the report shows is checked; a file that fails is a
:class:`~sepbench.results.schema.ResultsError` naming it (a warning in the report), never a traceback.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from sepbench.results.read_reproduce import provenance_labels
from sepbench.results.schema import ResultsError, reader

STUDY_KINDS = ("alert-study", "gate-study")
CONFIG_KEY = {"alert-study": "alert", "gate-study": "gate"}  # the field holding each kind's configuration
# command that writes each kind (what the report's "missing" notes point to)
PRODUCER = {"alert-study": "nox -s alert-study", "gate-study": "sepbench gate-study"}

# one row per factor of one study file (the report's section 4 and its CSV)
STUDY_FIELDS = (
    "kind",
    "machine",
    "created",
    "commit",
    "factor",
    "trials",
    "alerts",
    "rate",
    "rate_low",
    "rate_high",
    "measured_slowdown",
    "other_false_alarms",
    "wall_s_median",
    "wall_s_max",
    "slowed_case",
    "trials_per_factor",
    "rounds",
    "min_effect",
    "confirm",
    "source_file",
)
_NAME = re.compile(r"(?:alert|gate)-study-(?P<machine>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:-\d+)?")
_TOLERANCE = 1e-6  # rounding allowed between a rate, its interval and alerts / trials


def is_study(doc: Any) -> bool:
    """A study file: an object whose ``kind`` is one of :data:`STUDY_KINDS`."""
    return isinstance(doc, dict) and doc.get("kind") in STUDY_KINDS


def looks_like_untagged_study(doc: Any) -> bool:
    """A study written before study files carried ``kind`` (rows per factor and a slowed case, no ``kind``)."""
    return isinstance(doc, dict) and "kind" not in doc and "slowed_case" in doc and ("alert" in doc or "gate" in doc)


def _count(value: Any, what: str, low: int = 0) -> int:
    """A whole number >= ``low`` (JSON ``20`` or ``20.0``; never a bool or a string)."""
    ok = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if isinstance(value, bool) or not ok or value < low:
        raise ResultsError(f"{what} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _number(value: Any, what: str, low: float = -math.inf, high: float = math.inf, missing_ok: bool = False) -> float:
    """A finite number in [low, high]; with ``missing_ok``, null or NaN reads as NaN (not measured)."""
    if missing_ok and (value is None or (isinstance(value, float) and math.isnan(value))):
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
        bounds = "" if (low, high) == (-math.inf, math.inf) else f" in [{low:g}, {high:g}]"
        raise ResultsError(f"{what} must be a finite number{bounds}, got {value!r}")
    return float(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ResultsError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _numbers(value: Any, what: str) -> None:
    """An optional list of per-trial figures (``slowdowns``, ``wall_s``): numbers or NaN/null only."""
    if value is None:
        return
    if not isinstance(value, list):
        raise ResultsError(f"{what} must be a list of numbers, got {type(value).__name__}")
    for i, v in enumerate(value):
        _number(v, f"{what}[{i}]", missing_ok=True)


def _factor_row(row: Any, i: int) -> dict[str, Any]:
    """One factor's row, checked: counts are whole numbers, the rate is alerts / trials inside its interval."""
    where = f"rows[{i}]"
    if not isinstance(row, dict):
        raise ResultsError(f"{where} must be an object, got {type(row).__name__}")
    factor = _number(row.get("factor"), f"{where}.factor", 1.0, 100.0)
    trials = _count(row.get("trials"), f"{where}.trials", low=1)
    alerts = _count(row.get("alerts"), f"{where}.alerts")
    other = _count(row.get("other_false_alarms"), f"{where}.other_false_alarms")
    if alerts > trials or other > trials:
        raise ResultsError(f"{where}: {alerts} alerts / {other} other false alarms in only {trials} trials")
    rate = _number(row.get("rate"), f"{where}.rate", 0.0, 1.0)
    low = _number(row.get("rate_low"), f"{where}.rate_low", 0.0, 1.0)
    high = _number(row.get("rate_high"), f"{where}.rate_high", 0.0, 1.0)
    if abs(rate - alerts / trials) > _TOLERANCE:
        raise ResultsError(f"{where}: rate {rate!r} is not alerts / trials = {alerts}/{trials}")
    if not low - _TOLERANCE <= rate <= high + _TOLERANCE:
        raise ResultsError(f"{where}: rate {rate!r} lies outside its interval [{low!r}, {high!r}]")
    _numbers(row.get("slowdowns"), f"{where}.slowdowns")
    _numbers(row.get("wall_s"), f"{where}.wall_s")
    return {
        "factor": factor,
        "trials": trials,
        "alerts": alerts,
        "rate": rate,
        "rate_low": low,
        "rate_high": high,
        "measured_slowdown": _number(row.get("measured_slowdown"), f"{where}.measured_slowdown", 0.0, missing_ok=True),
        "other_false_alarms": other,
        "wall_s_median": _number(row.get("wall_s_median"), f"{where}.wall_s_median", 0.0, missing_ok=True),
        "wall_s_max": _number(row.get("wall_s_max"), f"{where}.wall_s_max", 0.0, missing_ok=True),
    }


def _machine_and_date(prov: dict[str, Any], source: Path) -> tuple[str, str | None]:
    """The machine (provenance, else the file name ``<kind>-<machine>-<stamp>.json``) and the UTC date it was written."""
    labels = provenance_labels(prov)
    named = _NAME.fullmatch(Path(source).stem)
    machine = labels["machine"] if isinstance(labels["machine"], str) and labels["machine"] else None
    created = labels["created"] if isinstance(labels["created"], str) and labels["created"] else None
    if created is None and named:
        try:
            created = dt.datetime.strptime(named["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC).isoformat()
        except ValueError:
            created = None  # digits of no real date
    return machine or (named["machine"] if named else "(unknown machine)"), created


@reader("alert-study / gate-study")
def load_study(doc: Any, source: Path) -> list[dict[str, Any]]:
    """The rows (one per factor, :data:`STUDY_FIELDS`) of one study document; raises ResultsError naming ``source``."""

    def bad(message: str) -> ResultsError:
        return ResultsError(f"{source}: not a well-formed study file: {message}")

    try:
        if not is_study(doc):
            raise ResultsError(f"'kind' must be one of {', '.join(STUDY_KINDS)}")
        kind = doc["kind"]
        config = doc.get(CONFIG_KEY[kind])
        if not isinstance(config, dict):
            raise ResultsError(f"field {CONFIG_KEY[kind]!r} missing or not an object")
        prov = doc.get("provenance")
        if not isinstance(prov, dict):
            raise ResultsError("field 'provenance' missing or not an object")
        rows = doc.get("rows")
        if not isinstance(rows, list) or not rows:
            raise ResultsError("field 'rows' missing, not a list or empty")
        base = _text(doc.get("base"), "base")
        slowed = _text(doc.get("slowed_case"), "slowed_case")
        cases = doc.get("cases")
        if not isinstance(cases, list) or not all(isinstance(c, str) for c in cases):
            raise ResultsError(f"cases must be a list of strings, got {cases!r}")
        per_factor = _count(doc.get("trials_per_factor"), "trials_per_factor", low=1)
        _number(doc.get("wall_s"), "wall_s", 0.0, missing_ok=True)
        settings = {
            "min_effect": _number(config.get("min_effect"), f"{CONFIG_KEY[kind]}.min_effect", 0.0),
            "confirm": _count(config.get("confirm"), f"{CONFIG_KEY[kind]}.confirm") if "confirm" in config else None,
            "rounds": _count(config.get("rounds"), "alert.rounds", low=1) if kind == "alert-study" else None,
        }
        if kind == "alert-study" and settings["confirm"] is None:
            raise ResultsError("alert.confirm missing")
        factors = [_factor_row(r, i) for i, r in enumerate(rows)]
    except ResultsError as exc:
        raise bad(str(exc)) from None
    seen = [r["factor"] for r in factors]
    if len(set(seen)) != len(seen):
        raise bad(f"a factor appears twice in 'rows' ({seen})")
    machine, created = _machine_and_date(prov, source)
    label = {
        "kind": kind,
        "machine": machine,
        "created": created,
        "commit": base,
        "slowed_case": slowed,
        "trials_per_factor": per_factor,
        **settings,
        "source_file": str(source),
    }
    return [{k: {**label, **r}[k] for k in STUDY_FIELDS} for r in factors]


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Study rows as a DataFrame with every column of :data:`STUDY_FIELDS` (empty when there are none)."""
    return pd.DataFrame(rows, columns=list(STUDY_FIELDS))
