"""The two-level interval over processes (sepbench/core/process_intervals.py), fed recorded rounds: processes
that disagree, processes that agree, a real tie, a real slowdown; its coverage where processes differ."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sepbench.core.claims import INCONCLUSIVE, NO, TIE, YES, decide
from sepbench.core.intervals import paired_ratio
from sepbench.core.process_intervals import ratio_over_processes


def _process(ratio: float, rounds: int, noise: float, seed: int) -> tuple[list[float], list[float]]:
    """Recorded-looking rounds: a baseline of about 0.1 s under a drifting load, the candidate ``ratio``
    times it with ``noise`` (relative sd of the round's ratio)."""
    rng = np.random.default_rng(seed)
    base = 0.1 * np.exp(rng.normal(0, 0.2, rounds))  # the machine's load moves both halves of a round
    cand = base * ratio * np.exp(rng.normal(0, noise, rounds))
    return base.tolist(), cand.tolist()


def test_two_processes_that_disagree_decide_nothing_and_say_so():
    """Each process is sure of itself (0.80x and 1.00x, 1 % round noise); pooled as one process's rounds
    they would pass for a decided 0.9x, over processes they are inconclusive and the between-process
    part of the variance dominates."""
    runs = [_process(0.80, 20, 0.01, 1), _process(1.00, 20, 0.01, 2)]
    est = ratio_over_processes(runs)
    assert est.n == 2 and est.extra["processes"] == 2 and est.extra["rounds"] == [20, 20]
    assert est.low < 0.80 and est.high > 1.00  # covers both processes' own answers
    assert est.extra["between_share"] > 0.95 and "add processes" in est.note
    assert decide("faster", est).outcome == INCONCLUSIVE
    pooled = paired_ratio([b for r in runs for b in r[0]], [c for r in runs for c in r[1]])
    assert pooled.high - pooled.low < (est.high - est.low) / 3  # what one level of rounds would have claimed


def test_processes_that_agree_decide_and_rounds_dominate():
    runs = [_process(0.80, 12, 0.03, s) for s in (3, 4, 5)]
    est = ratio_over_processes(runs)
    assert est.low < 0.80 < est.high and est.high < 0.95
    assert est.extra["between_share"] < 0.5 and "add processes" not in est.note
    assert est.extra["within"] > 0
    assert decide("faster", est).outcome == YES


@pytest.mark.parametrize("ratio, outcome", [(1.00, TIE), (1.25, NO)])
def test_a_real_tie_and_a_real_slowdown(ratio, outcome):
    runs = [_process(ratio, 10, 0.01, s) for s in (6, 7, 8)]
    est = ratio_over_processes(runs)
    assert est.low <= ratio <= est.high
    assert decide("faster", est).outcome == outcome


def test_one_process_is_that_process_alone_and_the_same_records_give_the_same_interval():
    one = ratio_over_processes([_process(0.9, 15, 0.02, 9)])
    assert one.extra["processes"] == 1 and one.extra["between"] is None and "this process only" in one.note
    runs = [_process(0.9, 8, 0.02, s) for s in (10, 11, 12)]
    a, b = ratio_over_processes(runs, seed=5), ratio_over_processes(runs, seed=5)
    assert (a.value, a.low, a.high) == (b.value, b.low, b.high)
    assert a.value == pytest.approx(math.exp(np.mean([np.median(np.log(np.divide(c, bb))) for bb, c in runs])))


def test_the_interval_covers_the_process_mean_where_a_one_level_interval_does_not():
    """Processes that differ by a random effect (sd 5 % of the log ratio) and rounds by 2 %: over 100
    simulated cases of 3 processes x 8 rounds, the two-level interval covers the true ratio about as often
    as it says (the t interval on 2 degrees of freedom is conservative); pooling the rounds as if they
    came from one process misses it most of the time."""
    rng = np.random.default_rng(0)
    covered = pooled_covered = 0
    for case in range(100):
        runs = [_process(math.exp(rng.normal(0, 0.05)), 8, 0.02, 1000 * case + p) for p in range(3)]
        est = ratio_over_processes(runs, n_resamples=1000)
        covered += est.low <= 1.0 <= est.high
        pooled = paired_ratio([b for r in runs for b in r[0]], [c for r in runs for c in r[1]], n_resamples=1000)
        pooled_covered += pooled.low <= 1.0 <= pooled.high
    assert covered >= 88, covered
    assert pooled_covered <= 60, pooled_covered


@pytest.mark.parametrize(
    "runs, match",
    [
        ([], "no process"),
        ([([0.1, 0.1], [0.1])], "as many baseline as candidate"),
        ([([0.1], [0.1]), ([], [])], "process 1"),
        ([([0.1], [0.0])], "finite times > 0"),
        ([([0.1], [math.nan])], "finite times > 0"),
    ],
)
def test_bad_records_are_refused(runs, match):
    with pytest.raises(ValueError, match=match):
        ratio_over_processes(runs)
    with pytest.raises(ValueError, match="n_resamples"):
        ratio_over_processes([_process(0.9, 5, 0.01, 1)] * 2, n_resamples=1)
