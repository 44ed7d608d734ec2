"""Every claim on every machine, pair and backend path: the evidence gathered from the tidy figures
(:mod:`sepbench.results.verdict`'s figures, :mod:`sepbench.results.paired`'s estimates, accuracy over
seeds) and decided by :func:`sepbench.core.claims.decide_claims`.  ``bench-summary`` and the report both
call :func:`claim_verdicts`, so a verdict means the same in both.  Pure pandas.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from sepbench.core.claims import Verdict, decide_claims
from sepbench.core.evidence import claim_evidence
from sepbench.core.pairs import PAIRS, STUDY_PAIR
from sepbench.results.paired import Key, paired_ratios, record_evidence, speed_evidence, train_evidence
from sepbench.results.paired_records import PairedRecord
from sepbench.results.schema import WORKLOAD_SEEDS
from sepbench.results.verdict import TEST_IMAGES, figure_dicts, figures, pair_models, subset_variants


def seed_costs(df: pd.DataFrame) -> dict[object, list[float]]:
    """Per machine with accuracies over several training seeds (the newest ``reproduce --seeds`` run, or a
    benchmark run's cached-seed case), trained and tested on all of MNIST: each seed's regular - separable
    accuracy in points.  Machines whose seeds used a subset are left out (their single figure decides)."""
    d = df[df["workload"].eq(WORKLOAD_SEEDS) & df["metric"].eq("test_accuracy")] if "workload" in df else df.iloc[0:0]
    out: dict[object, list[float]] = {}
    for machine, sub in d.groupby("machine", dropna=False):
        sub = sub[sub["source_file"].eq(sub.sort_values("created")["source_file"].iloc[-1])]
        if sub["weights_source"].eq("trained-subset").any() or pd.to_numeric(sub["n_images"], errors="coerce").lt(TEST_IMAGES).any():
            continue
        by_seed = sub.pivot_table(index="params", columns="model", values="value", aggfunc="first")
        base, cand = STUDY_PAIR.model_names  # the seeds are the study pair's (reproduce --seeds, the cached-seeds case)
        if not {base, cand} <= set(by_seed.columns):
            continue
        costs = (100 * (by_seed[base] - by_seed[cand])).dropna()
        if len(costs) >= 2:
            out[machine if pd.notna(machine) else None] = [float(c) for c in costs]
    return out


def claim_verdicts(
    df: pd.DataFrame, records: Iterable[PairedRecord] = (), fig: pd.DataFrame | None = None
) -> list[tuple[object, str, str, list[Verdict]]]:
    """Every machine, pair and backend path with a figure: ``(machine, pair, variant, verdicts)`` in sorted
    order, each claim decided by :func:`sepbench.core.claims.decide_claims` on the evidence of
    :func:`sepbench.core.evidence.claim_evidence` (sizes, the paired speed and training estimates,
    accuracy over seeds where several exist; the paired ``records``, estimated over their processes, win
    over a run's paired rows).  A pair is shown for a path where its paired rounds ran or
    both its models have a figure there.  ``fig``: :func:`~sepbench.results.verdict.figures` of ``df``,
    where the caller has it already.  Each estimate is computed once (the paired table, the bootstraps)."""
    figs = figure_dicts(figures(df) if fig is None else fig)
    table, by_records = paired_ratios(df), record_evidence(records)
    speeds = speed_evidence(df, table=table, by_records=by_records)
    trains = train_evidence(df, table=table, by_records=by_records)
    seeds = seed_costs(df)
    subset = subset_variants(df)
    models = pair_models(df)
    keys: set[Key] = set(speeds)
    for (machine, var), f in figs.items():
        have = {m for values in f.values() for m in values}
        keys |= {(machine, name, var) for name, pair_models_ in models.items() if set(pair_models_) <= have}
    keys |= {
        (machine, pair, var) for (machine, pair, trainer) in trains for (m2, var) in figs if m2 == machine and _backend(var) == trainer
    }
    out = []
    for key in sorted(keys, key=lambda k: (str(k[0]), k[1] != STUDY_PAIR.name, k[1], k[2])):
        machine, pair, var = key
        pair_models_ = models.get(pair)
        if pair_models_ is None:
            continue
        evidence, missing, point_decides = claim_evidence(
            figs.get((machine, var), {}),
            speeds.get(key),
            seeds.get(machine) if pair == STUDY_PAIR.name else None,
            models=pair_models_,
            train=trains.get((machine, pair, _backend(var))),
            train_missing=_train_missing(_backend(var), PAIRS[pair].synthetic if pair in PAIRS else False),
        )
        verdicts = decide_claims(evidence, missing=missing, subset=subset.get((machine, var), {}), point_decides=point_decides)
        out.append((machine, pair, var, verdicts))
    return out


def _backend(variant_label: str) -> str:
    return variant_label.split(" (", 1)[0]


def _train_missing(backend: str, synthetic: bool = False) -> str:
    from sepbench.core.recipe import TRAINERS

    if synthetic:
        return "synthetic input: no labels to train on (speed and size only)"
    if backend not in TRAINERS:
        return f"{backend} has no trainer (an inference runtime): the trainers are {', '.join(TRAINERS)}"
    return f"no paired training rounds of both models on the {backend} trainer"
