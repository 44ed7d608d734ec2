"""Accuracy over seeds: the interval arithmetic against hand-computed values, and the claim's three outcomes."""

from __future__ import annotations

import math

import pytest

from sepbench.core.seed_stats import accuracy_cost_verdict, interval, summarize_seeds, t975
from sepbench.core.study import STUDY


def test_interval_matches_a_hand_computation():
    iv = interval([0.91, 0.92, 0.93, 0.90, 0.94])  # mean 0.92, sd 0.015811..., t(4) = 2.776
    assert iv.mean == pytest.approx(0.92) and iv.sd == pytest.approx(math.sqrt(0.00025))
    assert iv.high - iv.mean == pytest.approx(2.776 * math.sqrt(0.00025) / math.sqrt(5))
    assert t975(1) == 12.706 and t975(100) == 1.96
    with pytest.raises(ValueError, match="at least two"):
        interval([0.9])
    with pytest.raises(ValueError, match="finite"):
        interval([0.9, float("nan")])


@pytest.mark.parametrize(
    "costs, holds, words",
    [
        ([1.2, 1.0, 1.4, 1.1, 1.3], True, "a little"),
        ([0.5, -0.4, 0.2, -0.1, 0.3], False, "no measurable cost"),
        ([7.0, 8.0, 7.5, 7.2, 7.9], False, "not 'a little'"),
    ],
)
def test_the_claim_is_decided_on_the_interval(costs, holds, words):
    verdict, evidence = accuracy_cost_verdict(interval(costs))
    assert verdict is holds and words in evidence and "5 seeds" in evidence


def test_summary_pairs_seeds_and_places_the_study():
    rows = [
        {"seed": s, "model": m, "test_accuracy": a, "test_loss": 0.3}
        for s, (r, p) in enumerate([(0.913, 0.901), (0.915, 0.899), (0.911, 0.903)])
        for m, a in (("regular", r), ("separable", p))
    ]
    rows[1]["test_loss"] = 0.31
    out = summarize_seeds(rows, STUDY)
    assert out["cost_points"]["mean"] == pytest.approx(100 * ((0.913 - 0.901) + (0.915 - 0.899) + (0.911 - 0.903)) / 3)
    assert out["claim"]["holds"] is True
    reg = out["models"]["regular"]
    assert reg["seeds_below_study"] == 3 and reg["study_z"] > 0  # the study's 0.9169 lies above all three
