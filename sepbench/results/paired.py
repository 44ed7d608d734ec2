"""Candidate / baseline measured in alternating pairs: the paired tables, and the estimates that decide
"faster" and "trains faster" (:func:`speed_evidence`, :func:`train_evidence`).

Input is the tidy table of :mod:`sepbench.results.tidy`; which row counts is :mod:`sepbench.results.verdict`'s
rule (``best``), so ``bench-summary`` and the report read the same pairs.  Pure pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from sepbench.core.intervals import Estimate
from sepbench.core.pairs import STUDY_PAIR
from sepbench.results.paired_evidence import ProcessEvidence, evidence_by_identity
from sepbench.results.paired_records import PairedRecord
from sepbench.results.schema import WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE, WORKLOAD_PAIRED_TRAIN
from sepbench.results.verdict import SINGLE_STATS, best, pair_models, pair_of, variant

ASV_RATIO_BENCHMARK = "predict.SeparableRatio.track_separable_ratio"


PAIRED_COLUMNS = ["machine", "pair", "backend", "path", "variant", "baseline", "candidate", "baseline_s", "candidate_s"]
PAIRED_COLUMNS += ["ratio", "q1", "q3", "pairs", "source_file", "pixels"]


def paired(df: pd.DataFrame) -> pd.DataFrame:
    """Candidate / baseline per machine, pair and backend path, measured in alternating pairs (the newest
    run's paired predict case): each model's median seconds (``baseline_s``, ``candidate_s``; the models
    in ``baseline``, ``candidate``), the per-pair ratio's median (``ratio``) and quartiles (``q1``,
    ``q3``), the number of ``pairs``, and the input type the path was given (``pixels``)."""
    if df.empty or not df["metric"].eq("paired_ratio").any():
        return pd.DataFrame(columns=PAIRED_COLUMNS)
    d = df[df["workload"].eq(WORKLOAD_PAIRED)].copy()
    d["variant"], d["pair"] = variant(d), pair_of(d)
    newest = best(d[d["metric"].eq("paired_ratio") & d["stat"].eq("median")], ["machine", "pair", "variant"])
    d = d.merge(newest[["machine", "pair", "variant", "source_file"]], on=["machine", "pair", "variant", "source_file"])
    models = pair_models(df)
    keys = ["machine", "pair", "backend", "path", "variant", "source_file"]
    ratio_names = {"paired_ratio_median": "ratio", "paired_ratio_q1": "q1", "paired_ratio_q3": "q3", "pairs_value": "pairs"}
    rows = []
    for key, g in d.groupby(keys, dropna=False, sort=False):  # dropna=False: a run that names no machine still counts
        row = dict(zip(keys, key))
        base, cand = models.get(str(row["pair"]), (None, None))
        seconds = dict(zip(g.loc[g["model"].notna(), "model"], g.loc[g["model"].notna(), "value"]))
        stats = dict(zip((g["metric"] + "_" + g["stat"])[g["model"].isna()], g.loc[g["model"].isna(), "value"]))
        row.update(baseline=base, candidate=cand, baseline_s=seconds.get(base), candidate_s=seconds.get(cand))
        row.update({out: stats.get(column) for column, out in ratio_names.items()})
        given = g["pixels"].dropna() if "pixels" in g else ()
        row["pixels"] = given.iloc[0] if len(given) else "float32"
        rows.append(row)
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS).sort_values(["machine", "pair", "backend", "path"]).reset_index(drop=True)


PAIRED_WORKLOADS = (WORKLOAD_PAIRED_EVALUATE, WORKLOAD_PAIRED)  # in order of preference for "faster"


PAIRED_HOW = {WORKLOAD_PAIRED_EVALUATE: "study-style evaluate b32", WORKLOAD_PAIRED: "predict", WORKLOAD_PAIRED_TRAIN: "training steps"}


RATIO_COLUMNS = ["machine", "pair", "variant", "backend", "workload", "estimate", "low", "high", "rounds", "baseline_s", "candidate_s"]
RATIO_COLUMNS += ["note", "source_file", "others_cores", "busy", "threads"]


def paired_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine, pair, backend variant and paired workload, the newest run's candidate / baseline
    ratio: ``estimate`` within [``low``, ``high``] (95 %), ``rounds``, each model's median seconds
    (``baseline_s``, ``candidate_s``), the interval's method (``note``), the file, the cores other
    processes used during the rounds (``others_cores``) and why that made the machine too busy to decide
    (``busy``, else ``""``) and the compute threads the rounds ran (``threads``, ``None`` where not recorded).
    ``low``/``high`` are NaN for a run that recorded no interval."""
    if df.empty or not df["metric"].eq("paired_ratio").any():
        return pd.DataFrame(columns=RATIO_COLUMNS)
    d = df[df["workload"].isin([*PAIRED_WORKLOADS, WORKLOAD_PAIRED_TRAIN])].copy()
    d["variant"], d["pair"] = variant(d), pair_of(d)
    keys = ["machine", "pair", "variant", "workload"]
    ratio = d[d["metric"].eq("paired_ratio") & d["stat"].eq("median")]
    newest = best(ratio, keys)[[*keys, "source_file"]]
    d = d.merge(newest, on=[*keys, "source_file"])
    models = pair_models(df)
    rows = []
    for key, g in d.groupby([*keys, "source_file"], dropna=False, sort=True):
        is_ratio = g["metric"].eq("paired_ratio")
        stats = dict(zip(g.loc[is_ratio, "stat"], g.loc[is_ratio, "value"]))
        seconds = dict(zip(g.loc[g["model"].notna(), "model"], g.loc[g["model"].notna(), "value"]))
        base, cand = models.get(str(key[1]), (None, None))
        notes = g.loc[is_ratio, "note"].dropna()
        rounds = g.loc[g["metric"].eq("pairs"), "value"]
        others = g[g["metric"].eq("others_cores")]
        threads = g.loc[g["metric"].eq("threads"), "value"]
        busy = others["note"].dropna() if "note" in others else others["value"].iloc[0:0]
        rows.append(
            {
                **dict(zip(keys, key)),
                "backend": g["backend"].iloc[0],
                "estimate": stats.get("estimate", stats.get("median")),
                "low": stats.get("low", float("nan")),
                "high": stats.get("high", float("nan")),
                "rounds": int(rounds.iloc[0]) if len(rounds) else None,
                "baseline_s": seconds.get(base),
                "candidate_s": seconds.get(cand),
                "note": notes.iloc[0] if len(notes) else None,
                "source_file": key[4],
                "others_cores": float(others["value"].iloc[0]) if len(others) else None,
                "busy": str(busy.iloc[0]) if len(busy) else "",
                "threads": int(threads.iloc[0]) if len(threads) else None,
            }
        )
    return pd.DataFrame(rows, columns=RATIO_COLUMNS)


