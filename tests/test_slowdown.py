"""The one decision rule behind the CI alert and the benchmark gate (:mod:`sepbench.results.slowdown`)."""

from __future__ import annotations

import numpy as np
import pytest

from sepbench.results.slowdown import IMPROVEMENT, REGRESSION, SAME, SlowdownError, judge, spread


def _noisy(n: int, scale: float, noise: float, seed: int) -> np.ndarray:
    return scale * np.exp(np.random.default_rng(seed).normal(0, noise, n))


def test_a_paired_ten_percent_slowdown_is_found_with_an_interval_around_it() -> None:
    rng = np.random.default_rng(1)
    drift = np.exp(rng.normal(0, 0.3, 40))  # what moves both sides of a round: large, and cancels
    base = 0.01 * drift * np.exp(rng.normal(0, 0.02, 40))
    head = 0.011 * drift * np.exp(rng.normal(0, 0.02, 40))
    s = judge(base, head, paired=True)
    assert s.verdict == REGRESSION and s.regressed
    assert s.low < 1.10 < s.high and 1.0 < s.low
    # unpaired, the shared drift is noise: the same samples do not make a 5 % alert
    assert judge(base, head, paired=False).verdict == SAME


def test_no_change_and_a_change_below_the_minimum_effect_are_not_flagged() -> None:
    base, head = _noisy(60, 0.01, 0.02, 2), _noisy(60, 0.01, 0.02, 3)
    assert judge(base, head).verdict == SAME
    slightly = _noisy(60, 0.0103, 0.005, 4)  # 3 % slower, clearly: below a 5 % minimum effect
    s = judge(_noisy(60, 0.01, 0.005, 5), slightly, min_effect=0.05)
    assert s.verdict == SAME and s.low > 1.0
    assert judge(_noisy(60, 0.01, 0.005, 5), slightly, min_effect=0.01).verdict == REGRESSION


def test_an_improvement_is_reported_as_such() -> None:
    s = judge(_noisy(30, 0.02, 0.01, 6), _noisy(30, 0.01, 0.01, 7))
    assert s.verdict == IMPROVEMENT and s.high < 1 and "faster" in s.describe()


def test_the_same_samples_give_the_same_verdict() -> None:
    base, head = _noisy(20, 0.01, 0.05, 8), _noisy(20, 0.0108, 0.05, 9)
    assert judge(base, head, seed=3) == judge(base, head, seed=3)


@pytest.mark.parametrize(
    ("base", "head", "kw", "message"),
    [
        ([], [1.0], {}, "no times"),
        ([1.0, 0.0], [1.0], {}, "finite and > 0"),
        ([1.0, float("nan")], [1.0], {}, "finite and > 0"),
        ([1.0, 2.0], [1.0], {"paired": True}, "differ in length"),
        ([1.0], [1.0], {"min_effect": -0.1}, "min_effect"),
    ],
)
def test_samples_that_cannot_be_compared_are_refused(base: list, head: list, kw: dict, message: str) -> None:
    with pytest.raises(SlowdownError, match=message):
        judge(base, head, **kw)


def test_spread_is_the_relative_interquartile_range() -> None:
    assert spread([1.0, 1.0, 1.0]) == 0.0
    assert spread([0.9, 1.0, 1.1]) == pytest.approx(0.1)


def test_wilson_interval_matches_published_values() -> None:
    # Wilson (1927) / Newcombe (1998) table: 0/20 -> 0-0.161; 19/20 -> 0.764-0.991; 10/20 -> 0.299-0.701
    from sepbench.results.slowdown import wilson_interval

    assert wilson_interval(0, 20) == pytest.approx((0.0, 0.1611), abs=1e-3)
    assert wilson_interval(19, 20) == pytest.approx((0.7639, 0.9911), abs=1e-3)
    assert wilson_interval(10, 20) == pytest.approx((0.2993, 0.7007), abs=1e-3)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
