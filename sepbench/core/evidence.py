"""Figures -> the evidence the claims engine decides: one :class:`~sepbench.core.intervals.Estimate` per
claim metric, with the figures it came from.  The one place that says which figure stands for a claim:

- ``size_ratio``: separable / regular parameters and native file bytes (the HDF5 file where measured,
  as the study saved one), exact counts; the estimate is the larger ratio (both must be below 1).
- ``time_ratio``: separable / regular time from paired rounds (the caller passes the estimate: the
  study-style evaluate where the path has one, else the path's paired predict).
- ``accuracy_cost_points``: regular - separable test accuracy in points, on the interval over seeds
  where several seeds were trained, else the one seed's point figure, labelled "1 seed".
- ``train_time_ratio``: separable / regular time per training epoch from paired rounds on one trainer
  (the caller passes the estimate).

"regular" and "separable" stand for any pair's baseline and candidate (``models``; default the study's).

Pure Python: no framework, no pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sepbench.core.intervals import Estimate, exact, mean_interval, point
from sepbench.core.pairs import STUDY_PAIR

Figures = Mapping[str, Mapping[str, float | None]]  # metric -> model -> value
Evidence = dict[str, tuple[Estimate | None, dict[str, Any]]]
BASELINE, CANDIDATE = STUDY_PAIR.model_names  # the study's pair: the default of every function here
# cores other processes may keep busy, beyond the cores the case leaves free, before a speed verdict is
# the load's rather than the models' (sepbench/machine/cpu_share.py: a one-core hog flipped verdicts)
BUSY_CORES = 0.5
ONE_SEED = "1 seed (point figure, no interval)"


Models = tuple[str, str]  # (baseline, candidate)
STUDY_MODELS: Models = (BASELINE, CANDIDATE)


def _pair(figures: Figures, metric: str, models: Models = STUDY_MODELS) -> tuple[float, float] | None:
    values = figures.get(metric) or {}
    a, b = values.get(models[0]), values.get(models[1])
    if a is None or b is None:
        return None
    return float(a), float(b)


def size_evidence(figures: Figures, models: Models = STUDY_MODELS) -> tuple[Estimate | None, dict[str, Any], str]:
    """(estimate, figures, why missing) of ``size_ratio`` from ``params`` and a file size."""
    params = _pair(figures, "params", models)
    file_metric = "hdf5_bytes" if _pair(figures, "hdf5_bytes", models) else "native_bytes"
    size = _pair(figures, file_metric, models)
    if params is None or size is None:
        return None, {}, "parameters or file size missing"
    ratios = {"params": params[1] / params[0], file_metric: size[1] / size[0]}
    base, cand = models
    figs: dict[str, Any] = {
        f"params_{base}": params[0],
        f"params_{cand}": params[1],
        f"{file_metric}_{base}": size[0],
        f"{file_metric}_{cand}": size[1],
        **{f"{k}_ratio": v for k, v in ratios.items()},
    }
    return exact(max(ratios.values()), f"exact counts: params {ratios['params']:.3f}x, {file_metric} {ratios[file_metric]:.3f}x"), figs, ""


def accuracy_point(figures: Figures, models: Models = STUDY_MODELS) -> tuple[Estimate | None, dict[str, Any], str]:
    """(estimate, figures, why missing) of ``accuracy_cost_points`` from one seed's ``test_accuracy``."""
    acc = _pair(figures, "test_accuracy", models)
    if acc is None:
        return None, {}, "test accuracy missing (trained weights on all 10,000 test images)"
    figs = {f"accuracy_{models[0]}": acc[0], f"accuracy_{models[1]}": acc[1]}
    return point(100 * (acc[0] - acc[1]), ONE_SEED), figs, ""


