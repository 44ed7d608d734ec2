"""The verdict sections: the claims on this machine first, then on other machines, then every record.

Which figures count and how a claim is decided are :mod:`sepbench.results.verdict`'s and
:mod:`sepbench.core.claims`'s rules (``bench-summary`` and ``reproduce`` use the same); this module only lays them out."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from sepbench.core.claims import CLAIMS, OUTCOME_MEANING
from sepbench.report import fmt, reading
from sepbench.report.decided import CLAIM_COLUMNS, STUDY_BACKEND, STUDY_MACHINE, Decided, PathVerdicts, decide_all, this_machine
from sepbench.report.headline import where
from sepbench.report.sections.base import Inputs, SectionSpec, keep_all
from sepbench.results.paired_records import PairedRecord

__all__ = ["CLAIM_COLUMNS", "STUDY_BACKEND", "STUDY_MACHINE", "claims", "this_machine", "verdict", "verdict_other_machines"]


def claims(df: pd.DataFrame, records: Iterable[PairedRecord] = (), decided: Decided | None = None) -> pd.DataFrame:
    """Every verdict record, one row per machine, backend path and claim (the study's own first):
    outcome, estimate, 95 % interval, n, method, unit, note, busy (measured on a machine short of cores) and the figures it came from, as
    :func:`sepbench.results.claim_verdicts.claim_verdicts` decided them (``decided``: already decided, :func:`decide_all`)."""
    return (decide_all(df, records) if decided is None else decided).frame()


VERDICT_COLUMNS = {c.key: c.column for c in CLAIMS}


def verdict_table(rows: Iterable[PathVerdicts]) -> pd.DataFrame:
    """One row per machine, pair and path, one column per claim, each cell :meth:`~sepbench.core.claims.Verdict.cell`."""
    out = [
        {"machine": r.machine, "pair": r.pair, "backend": r.variant, **{VERDICT_COLUMNS[v.claim]: v.cell() for v in r.verdicts}}
        for r in rows
    ]
    return pd.DataFrame(out, columns=["machine", "pair", "backend", *VERDICT_COLUMNS.values()])


def verdict(df: pd.DataFrame, records: Iterable[PairedRecord] = (), decided: Decided | None = None) -> pd.DataFrame:
    """The answer first: the study's row, then one row per backend path of :func:`this_machine`, one
    column per claim, each cell the outcome with its estimate and 95 % interval (:meth:`Verdict.cell`)."""
    d = decide_all(df, records) if decided is None else decided
    return verdict_table(d.study() + d.this_machine())


def verdict_other_machines(df: pd.DataFrame, records: Iterable[PairedRecord] = (), decided: Decided | None = None) -> pd.DataFrame:
    """The same verdicts for every other machine the results name (other result files, ``history/``),
    with whatever each measured: an ASV-only machine shows its sizes and its point ratios."""
    d = decide_all(df, records) if decided is None else decided
    return verdict_table(d.other_machines())


def _one(threads: list[int]) -> int | None:
    return threads[0] if len(threads) == 1 else None


def this_machine_view(i: Inputs) -> reading.VerdictView:
    """This machine's verdicts for reading: where they were measured in the caption, the study's row first."""
    d = i.decided
    here = d.this_machine()
    place = where(d, here).rstrip(":") or "No machine named"
    caption = f"{place}: the study's published figures first, then each pair's backend paths"
    return reading.view(d.study() + here, caption, _one(d.threads(here)))


def other_machines_view(i: Inputs) -> reading.VerdictView:
    """The other machines' verdicts for reading, grouped by machine and pair."""
    return reading.view(i.decided.other_machines(), "Other machines, per machine and pair", by_machine=True)


VERDICT = SectionSpec(
    key="verdict",
    title="The verdict: the claims on this machine, per pair and backend path",
    note=(
        "Each cell: the outcome, the estimate and its 95 % interval [low, high], and how many rounds or seeds. "
        + "; ".join(f"{k} = {m}" for k, m in OUTCOME_MEANING.items())
        + ". Size: separable / regular parameters and native file bytes (exact counts, both below 1). Speed: separable / regular "
        "time from paired rounds of both models in a random order (the study-style evaluate, 10,000 images at batch 32, on each "
        "backend's default path; each fast/int8 path's predict), taken in several fresh processes: the mean of the processes' "
        "median ratios, its interval spanning a two-level bootstrap (processes, then rounds) and a random-effects t interval, "
        "against the band 0.95-1.05 (one process decides nothing: a rerun's process would differ). Accuracy: regular - separable test "
        "accuracy in points (trained weights, all 10,000 test images) against (0, 5]: on the t interval over seeds where several "
        "were trained, else one seed's point, labelled '1 seed'. "
        "The study's row is its published figures (one run each, no interval). Other machines: the next table."
    ),
    table=lambda i: verdict_table(i.decided.study() + i.decided.this_machine()),
    shown=keep_all,
    lead=True,
    view=this_machine_view,
)


OTHER_MACHINES = SectionSpec(
    key="verdict_other_machines",
    title="The verdict on other machines",
    note=(
        "The same records for every other machine in the results read (other result files, the ASV history in history/), with "
        "what each measured: a machine that only ASV measured has its sizes and a point ratio per commit (no interval, so "
        "'inconclusive')."
    ),
    table=lambda i: verdict_table(i.decided.other_machines()),
    shown=keep_all,
    optional=True,
    lead=True,
    view=other_machines_view,
)


CLAIMS_SECTION = SectionSpec(
    key="claims",
    title="1b. The claims, per pair, backend and machine",
    note=(
        "Every verdict record, as sepbench.core.claims decided it (the same engine `sepbench reproduce` and `bench-summary` use): "
        "outcome, estimate, 95 % interval (low, high), n (rounds, seeds, or 1 for a count or a point), method, unit, note and "
        "the figures it came from (JSON)."
    ),
    table=lambda i: i.decided.frame(),
    shown=fmt.claims_shown,
)
