"""A paired ratio whose interval covers what a rerun in a fresh process gives: processes as the unit of
replication, rounds nested in them.

Within one process the rounds of a paired case share its memory layout, thread placement, the fast
path's autotuned choice and the CPU's frequency state; a second process redraws all of those, so its
rounds scatter around a median of their own.  An interval from one process's rounds covers only the
first kind of noise (measured: a spatial-pair LiteRT ratio of 1.10x [1.09, 1.11] in one run, 1.21x
[1.18, 1.28] in the next).  So the estimate here is the mean over processes of each process's median
log ratio, and its interval spans both of these (the lower of their lows to the higher of their highs):

- the two-level percentile bootstrap of Kalibera and Jones ("Rigorous benchmarking in reasonable time",
  2013; libkalibera's ``bootstrap_quotient``): resample processes with replacement, then the rounds of
  each drawn process, and take the statistic each time;
- the random-effects t interval on the process medians (``t(k-1) * sd / sqrt(k)``): with 3 processes a
  bootstrap over processes has 10 distinct draws and reads too narrow, a t interval with 2 degrees of
  freedom does not.

The two variance components are returned with the estimate (``extra``): ``within`` (the variance of a
process's median from its rounds alone, from the bootstrap) and ``between`` (what the process medians
vary by beyond that: Kalibera and Jones's ``T_2^2``, floored at 0), both of the log ratio.  Where
``between`` dominates, more processes narrow the interval and more rounds do not.

Pure NumPy (SciPy for the t quantile): no framework.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sepbench.core.intervals import LEVEL, N_RESAMPLES, Estimate, paired_ratio, t_quantile

RoundsOfProcess = tuple[Sequence[float], Sequence[float]]  # (baseline seconds, candidate seconds), round by round


def _log_ratios(process: RoundsOfProcess, index: int) -> np.ndarray:
    base, cand = (np.asarray(v, dtype=np.float64) for v in process)
    if base.ndim != 1 or base.shape != cand.shape or len(base) == 0:
        raise ValueError(f"process {index}: need as many baseline as candidate rounds (at least one), got {base.shape} and {cand.shape}")
    if not (np.all(np.isfinite(base)) and np.all(np.isfinite(cand)) and np.all(base > 0) and np.all(cand > 0)):
        raise ValueError(f"process {index}: need finite times > 0 seconds")
    return np.log(cand / base)


def ratio_over_processes(processes: Sequence[RoundsOfProcess], *, seed: int = 0, n_resamples: int = N_RESAMPLES) -> Estimate:
    """Candidate / baseline time from paired rounds taken in several processes (``processes[p]`` = the
    baseline and candidate seconds of process ``p``'s rounds, round by round).

    One process gives :func:`sepbench.core.intervals.paired_ratio`'s interval, noted as covering that
    process only.  The same records and ``seed`` give the same interval.  ``extra`` holds ``processes``,
    ``rounds`` (per process), ``within`` and ``between`` (variances of the log ratio) and
    ``between_share`` (``between / (between + within)``, ``None`` where both are 0).
    """
    if len(processes) == 0:
        raise ValueError("no process measured this case")
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    logs = [_log_ratios(p, i) for i, p in enumerate(processes)]
    k = len(logs)
    rounds = [len(x) for x in logs]
    if k == 1:
        one = paired_ratio(*processes[0], seed=seed, n_resamples=n_resamples)
        note = "one process: what a rerun in a fresh process moves is not measured, the interval holds for this process only"
        extra = {"processes": 1, "rounds": rounds, "within": None, "between": None, "between_share": None}
        return Estimate(one.value, one.low, one.high, one.n, one.method, one.spread, "; ".join(filter(None, [note, one.note])), extra)

    rng = np.random.default_rng(seed)
    medians = np.array([np.median(x) for x in logs])
    # each process's median over its own rounds resampled: (k, n_resamples)
    inner = np.stack([np.median(x[rng.integers(0, len(x), size=(n_resamples, len(x)))], axis=1) for x in logs])
    within = float(np.mean(np.var(inner, axis=1, ddof=1)))
    spread_of_medians = float(np.var(medians, ddof=1))
    between = max(0.0, spread_of_medians - within)
    # two levels: k processes drawn with replacement, each with one of its own resampled medians
    drawn = rng.integers(0, k, size=(n_resamples, k))
    column = rng.integers(0, n_resamples, size=(n_resamples, k))
    stats = inner[drawn, column].mean(axis=1)
    tail = (1 - LEVEL) / 2
    boot_low, boot_high = np.quantile(stats, [tail, 1 - tail])
    centre = float(medians.mean())
    half = t_quantile(k - 1) * math.sqrt(max(spread_of_medians, within) / k)
    low, high = min(boot_low, centre - half), max(boot_high, centre + half)
    pooled = np.concatenate(logs)
    q1, q3 = np.exp(np.quantile(pooled, [0.25, 0.75]))
    value = math.exp(centre)
    total = between + within
    method = (
        f"mean of {k} processes' median paired ratios ({sum(rounds)} rounds), 95 % interval spanning a two-level "
        "bootstrap (processes, then rounds) and a random-effects t interval"
    )
    notes = []
    if total > 0 and between / total > 0.5:
        notes.append(f"processes disagree more than rounds do ({between / total:.0%} of the variance is between processes): add processes")
    extra = {
        "processes": k,
        "rounds": rounds,
        "within": within,
        "between": between,
        "between_share": between / total if total > 0 else None,
    }
    return Estimate(value, math.exp(low), math.exp(high), k, method, float((q3 - q1) / value), "; ".join(notes), extra)
