"""The estimates every verdict is decided on (sepbench/core/intervals.py), against expectations worked
out by hand or by the documented method, independently of the code (the mutation run found these
figures unchecked: nox -s mutants)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sepbench.core.intervals import MIN_ROUNDS, T_975, WIDE_SPREAD, exact, mean_interval, paired_ratio, t_quantile


def test_one_round_is_its_ratio_without_an_interval():
    e = paired_ratio([0.2], [0.1])
    assert (e.value, e.n) == (0.5, 1) and math.isnan(e.low) and math.isnan(e.high) and not e.has_interval
    assert e.method == "median of 1 paired rounds, 95 % percentile bootstrap"
    assert e.note == "fewer than 2 rounds: no interval" and e.spread == 0.0


def test_rounds_of_one_ratio_are_a_point_interval_without_notes():
    e = paired_ratio([0.1, 0.2, 0.4], [0.2, 0.4, 0.8])  # every round 2x: nothing to resample
    assert (e.value, e.low, e.high, e.n, e.note, e.spread) == (2.0, 2.0, 2.0, 3, "", 0.0)
    assert e.method == "median of 3 paired rounds, 95 % percentile bootstrap"


def test_spread_is_the_ratios_interquartile_range_over_their_median():
    # ratios 1, 2, 4, 8: logs 0, l, 2l, 3l (l = ln 2); linear quartiles of the logs 0.75 l and 2.25 l,
    # median 1.5 l: spread (2^2.25 - 2^0.75) / 2^1.5 = 2^0.75 - 2^-0.75
    e = paired_ratio([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 4.0, 8.0])
    assert e.value == pytest.approx(2**1.5) and e.spread == pytest.approx(2**0.75 - 2**-0.75)
    assert f"only 4 rounds (fewer than {MIN_ROUNDS})" in e.note and "scatter widely (IQR 109% of the median)" in e.note


def test_the_interval_is_the_percentile_bootstrap_of_the_median_over_whole_rounds():
    rng = np.random.default_rng(7)
    base = rng.uniform(0.9, 1.1, 12)
    cand = base * rng.uniform(0.78, 0.86, 12)
    e = paired_ratio(base, cand, seed=3, n_resamples=2000)
    logs = np.log(cand / base)
    ref = stats.bootstrap((logs,), np.median, n_resamples=2000, method="percentile", rng=np.random.default_rng(3))
    assert e.low == pytest.approx(math.exp(ref.confidence_interval.low)) and e.high == pytest.approx(math.exp(ref.confidence_interval.high))
    assert e.value == pytest.approx(math.exp(np.median(logs))) and e.n == 12 and e.note == ""
    assert e.low <= e.value <= e.high


def test_enough_rounds_of_little_scatter_carry_no_note():
    base = [1.0] * MIN_ROUNDS
    e = paired_ratio(base, [0.80, 0.81, 0.82, 0.80, 0.81])
    assert e.n == MIN_ROUNDS and e.note == "" and e.spread < WIDE_SPREAD


@pytest.mark.parametrize("bad, side", [(([0.0, 1.0], [1.0, 1.0]), "baseline"), (([1.0, 1.0], [1.0, math.inf]), "candidate")])
def test_bad_times_name_their_side(bad, side):
    with pytest.raises(ValueError, match=rf"^{side}: need finite times > 0 seconds"):
        paired_ratio(*bad)
    with pytest.raises(ValueError, match="differ in length"):
        paired_ratio([1.0, 1.0], [1.0])


def test_mean_interval_is_the_student_t_interval():
    # 0.90, 0.91, 0.92: mean 0.91, sd 0.01; t(2) = 4.303: half 4.303 * 0.01 / sqrt 3 = 0.02484
    e = mean_interval([0.90, 0.91, 0.92])
    assert e.value == pytest.approx(0.91) and e.extra == {"sd": pytest.approx(0.01)}
    assert e.high - e.value == pytest.approx(4.302653 * 0.01 / math.sqrt(3)) and e.value - e.low == pytest.approx(e.high - e.value)
    assert e.n == 3 and mean_interval([1.0, 3.0]).n == 2  # two values are enough
    for bad in ([1.0], [1.0, math.nan], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="an interval needs at least two finite values, got"):
            mean_interval(bad)


def test_the_t_table_is_scipys_inverse_t_to_the_last_bit():
    # the table spares a report SciPy's import; every entry is what scipy.special.stdtrit gives, and past it
    # (or at another level) t_quantile asks SciPy
    from scipy import special

    assert [t_quantile(df) for df in range(1, len(T_975) + 1)] == [float(special.stdtrit(df, 0.975)) for df in range(1, len(T_975) + 1)]
    assert t_quantile(len(T_975) + 1) == float(special.stdtrit(len(T_975) + 1, 0.975)) < T_975[-1]
    assert t_quantile(3, level=0.9) == float(special.stdtrit(3, 0.95))


def test_t_quantiles_past_thirty_degrees_of_freedom_and_the_exact_figure():
    assert t_quantile(31) == pytest.approx(2.0395, abs=1e-4) and t_quantile(100) == pytest.approx(1.9840, abs=1e-4)
    with pytest.raises(ValueError, match="at least 2 values"):
        t_quantile(0)
    e = exact(8586)
    assert (e.value, e.low, e.high, e.n, e.method) == (8586.0, 8586.0, 8586.0, 1, "exact count")


def test_two_rounds_make_an_interval_and_both_notes_are_joined():
    from sepbench.core.intervals import point

    two = paired_ratio([1.0, 1.0], [1.0, 2.0])
    assert two.n == 2 and two.has_interval and "fewer than 2 rounds" not in two.note
    e = paired_ratio([1.0] * 4, [1.0, 2.0, 4.0, 8.0])
    rough = f"only 4 rounds (fewer than {MIN_ROUNDS}): the interval is rough"
    assert e.note == rough + "; per-round ratios scatter widely (IQR 109% of the median): a busy machine"
    p = point(0.78, "published")
    assert math.isnan(p.low) and math.isnan(p.high) and (p.value, p.n, p.method) == (0.78, 1, "published")
