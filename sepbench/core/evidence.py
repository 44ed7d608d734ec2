"""Figures -> the evidence the claims engine decides: one :class:`~sepbench.core.intervals.Estimate` per
claim metric, with the figures it came from.  The one place that says which figure stands for a claim:

- ``size_ratio``: separable / regular parameters and native file bytes (the HDF5 file where measured,
  as the study saved one), exact counts; the estimate is the larger ratio (both must be below 1).
- ``time_ratio``: separable / regular time from paired rounds (the caller passes the estimate: the
  study-style evaluate where the path has one, else the path's paired predict).
- ``accuracy_cost_points``: regular - separable test accuracy in points, on the interval over seeds
  where several seeds were trained, else the one seed's point figure, labelled "1 seed".

Pure Python: no framework, no pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sepbench.core.intervals import Estimate, exact, mean_interval, point

Figures = Mapping[str, Mapping[str, float | None]]  # metric -> model -> value
Evidence = dict[str, tuple[Estimate | None, dict[str, Any]]]
BASELINE, CANDIDATE = "regular", "separable"
# cores other processes may keep busy, beyond the cores the case leaves free, before a speed verdict is
# the load's rather than the models' (sepbench/machine/cpu_share.py: a one-core hog flipped verdicts)
BUSY_CORES = 0.5
ONE_SEED = "1 seed (point figure, no interval)"


def _pair(figures: Figures, metric: str) -> tuple[float, float] | None:
    values = figures.get(metric) or {}
    a, b = values.get(BASELINE), values.get(CANDIDATE)
    if a is None or b is None:
        return None
    return float(a), float(b)


def size_evidence(figures: Figures) -> tuple[Estimate | None, dict[str, Any], str]:
    """(estimate, figures, why missing) of ``size_ratio`` from ``params`` and a file size."""
    params = _pair(figures, "params")
    file_metric = "hdf5_bytes" if _pair(figures, "hdf5_bytes") else "native_bytes"
    size = _pair(figures, file_metric)
    if params is None or size is None:
        return None, {}, "parameters or file size missing"
    ratios = {"params": params[1] / params[0], file_metric: size[1] / size[0]}
    figs: dict[str, Any] = {
        "params_regular": params[0],
        "params_separable": params[1],
        f"{file_metric}_regular": size[0],
        f"{file_metric}_separable": size[1],
        **{f"{k}_ratio": v for k, v in ratios.items()},
    }
    return exact(max(ratios.values()), f"exact counts: params {ratios['params']:.3f}x, {file_metric} {ratios[file_metric]:.3f}x"), figs, ""


def accuracy_point(figures: Figures) -> tuple[Estimate | None, dict[str, Any], str]:
    """(estimate, figures, why missing) of ``accuracy_cost_points`` from one seed's ``test_accuracy``."""
    acc = _pair(figures, "test_accuracy")
    if acc is None:
        return None, {}, "test accuracy missing (trained weights on all 10,000 test images)"
    figs = {"accuracy_regular": acc[0], "accuracy_separable": acc[1]}
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
) -> tuple[Evidence, dict[str, str], set[str]]:
    """The evidence of every claim for one backend path: ``(evidence, missing, point_decides)`` as
    :func:`sepbench.core.claims.decide_claims` takes them.

    ``speed`` is the paired time estimate and its figures; ``seed_costs`` the per-seed accuracy costs
    (points) where several seeds were trained: they decide accuracy instead of the single seed.
    """
    evidence: Evidence = {}
    missing: dict[str, str] = {}
    est, figs, why = size_evidence(figures)
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
        est, figs, why = accuracy_point(figures)
        evidence["accuracy_cost_points"] = (est, figs)
        point_decides.add("small_accuracy_cost")  # one seed decides on its point, labelled "1 seed"
        if why:
            missing["small_accuracy_cost"] = why
    return evidence, missing, point_decides


def study_verdict_inputs() -> tuple[Evidence, dict[str, str], set[str]]:
    """The study's own published figures as evidence (one run each, no interval): its claims are shown
    as the study made them, decided on its points and labelled so, above ours."""
    from sepbench.core.study import STUDY

    evidence, missing, point_decides = claim_evidence(STUDY)
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
