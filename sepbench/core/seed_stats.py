"""Accuracy over several training seeds: mean with a 95 % interval, the paired regular - separable
difference, where the study's single figures fall, and the "a little accuracy" claim decided on the
interval by the claims engine.  No framework; the interval is :func:`sepbench.core.intervals.mean_interval`
(written once: the t quantile is SciPy's).

The study reports one run with no seed; our seed-to-seed spread is about a point for the separable
model, so one seed cannot tell a 1.2-point cost from a 0.3-point one.  The interval can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from sepbench.core.claims import decide
from sepbench.core.evidence import accuracy_over_seeds
from sepbench.core.intervals import mean_interval
from sepbench.core.pairs import STUDY_PAIR


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values with its 95 % t interval (``low``, ``high``) and the sample standard deviation."""

    mean: float
    low: float
    high: float
    sd: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def interval(values: Sequence[float]) -> Interval:
    """Mean and 95 % Student t interval of ``values`` (at least two, all finite): :func:`mean_interval`'s,
    with its standard deviation, as the seeds' summary records it."""
    est = mean_interval([float(v) for v in values])
    return Interval(est.value, est.low, est.high, est.extra["sd"], est.n)


def summarize_seeds(per_seed: Sequence[Mapping[str, object]], study: Mapping[str, Mapping[str, float]]) -> dict[str, object]:
    """From rows ``{seed, model, test_accuracy, test_loss}``: per model the accuracy and loss intervals and
    where the study's figure falls (its z-score against our seeds and how many seeds lie below it); the
    paired regular - separable accuracy difference (points) and the claim decided on it."""
    models = sorted({str(r["model"]) for r in per_seed})
    out: dict[str, object] = {"models": {}}
    for model in models:
        rows = [r for r in per_seed if r["model"] == model]
        acc = interval([float(r["test_accuracy"]) for r in rows])  # type: ignore[arg-type]
        loss = interval([float(r["test_loss"]) for r in rows])  # type: ignore[arg-type]
        study_acc = study.get("test_accuracy", {}).get(model)
        entry: dict[str, object] = {"test_accuracy": acc.as_dict(), "test_loss": loss.as_dict(), "study_accuracy": study_acc}
        if study_acc is not None:
            entry["study_z"] = (study_acc - acc.mean) / acc.sd if acc.sd > 0 else None
            entry["seeds_below_study"] = sum(float(r["test_accuracy"]) < study_acc for r in rows)  # type: ignore[arg-type]
        out["models"][model] = entry  # type: ignore[index]
    base, cand = STUDY_PAIR.model_names  # the accuracy claim's pair: the seeds train the study's models
    if {base, cand} <= set(models):
        by_seed = {(r["seed"], r["model"]): float(r["test_accuracy"]) for r in per_seed}  # type: ignore[arg-type]
        seeds = sorted({s for s, m in by_seed if (s, base) in by_seed and (s, cand) in by_seed})
        if len(seeds) >= 2:
            costs = [100 * (by_seed[s, base] - by_seed[s, cand]) for s in seeds]
            out["cost_points"] = interval(costs).as_dict()
            out["cost_points_per_seed"] = costs
            est, figs = accuracy_over_seeds(costs)  # the claims engine decides, as everywhere else
            out["claim"] = decide("small_accuracy_cost", est, figs).as_dict()
    return out
