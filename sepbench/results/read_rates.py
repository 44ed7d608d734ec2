"""``sepbench check ab-rates`` / ``sepbench check gate-rates`` files -> one row per slowdown factor.

A rates file (``results/<kind>-<machine>-<UTC stamp>.json``, written by
``sepbench.commands.check_ab_rates.run_and_save``) is JSON::

    {
      "kind": "ab-rates" | "gate-rates",   # or, written before the checks were one family, "alert-study" | "gate-study"
      "base": "<commit>",                  # the commit the slowed commits were made on
      "cases": [...], "slowed_case": "...",
      "alert": {"rounds", "min_effect", "confirm", "sample_s"}   # ab-rates
      "gate": {"min_effect", "confirm", ...},                    # gate-rates
      "trials_per_factor": 20,
      "rows": [{"factor", "trials", "alerts", "rate", "rate_low", "rate_high", "measured_slowdown",
                "other_false_alarms", "slowdowns", "wall_s", "wall_s_median", "wall_s_max"}, ...],
      "wall_s": 691.4,
      "provenance": {...}                  # sepbench.machine.provenance.collect_provenance()
    }

These are not figures of a model, so they stay out of the tidy measurements: the report shows them
in a table of their own.  The format is sepbench/results/formats/rates.schema.json; a file that fails
it, or the checks across fields here, is a :class:`~sepbench.results.schema.ResultsError` naming it and
the field (a warning in the report).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from sepbench.results.formats import check
from sepbench.results.read_reproduce import provenance_labels
from sepbench.results.schema import ResultsError

RATE_KINDS = ("ab-rates", "gate-rates")
# the kinds files carried before the slowdown checks were one family: read as the kind each became
OLD_KINDS = {"alert-study": "ab-rates", "gate-study": "gate-rates"}
CONFIG_KEY = {"ab-rates": "alert", "gate-rates": "gate"}  # the field holding each kind's configuration
# command that writes each kind (what the report's "missing" notes point to)
PRODUCER = {"ab-rates": "nox -s check-ab-rates", "gate-rates": "sepbench check gate-rates"}

# one row per factor of one rates file (the report's section 4 and its CSV)
RATE_FIELDS = (
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
_NAME = re.compile(r"(?:ab-rates|gate-rates|alert-study|gate-study)-(?P<machine>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:-\d+)?")
_TOLERANCE = 1e-6  # rounding allowed between a rate, its interval and alerts / trials


def is_rates(doc: Any) -> bool:
    """A rates file: an object whose ``kind`` is one of :data:`RATE_KINDS` (or an old name of one)."""
    return isinstance(doc, dict) and (doc.get("kind") in RATE_KINDS or doc.get("kind") in OLD_KINDS)


def looks_like_untagged_rates(doc: Any) -> bool:
    """A study written before rates files carried ``kind`` (rows per factor and a slowed case, no ``kind``)."""
    return isinstance(doc, dict) and "kind" not in doc and "slowed_case" in doc and ("alert" in doc or "gate" in doc)


def _number(value: Any) -> float:
    """A figure the schema allows to be missing (null or NaN) as a float, NaN when missing."""
    return math.nan if value is None else float(value)


def _factor_row(row: dict[str, Any], i: int) -> dict[str, Any]:
    """One factor's row (its types and ranges checked by the schema): what a schema cannot say, checked
    here: the counts within the trials, the rate equal to alerts / trials and inside its interval."""
    where = f"rows[{i}]"
    trials, alerts, other = int(row["trials"]), int(row["alerts"]), int(row["other_false_alarms"])
    if alerts > trials or other > trials:
        raise ResultsError(f"{where}: {alerts} alerts / {other} other false alarms in only {trials} trials")
    rate, low, high = float(row["rate"]), float(row["rate_low"]), float(row["rate_high"])
    if abs(rate - alerts / trials) > _TOLERANCE:
        raise ResultsError(f"{where}: rate {rate!r} is not alerts / trials = {alerts}/{trials}")
    if not low - _TOLERANCE <= rate <= high + _TOLERANCE:
        raise ResultsError(f"{where}: rate {rate!r} lies outside its interval [{low!r}, {high!r}]")
    return {
        "factor": float(row["factor"]),
        "trials": trials,
        "alerts": alerts,
        "rate": rate,
        "rate_low": low,
        "rate_high": high,
        "measured_slowdown": _number(row.get("measured_slowdown")),
        "other_false_alarms": other,
        "wall_s_median": _number(row.get("wall_s_median")),
        "wall_s_max": _number(row.get("wall_s_max")),
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


def load_rates(doc: Any, source: Path) -> list[dict[str, Any]]:
    """The rows (one per factor, :data:`RATE_FIELDS`) of one rates document; raises ResultsError naming
    ``source`` and the field (sepbench/results/formats/rates.schema.json, then the checks across fields)."""

    def bad(message: str) -> ResultsError:
        return ResultsError(f"{source}: not a well-formed rates file: {message}")

    check(doc, "rates", source, "rates")
    kind = OLD_KINDS.get(doc["kind"], doc["kind"])
    config = doc[CONFIG_KEY[kind]]
    prov = doc["provenance"]
    settings = {
        "min_effect": float(config["min_effect"]),
        "confirm": int(config["confirm"]) if config.get("confirm") is not None else None,
        "rounds": int(config["rounds"]) if kind == "ab-rates" else None,
    }
    try:
        factors = [_factor_row(r, i) for i, r in enumerate(doc["rows"])]
    except ResultsError as exc:
        raise bad(str(exc)) from None
    base, slowed, per_factor = doc["base"], doc["slowed_case"], int(doc["trials_per_factor"])
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
    return [{k: {**label, **r}[k] for k in RATE_FIELDS} for r in factors]


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rates rows as a DataFrame with every column of :data:`RATE_FIELDS` (empty when there are none)."""
    return pd.DataFrame(rows, columns=list(RATE_FIELDS))
