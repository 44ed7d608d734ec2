"""The verdict sections: the claims on this machine first, then on other machines, then every record.

Which figures count and how a claim is decided are :mod:`sepbench.results.verdict`'s and
:mod:`sepbench.core.claims`'s rules (``bench-summary`` and ``reproduce`` use the same); this module only lays them out."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pandas as pd

from sepbench.core.claims import CLAIMS, OUTCOME_MEANING, Verdict, decide_claims
from sepbench.core.evidence import study_verdict_inputs
from sepbench.report import fmt
from sepbench.report.sections.base import SectionSpec, keep_all
from sepbench.results import verdict as V
from sepbench.results.claim_verdicts import claim_verdicts
from sepbench.results.paired_records import PairedRecord

STUDY_MACHINE, STUDY_BACKEND = "(the study)", "keras (published)"


CLAIM_COLUMNS = [
    "machine",
    "pair",
    "backend",
    "claim",
    "outcome",
    "estimate",
    "low",
    "high",
    "n",
    "method",
    "unit",
    "note",
    "busy",
    "figures",
]


def _claim_rows(machine: object, pair: str, backend: str, verdicts: list[Verdict]) -> list[dict[str, object]]:
    return [
        {"machine": machine, "pair": pair, "backend": backend, **{k: v for k, v in x.as_dict().items() if k != "claim"}, "claim": x.claim}
        for x in verdicts
    ]


def claims(df: pd.DataFrame, records: Iterable[PairedRecord] = ()) -> pd.DataFrame:
    """Every verdict record, one row per machine, backend path and claim (the study's own first):
    outcome, estimate, 95 % interval, n, method, unit, note, busy (measured on a machine short of cores) and the figures it came from, as
    :func:`sepbench.results.claim_verdicts.claim_verdicts` decided them."""
    evidence, missing, point_decides = study_verdict_inputs()
    rows = _claim_rows(
        STUDY_MACHINE, V.STUDY_PAIR.name, STUDY_BACKEND, decide_claims(evidence, missing=missing, point_decides=point_decides)
    )
    for machine, pair, variant, verdicts in claim_verdicts(df, records):
        rows += _claim_rows(machine, pair, variant, verdicts)
    out = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    out["figures"] = [json.dumps(f, default=str, sort_keys=True) for f in out["figures"]]
    return out


VERDICT_COLUMNS = {c.key: c.column for c in CLAIMS}


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


def _verdict_table(records: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (machine, pair, backend), sub in records.groupby(["machine", "pair", "backend"], sort=False, dropna=False):
        row = {"machine": machine, "pair": pair, "backend": backend}
        for r in sub.itertuples():
            row[VERDICT_COLUMNS[r.claim]] = Verdict.from_dict({**r._asdict(), "figures": json.loads(r.figures)}).cell()
        rows.append(row)
    return pd.DataFrame(rows, columns=["machine", "pair", "backend", *VERDICT_COLUMNS.values()])


def verdict(df: pd.DataFrame, records: Iterable[PairedRecord] = ()) -> pd.DataFrame:
    """The answer first: the study's row, then one row per backend path of :func:`this_machine`, one
    column per claim, each cell the outcome with its estimate and 95 % interval (:meth:`Verdict.cell`)."""
    records = claims(df, records)
    here = this_machine(df)
    keep = records["machine"].eq(STUDY_MACHINE) | (records["machine"].eq(here) if here is not None else records["machine"].isna())
    return _verdict_table(records[keep])


def verdict_other_machines(df: pd.DataFrame, records: Iterable[PairedRecord] = ()) -> pd.DataFrame:
    """The same verdicts for every other machine the results name (other result files, ``history/``),
    with whatever each measured: an ASV-only machine shows its sizes and its point ratios."""
    records = claims(df, records)
    here = this_machine(df)
    other = ~records["machine"].eq(STUDY_MACHINE) & ~(records["machine"].eq(here) if here is not None else records["machine"].isna())
    return _verdict_table(records[other])


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
    table=lambda i: verdict(i.df, i.records),
    shown=keep_all,
    lead=True,
)


OTHER_MACHINES = SectionSpec(
    key="verdict_other_machines",
    title="The verdict on other machines",
    note=(
        "The same records for every other machine in the results read (other result files, the ASV history in history/), with "
        "what each measured: a machine that only ASV measured has its sizes and a point ratio per commit (no interval, so "
        "'inconclusive')."
    ),
    table=lambda i: verdict_other_machines(i.df, i.records),
    shown=keep_all,
    optional=True,
    lead=True,
)


CLAIMS_SECTION = SectionSpec(
    key="claims",
    title="1b. The claims, per pair, backend and machine",
    note=(
        "Every verdict record, as sepbench.core.claims decided it (the same engine `sepbench reproduce` and `bench-summary` use): "
        "outcome, estimate, 95 % interval (low, high), n (rounds, seeds, or 1 for a count or a point), method, unit, note and "
        "the figures it came from (JSON)."
    ),
    table=lambda i: claims(i.df, i.records),
    shown=fmt.claims_shown,
)