def accuracy_over_seeds(
    costs_points: Sequence[float], per_seed: Mapping[str, Sequence[float]] | None = None
) -> tuple[Estimate, dict[str, Any]]:
    """The paired regular - separable cost (points) of each seed -> its mean with the 95 % t interval."""
    est = mean_interval(costs_points, method=f"mean over {len(costs_points)} seeds, 95 % t interval")
    figs: dict[str, Any] = {"seeds": len(costs_points), "cost_points_per_seed": [round(c, 4) for c in costs_points]}
    if per_seed:
        figs.update({f"accuracy_{m}_per_seed": [round(v, 4) for v in vals] for m, vals in per_seed.items()})
    return est, figs


def claim_evidence(
    figures: Figures,
    speed: tuple[Estimate, dict[str, Any]] | None = None,
    seed_costs: Sequence[float] | None = None,
    speed_missing: str = "no paired rounds of both models on this path",
    *,
    models: Models = STUDY_MODELS,
    train: tuple[Estimate, dict[str, Any]] | None = None,
    train_missing: str = "no paired training rounds of both models",
) -> tuple[Evidence, dict[str, str], set[str]]:
    """The evidence of every claim for one backend path of one pair (``models``: baseline, candidate):
    ``(evidence, missing, point_decides)`` as :func:`sepbench.core.claims.decide_claims` takes them.

    ``speed`` is the paired time estimate and its figures; ``seed_costs`` the per-seed accuracy costs
    (points) where several seeds were trained: they decide accuracy instead of the single seed;
    ``train`` the paired epoch-time estimate of the path's trainer and its figures.
    """
    evidence: Evidence = {}
    missing: dict[str, str] = {}
    est, figs, why = size_evidence(figures, models)
    evidence["size_ratio"] = (est, figs)
    if why:
        missing["smaller"] = why
    if speed is not None:
        evidence["time_ratio"] = (speed[0], dict(speed[1]))
    else:
        missing["faster"] = speed_missing
    point_decides: set[str] = set()
    if seed_costs is not None and len(seed_costs) >= 2:
        evidence["accuracy_cost_points"] = accuracy_over_seeds(seed_costs)
    else:
        est, figs, why = accuracy_point(figures, models)
        evidence["accuracy_cost_points"] = (est, figs)
        point_decides.add("small_accuracy_cost")  # one seed decides on its point, labelled "1 seed"
        if why:
            missing["small_accuracy_cost"] = why
    if train is not None:
        evidence["train_time_ratio"] = (train[0], dict(train[1]))
    else:
        missing["trains_faster"] = train_missing
    return evidence, missing, point_decides


def study_verdict_inputs() -> tuple[Evidence, dict[str, str], set[str]]:
    """The study's own published figures as evidence (one run each, no interval): its claims are shown
    as the study made them, decided on its points and labelled so, above ours."""
    from sepbench.core.study import STUDY

    evidence, missing, point_decides = claim_evidence(STUDY, train_missing="the study did not time its training")
    ev = STUDY["eval_seconds"]
    evidence["time_ratio"] = (
        point(ev[CANDIDATE] / ev[BASELINE], "published: one model.evaluate per model, no interval"),
        {"regular_s": ev[BASELINE], "separable_s": ev[CANDIDATE]},
    )
    missing.pop("faster", None)
    return evidence, missing, point_decides | {"faster"}


def busy_reason(others_cores: float | None, cores: int | None, threads: int | None) -> str:
    """Why a speed estimate decides nothing: other processes used more than :data:`BUSY_CORES` of the
    cores the case's ``threads`` needed, on average during its rounds (``""``: not busy, or not known)."""
    if others_cores is None or not cores or not threads:
        return ""
    if others_cores <= max(0, cores - threads) + BUSY_CORES:
        return ""
    free = max(1, int(cores - others_cores + 0.5))
    return (
        f"the machine was busy: other processes used {others_cores:.1f} of its {cores} cores during the rounds, "
        f"which ran {threads} threads; rerun on a quieter machine or with --threads {free}"
    )
