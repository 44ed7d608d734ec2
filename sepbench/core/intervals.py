"""Estimates with a 95 % interval: the numbers every verdict is decided on.

- :func:`paired_ratio` -- candidate / baseline time from rounds that timed both, back to back in a
  random order: the median of the per-round ratios with a percentile bootstrap interval that resamples
  whole rounds (``scipy.stats.bootstrap``), so a load that moves both halves of a round cancels.
- :func:`mean_interval` -- the mean of a few values (accuracy over training seeds) with its Student t
  interval (Student t quantiles from ``scipy.special.stdtrit``, what ``scipy.stats.t.ppf`` computes).
- :func:`exact` -- a figure that has no sampling error (a parameter count, a file size).

Every function returns an :class:`Estimate`: the value, its interval, how many samples, and the
method in words, which the claims engine (:mod:`sepbench.core.claims`) decides and the report renders.
No framework; SciPy is imported when an interval is computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

LEVEL = 0.95
N_RESAMPLES = 4000
MIN_ROUNDS = 5  # fewer rounds give a bootstrap of the median that is only a few order statistics
# a case whose per-round ratios scatter this much (interquartile range / median) says so: its
# interval is honest but wide, and the machine, not the models, is being measured
WIDE_SPREAD = 0.25


@dataclass(frozen=True)
class Estimate:
    """``value`` within [``low``, ``high``] (95 %), from ``n`` samples by ``method``.

    ``spread`` is the samples' interquartile range over their median (``None`` where there is no
    sample: exact or published figures); ``note`` says anything the reader must know (a spread too
    large, too few rounds)."""

    value: float
    low: float
    high: float
    n: int
    method: str
    spread: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    unusable: str = ""  # why it decides nothing despite its interval (the machine was short of cores)

    @property
    def has_interval(self) -> bool:
        return self.n >= 2 and math.isfinite(self.low) and math.isfinite(self.high)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimate:
        return cls(
            **{k: d[k] for k in ("value", "low", "high", "n", "method") if k in d},
            spread=d.get("spread"),
            note=d.get("note", ""),
            unusable=d.get("unusable", ""),
        )


def exact(value: float, method: str = "exact count") -> Estimate:
    """A figure without sampling error: its interval is the point."""
    v = float(value)
    return Estimate(v, v, v, 1, method)


def point(value: float, method: str) -> Estimate:
    """One measured figure with no interval (n = 1): decided as a point, and labelled so."""
    v = float(value)
    return Estimate(v, math.nan, math.nan, 1, method)


def _positive(values: Sequence[float], what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0 or not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"{what}: need finite times > 0 seconds, got {list(values)[:5]!r}")
    return x


def paired_ratio(baseline_s: Sequence[float], candidate_s: Sequence[float], *, seed: int = 0, n_resamples: int = N_RESAMPLES) -> Estimate:
    """Candidate / baseline time from paired rounds (``baseline_s[i]`` and ``candidate_s[i]`` timed in round ``i``).

    The estimate is the median of the per-round ratios; the interval a 95 % percentile bootstrap of
    that median over rounds (fixed ``seed``: the same samples give the same interval).  Nothing is
    dropped: a round that a burst of load slowed is one of the samples, and the median and the
    bootstrap are robust to a few such.  Raises ``ValueError`` for unequal lengths or bad times.
    """
    a, b = _positive(baseline_s, "baseline"), _positive(candidate_s, "candidate")
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length ({len(a)} baseline, {len(b)} candidate)")
    logs = np.log(b / a)
    value = float(np.exp(np.median(logs)))
    q1, q3 = np.exp(np.quantile(logs, [0.25, 0.75]))
    spread = float((q3 - q1) / value)
    method = f"median of {len(a)} paired rounds, 95 % percentile bootstrap"
    if len(a) < 2 or np.ptp(logs) == 0:
        low = high = value if len(a) >= 2 else math.nan
        return Estimate(value, low, high, len(a), method, spread, "fewer than 2 rounds: no interval" if len(a) < 2 else "")
    from scipy import stats

    res = stats.bootstrap(
        (logs,),
        np.median,
        n_resamples=n_resamples,
        confidence_level=LEVEL,
        method="percentile",
        vectorized=True,
        axis=-1,
        rng=np.random.default_rng(seed),
    )
    low, high = float(np.exp(res.confidence_interval.low)), float(np.exp(res.confidence_interval.high))
    notes = []
    if len(a) < MIN_ROUNDS:
        notes.append(f"only {len(a)} rounds (fewer than {MIN_ROUNDS}): the interval is rough")
    if spread > WIDE_SPREAD:
        notes.append(f"per-round ratios scatter widely (IQR {spread:.0%} of the median): a busy machine")
    return Estimate(value, min(low, value), max(high, value), len(a), method, spread, "; ".join(notes))


def t_quantile(df: int, level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom (t(31) = 2.040)."""
    if df < 1:
        raise ValueError(f"a t interval needs at least 2 values (df >= 1), got df={df}")
    # scipy.special's inverse of the t distribution, the same function scipy.stats.t.ppf calls: importing
    # scipy.stats costs a report 1.5 s, scipy.special a fifth of that
    from scipy import special

    return float(special.stdtrit(df, 0.5 + level / 2))


def mean_interval(values: Sequence[float], method: str = "mean, 95 % t interval") -> Estimate:
    """Mean of ``values`` (at least two, finite) with its 95 % Student t interval; ``n`` = how many."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"an interval needs at least two finite values, got {list(values)!r}")
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = t_quantile(len(x) - 1) * sd / math.sqrt(len(x))
    return Estimate(mean, mean - half, mean + half, len(x), method, extra={"sd": sd})
