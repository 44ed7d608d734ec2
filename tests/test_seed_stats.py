"""Accuracy over seeds: the interval arithmetic against hand-computed values, and the claim's three outcomes."""

from __future__ import annotations

import math

import pytest

from sepbench.core.claims import INCONCLUSIVE, NO, YES, decide
from sepbench.core.evidence import accuracy_over_seeds
from sepbench.core.seed_stats import interval, summarize_seeds, t975
from sepbench.core.study import STUDY


def test_interval_matches_a_hand_computation():
    iv = interval([0.91, 0.92, 0.93, 0.90, 0.94])  # mean 0.92, sd 0.015811..., t(4) = 2.776
    assert iv.mean == pytest.approx(0.92) and iv.sd == pytest.approx(math.sqrt(0.00025))
    assert iv.high - iv.mean == pytest.approx(2.7764 * math.sqrt(0.00025) / math.sqrt(5), rel=1e-4)
    # published two-sided 95 % quantiles (any t table): beyond df 30 they still shrink towards 1.96
    for df, t in ((1, 12.706), (4, 2.776), (30, 2.042), (31, 2.040), (60, 2.000), (100, 1.984), (1000, 1.962)):
        assert t975(df) == pytest.approx(t, abs=5e-4), df
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
