"""Accuracy over seeds: the interval arithmetic against hand-computed values, and the claim's three outcomes."""

from __future__ import annotations

import math

import pytest

from sepbench.core.claims import INCONCLUSIVE, NO, YES, decide
from sepbench.core.evidence import accuracy_over_seeds
from sepbench.core.intervals import t_quantile
from sepbench.core.seed_stats import interval, summarize_seeds
from sepbench.core.study import STUDY


def test_interval_matches_a_hand_computation():
    iv = interval([0.91, 0.92, 0.93, 0.90, 0.94])  # mean 0.92, sd 0.015811..., t(4) = 2.776
    assert iv.mean == pytest.approx(0.92) and iv.sd == pytest.approx(math.sqrt(0.00025))
    assert iv.high - iv.mean == pytest.approx(2.7764 * math.sqrt(0.00025) / math.sqrt(5), rel=1e-4)
    # published two-sided 95 % quantiles (any t table): beyond df 30 they still shrink towards 1.96
    for df, t in ((1, 12.706), (4, 2.776), (30, 2.042), (31, 2.040), (60, 2.000), (100, 1.984), (1000, 1.962)):
        assert t_quantile(df) == pytest.approx(t, abs=5e-4), df
    with pytest.raises(ValueError, match="at least two"):
        interval([0.9])
    with pytest.raises(ValueError, match="finite"):
        interval([0.9, float("nan")])


@pytest.mark.parametrize(
    "costs, outcome",
    [
        ([1.2, 1.0, 1.4, 1.1, 1.3], YES),  # 1.0-1.4 points: inside (0, 5]
        ([0.5, -0.4, 0.2, -0.1, 0.3], INCONCLUSIVE),  # the interval straddles 0: a cost cannot be told from none
        ([7.0, 8.0, 7.5, 7.2, 7.9], NO),  # far more than "a little"
        ([-1.0, -1.2, -0.9, -1.1, -1.3], NO),  # separable more accurate: no cost at all
    ],
)
def test_the_claim_is_decided_on_the_interval(costs, outcome):
    v = decide("small_accuracy_cost", *accuracy_over_seeds(costs))
    assert v.outcome == outcome and v.n == 5 and "5 seeds" in v.method and v.low < v.estimate < v.high


def test_summary_pairs_seeds_and_places_the_study():
    rows = [
        {"seed": s, "model": m, "test_accuracy": a, "test_loss": 0.3}
        for s, (r, p) in enumerate([(0.913, 0.901), (0.915, 0.899), (0.911, 0.903)])
        for m, a in (("regular", r), ("separable", p))
    ]
    rows[1]["test_loss"] = 0.31
    out = summarize_seeds(rows, STUDY)
    assert out["cost_points"]["mean"] == pytest.approx(100 * ((0.913 - 0.901) + (0.915 - 0.899) + (0.911 - 0.903)) / 3)
    assert out["claim"]["outcome"] == YES and out["claim"]["n"] == 3
    reg = out["models"]["regular"]
    assert reg["seeds_below_study"] == 3 and reg["study_z"] > 0  # the study's 0.9169 lies above all three


def test_summarize_seeds_against_hand_counts():
    """Three seeds of both models plus a seed only one model has; the study's regular figure equals one
    seed's (it is not "below" the study); a model whose seeds agree exactly has no z-score."""
    import statistics

    reg, sep = [0.90, 0.9169, 0.92], [0.88, 0.88, 0.88]
    rows = [{"seed": s, "model": "regular", "test_accuracy": a, "test_loss": 0.3} for s, a in enumerate(reg)]
    rows += [{"seed": s, "model": "separable", "test_accuracy": a, "test_loss": 0.35 + s / 100} for s, a in enumerate(sep)]
    rows.append({"seed": 9, "model": "regular", "test_accuracy": 0.5, "test_loss": 1.0})  # no separable partner
    out = summarize_seeds(rows[:-1] + rows[-1:], {"test_accuracy": {"regular": 0.9169, "separable": 0.9021}})
    r, s = out["models"]["regular"], out["models"]["separable"]
    all_reg = [*reg, 0.5]
    assert r["test_accuracy"]["mean"] == pytest.approx(statistics.fmean(all_reg)) and r["test_accuracy"]["n"] == 4
    assert r["study_accuracy"] == 0.9169 and r["seeds_below_study"] == 2  # 0.90 and 0.5; 0.9169 itself is not below
    assert r["study_z"] == pytest.approx((0.9169 - statistics.fmean(all_reg)) / statistics.stdev(all_reg))
    assert s["study_z"] is None and s["seeds_below_study"] == 3 and s["test_loss"]["mean"] == pytest.approx(0.36)
    costs = [100 * (a - b) for a, b in zip(reg, sep)]  # seed 9 has no pair: left out
    assert out["cost_points_per_seed"] == pytest.approx(costs) and out["cost_points"]["n"] == 3
    assert out["cost_points"]["mean"] == pytest.approx(statistics.fmean(costs))
    assert out["claim"]["claim"] == "small_accuracy_cost" and out["claim"]["n"] == 3 and out["claim"]["figures"]


def test_two_paired_seeds_are_enough_for_the_cost_and_one_is_not():
    rows = [
        {"seed": s, "model": m, "test_accuracy": a, "test_loss": 0.3}
        for s in (0, 1)
        for m, a in (("regular", 0.92), ("separable", 0.90 + s / 100))
    ]
    assert summarize_seeds(rows, {})["cost_points"]["n"] == 2
    one_pair = [r | {"seed": 2} if r["model"] == "separable" and r["seed"] == 1 else r for r in rows]  # seeds 0, 1 vs 0, 2
    assert "cost_points" not in summarize_seeds(one_pair, {})


def test_interval_of_two_values_and_its_fields():
    iv = interval([1.0, 3.0])  # mean 2, sd sqrt 2, t(1) = 12.706: half 12.706 * sqrt 2 / sqrt 2
    assert (iv.mean, iv.n) == (2.0, 2) and iv.sd == pytest.approx(2**0.5)
    assert iv.high - 2.0 == pytest.approx(12.7062, abs=1e-3) and 2.0 - iv.low == pytest.approx(12.7062, abs=1e-3)


def test_the_studys_evaluate_ran_313_steps_of_32():
    from sepbench.core.study import evaluate_steps

    assert evaluate_steps(10_000, 32) == 313 and evaluate_steps(64, 32) == 2 and evaluate_steps(1, 32) == 1
