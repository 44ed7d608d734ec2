"""Estimates with a 95 % interval: the numbers every verdict is decided on.

- :func:`paired_ratio` -- candidate / baseline time from rounds that timed both, back to back in a
  random order: the median of the per-round ratios with a percentile bootstrap interval that resamples
  whole rounds (``scipy.stats.bootstrap``), so a load that moves both halves of a round cancels.
- :func:`mean_interval` -- the mean of a few values (accuracy over training seeds) with its Student t
  interval (Student t quantiles from ``scipy.special.stdtrit``, what ``scipy.stats.t.ppf`` computes; a table of its
  95 % values to 120 degrees of freedom, so the usual case imports no SciPy).
- :func:`exact` -- a figure that has no sampling error (a parameter count, a file size).

Every function returns an :class:`Estimate`: the value, its interval, how many samples, and the
method in words, which the claims engine (:mod:`sepbench.core.claims`) decides and the report renders.
No framework; SciPy is imported when a bootstrap or a t quantile off the table is computed.
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
# Student t's two-sided 95 % quantiles for 1..120 degrees of freedom, as scipy.special.stdtrit(df, 0.975) gives
# them (tests/test_intervals.py checks every entry): a report's t intervals need no SciPy import (0.2-0.5 s)
# fmt: off
T_975: tuple[float, ...] = (
    12.706204736174694, 4.302652729749462, 3.1824463052837078, 2.7764451051977934, 2.5705818356363146, 2.4469118511449786,
    2.364624251592784, 2.306004135204166, 2.262157162798205, 2.228138851986274, 2.200985160091639, 2.1788128296672284,
    2.1603686564627913, 2.144786687917804, 2.131449545559776, 2.1199052992212546, 2.1098155778333156, 2.1009220402410382,
    2.0930240544083087, 2.085963447265864, 2.0796138447276795, 2.0738730679040254, 2.0686576104190486, 2.0638985616280245,
    2.0595385527532972, 2.0555294386428735, 2.0518305164802846, 2.0484071417952454, 2.045229642132703, 2.0422724563012378,
    2.039513446396408, 2.0369333434601016, 2.0345152974493383, 2.0322445093177186, 2.030107928250343, 2.0280940009804502,
    2.0261924630291093, 2.0243941639119694, 2.022690920036761, 2.021075390306273, 2.019540970441376, 2.0180817028184443,
    2.016692199227824, 2.0153675744437636, 2.014103388880846, 2.012895598919429, 2.0117405137297655, 2.010634757624232,
    2.0095752371292392, 2.008559112100761, 2.007583770315836, 2.006646805061688, 2.0057459953178687, 2.0048792881880564,
    2.0040447832891455, 2.003240718847872, 2.002465459291007, 2.0017174841452356, 2.000995378088267, 2.0002978220142604,
    1.999623584994939, 1.9989715170333788, 1.998340542520741, 1.997729654317693, 1.9971379083920038, 1.9965644189523117,
    1.996008354025296, 1.9954689314298435, 1.9949454151072374, 1.994437111771186, 1.9939433678456255, 1.9934635666618719,
    1.992997125889855, 1.992543495180932, 1.9921021540022417, 1.9916726096446642, 1.9912543953883846, 1.9908470688116906,
    1.9904502102301285, 1.990063421254446, 1.9896863234569029, 1.989318557136572, 1.9889597801751624, 1.9886096669757083,
    1.9882679074772216, 1.98793420623902, 1.9876082815890708, 1.9872898648311692, 1.986978699506281, 1.9866745407037683,
    1.9863771544186177, 1.98608631695113, 1.9858018143458227, 1.985523441866604, 1.9852510035054978, 1.984984311522457,
    1.9847231860139845, 1.9844674545084815, 1.9842169515864174, 1.9839715185235518, 1.983731002955606, 1.9834952585628793,
    1.9832641447734565, 1.9830375264837259, 1.9828152737950475, 1.9825972617655006, 1.9823833701756908, 1.982173483307727,
    1.9819674897364825, 1.981765282132372, 1.9815667570749007, 1.9813718148763053, 1.981180359414661, 1.9809922979758567,
    1.9808075411039094, 1.9806260024590894, 1.9804475986834025, 1.980272249272974, 1.9800998764569397, 1.9799304050824402,
)
# fmt: on


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
    if level == LEVEL and df <= len(T_975):
        return T_975[df - 1]
    # scipy.special's inverse of the t distribution, the same function scipy.stats.t.ppf calls: importing
    # scipy.stats costs a report 1.5 s, scipy.special a fifth of that (hence the table for the usual case)
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
