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
        ([1.0] * 4 + [0.0], [1.0] * 5, {}, "finite and > 0"),
        ([1.0] * 4 + [float("nan")], [1.0] * 5, {}, "finite and > 0"),
        ([1.0] * 6, [1.0] * 5, {"paired": True}, "differ in length"),
        ([1.0] * 5, [1.0] * 5, {"min_effect": -0.1}, "min_effect"),
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


# Boundaries of the rule, each case worked out by hand (the mutation run found them unchecked).
def test_a_slowdown_exactly_at_the_threshold_or_an_interval_touching_1_is_not_a_regression():
    at = judge([1.0] * 5, [2.0] * 5, paired=True, min_effect=1.0)  # ratio 2.0 = 1 + min_effect, not beyond it
    assert (at.ratio, at.verdict) == (2.0, SAME) and judge([1.0] * 5, [2.0] * 5, paired=True, min_effect=0.99).regressed
    # 11 of 21 rounds 3x slower, 10 unchanged: the median is 3x, but 41 % of resamples have a median of 1
    touching = judge([1.0] * 21, [1.0] * 10 + [3.0] * 11, paired=True)
    assert touching.low == 1.0 and touching.ratio > 1.05 and touching.verdict == SAME


def test_an_improvement_needs_the_whole_interval_below_1_and_beyond_the_threshold():
    assert judge([1.0] * 5, [0.5] * 5, paired=True, min_effect=1.0).verdict == SAME  # 0.5 = 1 / (1 + 1): not beyond
    assert judge([1.0] * 5, [0.49] * 5, paired=True, min_effect=1.0).verdict == IMPROVEMENT
    assert judge([1.0] * 5, [0.97] * 5, paired=True, min_effect=0.05).verdict == SAME  # 3 % faster: inside 1/1.05
    touching = judge([1.0] * 21, [0.3] * 11 + [1.0] * 10, paired=True)  # median 0.3x, the interval reaches 1
    assert touching.high == 1.0 and touching.verdict == SAME


def test_the_paired_interval_is_the_percentile_bootstrap_of_the_median_ratio_over_rounds():
    from sepbench.results.slowdown import N_BOOT

    rng = np.random.default_rng(5)
    base = rng.uniform(1.0, 1.2, 15)
    head = base * rng.uniform(1.05, 1.15, 15)
    s = judge(base, head, paired=True, seed=4)
    r = np.log(head / base)  # the documented method, redone: rounds resampled with replacement
    boot = np.median(r[np.random.default_rng(4).integers(0, 15, (N_BOOT, 15))], axis=1)
    low, high = np.exp(np.quantile(boot, [0.025, 0.975]))
    assert (s.low, s.high) == (pytest.approx(low), pytest.approx(high)) and s.ratio == pytest.approx(np.exp(np.median(r)))
    assert (s.n_base, s.n_head, s.paired) == (15, 15, True)


def test_judge_defaults_unpaired_seed_0_and_accepts_a_zero_threshold():
    base, head = [1.0, 1.1, 1.2, 1.05, 1.15, 1.12], [1.3, 1.4, 1.35, 1.45, 1.38]
    s = judge(base, head)  # unequal lengths: only unpaired samples can be
    assert (s.paired, s.n_base, s.n_head) == (False, 6, 5) and s == judge(base, head, seed=0)
    assert judge([1.0] * 5, [1.1] * 5, paired=True, min_effect=0).regressed
    for base, head, name in (([], [1.0] * 5, "base"), ([1.0] * 5, [-1.0] * 5, "head")):
        with pytest.raises(SlowdownError, match=f"^{name}: "):
            judge(base, head)


def test_wilson_intervals_are_the_textbook_ones():
    import math

    from sepbench.results.slowdown import wilson_interval

    assert wilson_interval(10, 10) == (pytest.approx(0.7225, abs=1e-4), pytest.approx(1.0))  # k = n is a rate of 1, not an error
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(1, 10) == (pytest.approx(0.0179, abs=1e-4), pytest.approx(0.4042, abs=1e-4))
    assert wilson_interval(0, 1) == (0.0, pytest.approx(0.7935, abs=1e-4))  # one trial: an interval, not NaN
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="need 0 <= k <= n, got k=3, n=2"):
        wilson_interval(3, 2)


def test_spread_quartiles_and_the_wide_percentiles():
    x = [float(v) for v in range(1, 12)]  # 1..11: quartiles 3.5 and 8.5, deciles 2 and 10, median 6
    assert spread(x) == pytest.approx(5 / 6) and spread(x, wide=True) == pytest.approx(8 / 6)
    with pytest.raises(SlowdownError, match="^times: "):
        spread([])


def test_describe_says_the_verdict_in_words():
    base, head = [1.0] * 5, [1.5] * 5
    assert judge(base, head, paired=True).describe() == "1.500x slower (95 % interval 1.500-1.500; alert beyond 1.05x)"
    assert judge(head, base, paired=True).describe().startswith("0.667x faster (95 % interval")
    assert judge(base, base, paired=True).describe().startswith("1.000x no change")


def test_the_default_seed_is_0():
    rng = np.random.default_rng(11)
    a, b = rng.uniform(1.0, 1.3, 25), rng.uniform(1.0, 1.3, 25)
    assert judge(a, b) == judge(a, b, seed=0) and judge(a, b) != judge(a, b, seed=1)