def paired_estimate(r: Any, models: tuple[str, str]) -> tuple[Estimate, dict[str, Any]]:
    """One row of :func:`paired_ratios` as the estimate a speed claim is decided on, and its figures."""
    has = pd.notna(r.low) and pd.notna(r.high) and (r.rounds or 0) >= 2
    how = PAIRED_HOW[r.workload]
    method = f"{how}: {r.note}" if isinstance(r.note, str) and r.note else f"{how}: median of {r.rounds} paired rounds"
    note = r.note.split("; ", 1)[1] if isinstance(r.note, str) and "; " in r.note else ""  # the warnings after the method
    if has:
        est = Estimate(float(r.estimate), float(r.low), float(r.high), int(r.rounds), method.split("; ")[0], note=note, unusable=r.busy)
    else:
        est = Estimate(float(r.estimate), float("nan"), float("nan"), 1, f"{how}: recorded without an interval (an older run)")
    figs = {"measured": how, f"{models[0]}_s": r.baseline_s, f"{models[1]}_s": r.candidate_s, "rounds": r.rounds}
    figs["source"] = Path(str(r.source_file)).name
    threads = getattr(r, "threads", None)
    if threads is not None and pd.notna(threads):
        figs["threads"] = int(threads)  # a speed verdict holds at the threads it was measured with
    if r.others_cores is not None and pd.notna(r.others_cores):
        figs["others_cores"] = round(float(r.others_cores), 2)  # cores other processes used during the rounds
    return est, figs


Key = tuple[object, str, str]  # (machine, pair, variant)
RecordEvidence = dict[tuple[object, str, str, str], tuple[Estimate, dict[str, Any]]]  # (machine, pair, variant, workload) -> evidence


