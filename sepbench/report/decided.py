"""Every verdict of one report, decided once: the study's published row, then each machine, pair and
backend path of the results (:func:`sepbench.results.claim_verdicts.claim_verdicts`), as typed records.

The verdict tables, the headline, the forest plot and the claims CSV all read this one :class:`Decided`;
none decides again, and none reads a rendered cell back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from sepbench.core.claims import Verdict, decide_claims
from sepbench.core.evidence import study_verdict_inputs
from sepbench.results import verdict as V
from sepbench.results.claim_verdicts import claim_verdicts
from sepbench.results.paired_records import PairedRecord

STUDY_MACHINE, STUDY_BACKEND = "(the study)", "keras (published)"

CLAIM_COLUMNS = ["machine", "pair", "backend", "claim", "outcome", "estimate", "low", "high", "n", "method", "unit", "note", "busy"]
CLAIM_COLUMNS += ["figures"]


@dataclass(frozen=True)
class PathVerdicts:
    """The verdicts of one machine, pair and backend path (``variant``), one per claim in :data:`~sepbench.core.claims.CLAIMS` order."""

    machine: object  # None: a run that names no machine; STUDY_MACHINE: the study's published figures
    pair: str
    variant: str
    verdicts: tuple[Verdict, ...]

    @property
    def is_study(self) -> bool:
        return self.machine == STUDY_MACHINE

    def of(self, claim: str) -> Verdict | None:
        """The verdict on ``claim`` (a :class:`~sepbench.core.claims.Claim` key), ``None`` if absent."""
        return next((v for v in self.verdicts if v.claim == claim), None)


@dataclass(frozen=True)
class Decided:
    """All the report's verdicts (``rows``: the study's first, then sorted by machine, pair and path) and
    the machine they are read for first (``here``, :func:`this_machine`) and the day its newest result was
    measured (``when``, ``YYYY-MM-DD`` UTC; ``""`` where no result dates it)."""

    rows: tuple[PathVerdicts, ...]
    here: object
    when: str = ""

    def study(self) -> tuple[PathVerdicts, ...]:
        return tuple(r for r in self.rows if r.is_study)

    def this_machine(self) -> tuple[PathVerdicts, ...]:
        """The rows measured on :attr:`here` (none when no result names a machine: then the unnamed runs')."""
        return tuple(r for r in self.rows if not r.is_study and r.machine == self.here)

    def other_machines(self) -> tuple[PathVerdicts, ...]:
        return tuple(r for r in self.rows if not r.is_study and r.machine != self.here)

    def threads(self, rows: Iterable[PathVerdicts]) -> list[int]:
        """The compute threads ``rows``' speed estimates were measured at, ascending."""
        found = {v.figures.get("threads") for r in rows for v in r.verdicts}
        return sorted(t for t in found if isinstance(t, int) and not isinstance(t, bool))

    def frame(self, rows: Iterable[PathVerdicts] | None = None) -> pd.DataFrame:
        """The verdict records as a table (the claims CSV): one row per machine, path and claim, the
        estimate, 95 % interval, n, method, unit, note, busy and its figures (JSON)."""
        out = [
            {"machine": r.machine, "pair": r.pair, "backend": r.variant, **v.as_dict()}
            for r in (self.rows if rows is None else rows)
            for v in r.verdicts
        ]
        table = pd.DataFrame(out, columns=CLAIM_COLUMNS)
        table["figures"] = [json.dumps(f, default=str, sort_keys=True) for f in table["figures"]]
        return table


def this_machine(df: pd.DataFrame) -> object:
    """The machine the verdict is for: this one (by its hardware name) where it has results, else the
    machine of the newest benchmark or reproduce result; ``None`` when no result names one."""
    if df.empty:
        return None
    here = df.attrs.get("this_machine")  # set by the caller that knows the machine (the CLI): the report imports no probe
    if here is not None and df["machine"].eq(here).any():
        return here
    own = df[df["source_kind"].isin(["pytest-benchmark", "reproduce"]) & df["machine"].notna()]
    pool = own if not own.empty else df[df["machine"].notna()]
    return pool.sort_values("created", kind="stable")["machine"].iloc[-1] if not pool.empty else None


def decide_all(df: pd.DataFrame, records: Iterable[PairedRecord] = (), fig: pd.DataFrame | None = None) -> Decided:
    """Decide every claim once: the study's published figures, then every machine, pair and path of
    ``df`` and the paired ``records`` (``fig``: :func:`sepbench.results.verdict.figures` of ``df``, where
    the caller has it)."""
    evidence, missing, point_decides = study_verdict_inputs()
    study = decide_claims(evidence, missing=missing, point_decides=point_decides)
    rows = [PathVerdicts(STUDY_MACHINE, V.STUDY_PAIR.name, STUDY_BACKEND, tuple(study))]
    rows += [PathVerdicts(m, pair, var, tuple(vs)) for m, pair, var, vs in claim_verdicts(df, records, fig)]
    here = this_machine(df)
    return Decided(tuple(rows), here, _newest_day(df, here))


def _newest_day(df: pd.DataFrame, machine: object) -> str:
    """The UTC day of ``machine``'s newest dated result (``""``: none)."""
    if df.empty or machine is None:
        return ""
    when = pd.to_datetime(df.loc[df["machine"].eq(machine), "created"], utc=True, errors="coerce", format="ISO8601").dropna()
    return when.max().strftime("%Y-%m-%d") if len(when) else ""
