"""Is the head slower than the base?  One decision rule for the CI alert and the benchmark gate.

From two samples of times (seconds) of one case, :func:`judge` estimates the slowdown ``head / base``
with a 95 % bootstrap interval and decides:

* **paired** samples (the A/B alert: round ``i`` timed base and head back to back, in random order):
  the estimate is the median of the per-round ratios, resampled by round, so what moves both sides
  within a round (another process, a frequency change) cancels;
* **unpaired** samples (two saved benchmark runs, minutes apart): the ratio of the medians, each
  sample resampled on its own.

A case is a **regression** when the estimate exceeds ``1 + min_effect`` *and* the interval lies
above 1 (the slowdown is both large enough to matter and not noise); an **improvement** the same
the other way.  ``min_effect`` is the smallest change worth an alert; for unpaired runs the caller
widens it to a case's own spread (:func:`spread`), as a busy batch-1 case moves more between runs
than a 10,000-image one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from sepbench.core.intervals import LEVEL

REGRESSION, IMPROVEMENT, SAME = "slower", "faster", "same"
N_BOOT = 4000
MIN_SAMPLES = 3  # the fewest times a side judged: 1 a side gives a zero-width interval; 3 is what `--quick` runs save
MAX_SAMPLES = 10_000  # times a side judged at most: the bootstrap draws N_BOOT x this many (320 MB of indices)
MIN_SECONDS = 1e-9  # no timer resolves less than a nanosecond: a smaller time is a corrupt figure (5e-324 made an inf ratio)


class SlowdownError(ValueError):
    """Samples that cannot be compared (empty, non-positive or non-finite times, unequal paired lengths)."""


@dataclass(frozen=True)
class Slowdown:
    """``head / base`` for one case: ``ratio`` (> 1: the head is slower) within [``low``, ``high``] (95 %)."""

    ratio: float
    low: float
    high: float
    min_effect: float  # the change (fraction) below which nothing is flagged
    n_base: int
    n_head: int
    paired: bool
    verdict: str  # REGRESSION, IMPROVEMENT or SAME

    @property
    def regressed(self) -> bool:
        return self.verdict == REGRESSION

    def describe(self) -> str:
        """E.g. ``1.24x slower (95 % interval 1.19-1.30; alert beyond 1.05x)``."""
        word = {REGRESSION: "slower", IMPROVEMENT: "faster", SAME: "no change"}[self.verdict]
        return f"{self.ratio:.3f}x {word} (95 % interval {self.low:.3f}-{self.high:.3f}; alert beyond {1 + self.min_effect:.2f}x)"

    def as_dict(self) -> dict:
        return asdict(self)


def _times(values: Sequence[float], what: str, fewest: int = 1) -> np.ndarray:
    """The times as an array: ``fewest`` to :data:`MAX_SAMPLES` of them (counted before converting), each
    finite and at least :data:`MIN_SECONDS`."""
    n = len(values)
    if not fewest <= n <= MAX_SAMPLES:
        raise SlowdownError(f"{what}: {n:,} times; {fewest:,} to {MAX_SAMPLES:,} are read" if n else f"{what}: no times to compare")
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise SlowdownError(f"{what}: times must be a flat list of numbers")
    if not np.all(np.isfinite(x)) or np.any(x < MIN_SECONDS):
        raise SlowdownError(f"{what}: times must be finite and > 0 seconds, at least {MIN_SECONDS:g} (a nanosecond), got {x.min():g}")
    return x


def judge(
    base: Sequence[float], head: Sequence[float], *, min_effect: float = 0.05, paired: bool = False, seed: int = 0, n_boot: int = N_BOOT
) -> Slowdown:
    """Compare two samples of one case's times (seconds); see the module docstring for the rule.

    ``paired``: ``base[i]`` and ``head[i]`` were timed in the same round.  ``seed`` fixes the bootstrap
    (the same samples give the same verdict).
    """
    if not (np.isfinite(min_effect) and min_effect >= 0):
        raise SlowdownError(f"min_effect must be a finite fraction >= 0, got {min_effect}")
    a, b = _times(base, "base", MIN_SAMPLES), _times(head, "head", MIN_SAMPLES)  # 1 a side: a zero-width interval
    rng = np.random.default_rng(seed)
    if paired:
        if len(a) != len(b):
            raise SlowdownError(f"paired samples differ in length ({len(a)} base, {len(b)} head)")
        r = np.log(b / a)
        estimate = float(np.median(r))
        boot = np.median(r[rng.integers(0, len(r), (n_boot, len(r)))], axis=1)
    else:
        estimate = float(np.log(np.median(b) / np.median(a)))
        mb = np.median(b[rng.integers(0, len(b), (n_boot, len(b)))], axis=1)
        ma = np.median(a[rng.integers(0, len(a), (n_boot, len(a)))], axis=1)
        boot = np.log(mb / ma)
    tail = (1 - LEVEL) / 2
    low, high = (float(v) for v in np.quantile(boot, [tail, 1 - tail]))
    ratio, low_r, high_r = float(np.exp(estimate)), float(np.exp(low)), float(np.exp(high))
    if ratio > 1 + min_effect and low_r > 1:
        verdict = REGRESSION
    elif ratio < 1 / (1 + min_effect) and high_r < 1:
        verdict = IMPROVEMENT
    else:
        verdict = SAME
    return Slowdown(ratio, low_r, high_r, min_effect, len(a), len(b), paired, verdict)


def spread(times: Sequence[float], wide: bool = False) -> float:
    """A sample's relative spread: its interquartile range over its median (0.05: quartiles ~5 % apart);
    ``wide``: the 10th to 90th percentile instead, for a case whose tail moves between runs."""
    x = _times(times, "times")
    low, med, high = np.quantile(x, [0.1, 0.5, 0.9] if wide else [0.25, 0.5, 0.75])
    return float((high - low) / med)


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a rate ``k / n`` (e.g. alerts per trial); (nan, nan) for ``n == 0``."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return float("nan"), float("nan")
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))