def record_evidence(records: Iterable[PairedRecord]) -> RecordEvidence:
    """``(machine, pair, variant, workload)`` -> the estimate over processes of the paired records and its
    figures, computed now (:mod:`sepbench.results.paired_evidence`).  Of several identities of one key
    (other threads, another commit), the one measured last decides: a verdict holds at its threads."""
    newest: dict[tuple[object, str, str, str], ProcessEvidence] = {}
    for ev in evidence_by_identity(records):
        i = ev.identity
        key = (i.machine, i.pair, i.variant(), i.workload)
        if key not in newest or _last_started(ev) > _last_started(newest[key]):
            newest[key] = ev
    out = {}
    for key, ev in newest.items():
        figs = {"measured": PAIRED_HOW[key[3]], **ev.figures(), "source": "records"}
        out[key] = (ev.estimate(), figs)
    return out


def _last_started(ev: ProcessEvidence) -> str:
    return max(r.process.started for r in ev.records)


def speed_evidence(
    df: pd.DataFrame,
    records: Iterable[PairedRecord] = (),
    *,
    table: pd.DataFrame | None = None,
    by_records: RecordEvidence | None = None,
) -> dict[Key, tuple[Estimate, dict[str, Any]]]:
    """``(machine, pair, variant)`` -> the estimate that decides "faster" and its figures: the paired
    study-style evaluate where the path ran one (the default paths), else the path's paired predict; an
    ASV separable/regular ratio (a point, no interval) where nothing else measured the study's path.
    Paired ``records`` (processes as the unit) win over a pytest-benchmark run's rows of the same case.
    ``table`` (:func:`paired_ratios` of ``df``) and ``by_records`` (:func:`record_evidence` of ``records``)
    may be passed in by a caller that already computed them (each estimate over processes is a bootstrap)."""
    out: dict[Key, tuple[Estimate, dict[str, Any]]] = {}
    by_records = record_evidence(records) if by_records is None else by_records
    for workload in PAIRED_WORKLOADS[::-1]:  # the preferred last, so that it wins
        for (machine, pair, var, w), found in by_records.items():
            if w == workload:
                out[(machine, pair, var)] = found
    from_records = set(out)
    table = paired_ratios(df) if table is None else table
    models = pair_models(df)
    for workload in PAIRED_WORKLOADS[::-1]:  # the preferred last, so that it wins
        for r in table[table["workload"].eq(workload)].itertuples():
            key = (r.machine if pd.notna(r.machine) else None, str(r.pair), r.variant)
            # a pair whose rows name no models (a damaged file) decides nothing; records win over a run's rows
            if str(r.pair) in models and key not in from_records:
                out[key] = paired_estimate(r, models[str(r.pair)])
    if "benchmark" in df and df["source_kind"].eq("asv").any():
        asv = df[df["source_kind"].eq("asv") & df["benchmark"].eq(ASV_RATIO_BENCHMARK) & df["stat"].isin(SINGLE_STATS)]
        if not asv.empty:
            asv = asv.assign(variant=variant(asv)).sort_values("created", kind="stable")
            for (machine, var), g in asv.groupby(["machine", "variant"], dropna=False, sort=True):
                key = (machine if pd.notna(machine) else None, STUDY_PAIR.name, var)
                if key in out:
                    continue
                r = g.iloc[-1]
                est = Estimate(float(r["value"]), float("nan"), float("nan"), 1, "ASV SeparableRatio: one figure per commit, no interval")
                out[key] = (
                    est,
                    {"measured": "ASV track_separable_ratio", "commit": r.get("commit"), "source": Path(str(r["source_file"])).name},
                )
    return out


def train_evidence(
    df: pd.DataFrame,
    records: Iterable[PairedRecord] = (),
    *,
    table: pd.DataFrame | None = None,
    by_records: RecordEvidence | None = None,
) -> dict[tuple[object, str, str], tuple[Estimate, dict[str, Any]]]:
    """``(machine, pair, trainer)`` -> the estimate that decides "trains faster" and its figures: the
    paired training records of that trainer (a backend that trains), else the newest run's paired case
    (``table`` and ``by_records`` as in :func:`speed_evidence`)."""
    table = paired_ratios(df) if table is None else table
    models = pair_models(df)
    rows = table[table["workload"].eq(WORKLOAD_PAIRED_TRAIN) & table["pair"].astype(str).isin(list(models))]
    out = {
        (r.machine if pd.notna(r.machine) else None, str(r.pair), str(r.backend)): paired_estimate(r, models[str(r.pair)])
        for r in rows.itertuples()
    }
    for (machine, pair, var, w), found in (record_evidence(records) if by_records is None else by_records).items():
        if w == WORKLOAD_PAIRED_TRAIN:
            out[(machine, pair, var.split(" (", 1)[0])] = found
    return out
