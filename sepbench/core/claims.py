"""The study's claims as data, and the one engine that decides them.

A :class:`Claim` names its metric (what is estimated: a size ratio, a time ratio, an accuracy cost),
its unit, its band and the rule that decides it.  Evidence is one :class:`~sepbench.core.intervals.Estimate`
per metric (value, 95 % interval, n, method) plus the figures it came from; :func:`decide` turns a
claim and its evidence into a :class:`Verdict`, a record in a fixed vocabulary (:data:`OUTCOMES`)
that the terminal, Markdown, HTML and CSV render.  Nothing downstream reads prose back.

Used by ``sepbench reproduce``, ``sepbench bench-summary`` and the report, so all decide the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sepbench.core.data import TEST_IMAGES, TRAIN_IMAGES
from sepbench.core.intervals import Estimate

# ---------------------------------------------------------------- the vocabulary of outcomes

YES, NO, TIE, INCONCLUSIVE, NOT_COMPARABLE, NOT_MEASURED = "yes", "NO", "tie", "inconclusive", "not comparable", "not measured"
OUTCOMES: tuple[str, ...] = (YES, NO, TIE, INCONCLUSIVE, NOT_COMPARABLE, NOT_MEASURED)
OUTCOME_MEANING: dict[str, str] = {
    YES: "the claim holds: the whole 95 % interval is on the claim's side of its band",
    NO: "the claim fails: the whole interval is on the other side",
    TIE: "the whole interval lies inside the band: no difference that matters",
    INCONCLUSIVE: "the interval straddles a band edge: this run cannot tell (more rounds, a quieter machine)",
    NOT_COMPARABLE: "measured on less data than the study",
    NOT_MEASURED: "a figure the claim needs is missing",
}

# rules: how an estimate's interval is set against a claim's band
RULE_ALL_BELOW = "every ratio below the band"  # exact figures (sizes): all of them below
RULE_BELOW = "interval below the band"  # yes below it, NO above it, tie inside it, else inconclusive
RULE_INSIDE = "interval inside the band"  # yes inside it, NO wholly outside it, else inconclusive


@dataclass(frozen=True)
class Claim:
    """One claim of the study, as data: ``metric`` is the key of its evidence, ``band`` (low, high) in
    ``unit``, ``rule`` one of the ``RULE_*`` names; ``column`` heads its column in verdict tables; ``per``
    what one verdict stands for when they are counted (a backend ``path``, or a ``trainer`` shared by its paths)."""

    key: str
    column: str
    text: str
    metric: str
    unit: str
    band: tuple[float, float]
    rule: str
    why_band: str
    per: str = "path"


# "faster" needs 5 % less time: two medians of the same work differ by a few per cent on a shared
# machine, so a smaller difference is a tie, not a speed-up.  "A little" accuracy: the study lost
# 1.48 points; a loss of more than 0 and at most 5 points.
SPEED_BAND = (0.95, 1.05)
MAX_ACCURACY_COST = 0.05  # fraction (5 points)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "smaller",
        "smaller?",
        "Separable convolutions shrink the model (fewer parameters, smaller file).",
        "size_ratio",
        "x",
        (1.0, 1.0),
        RULE_ALL_BELOW,
        "separable / regular parameters and native file bytes, both below 1",
    ),
    Claim(
        "faster",
        "faster?",
        "Separable convolutions make the model faster (less evaluation time).",
        "time_ratio",
        "x",
        SPEED_BAND,
        RULE_BELOW,
        "separable / regular time; within 0.95-1.05 is a tie",
    ),
    Claim(
        "small_accuracy_cost",
        "a little accuracy?",
        "They cost a little accuracy (regular more accurate, by at most a few points).",
        "accuracy_cost_points",
        "points",
        (0.0, 100 * MAX_ACCURACY_COST),
        RULE_INSIDE,
        "regular - separable test accuracy in points, inside (0, 5]",
    ),
    Claim(
        "trains_faster",
        "trains faster?",
        "Separable convolutions make training faster (the study's opening: 'the time they take to train').",
        "train_time_ratio",
        "x",
        SPEED_BAND,
        RULE_BELOW,
        "separable / regular time per training epoch, same recipe and trainer; within 0.95-1.05 is a tie",
        per="trainer",
    ),
)
CLAIMS_BY_KEY: dict[str, Claim] = {c.key: c for c in CLAIMS}

# ---------------------------------------------------------------- the verdict record


@dataclass(frozen=True)
class Verdict:
    """How one claim stands: ``outcome`` (one of :data:`OUTCOMES`), the ``estimate`` within [``low``,
    ``high``] (95 %; NaN where there is none) from ``n`` samples by ``method``, in ``unit``, the
    ``figures`` it came from, and a ``note`` (why not measured or not comparable, a spread too large)."""

    claim: str
    outcome: str
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None
    method: str = ""
    unit: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    busy: bool = False  # measured on a machine short of cores: inconclusive whatever the interval (``note`` says why)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        if self.claim not in CLAIMS_BY_KEY:
            raise ValueError(f"unknown claim {self.claim!r}; known: {', '.join(CLAIMS_BY_KEY)}")

    @property
    def decided(self) -> bool:
        return self.outcome in (YES, NO, TIE)

    @property
    def has_interval(self) -> bool:
        return _finite(self.low) and _finite(self.high) and (self.n or 0) >= 2

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verdict:
        keys = ("claim", "outcome", "estimate", "low", "high", "n", "method", "unit", "figures", "note")
        given = {k: d[k] for k in keys if k in d}
        for k in ("estimate", "low", "high"):  # a table's empty cell (NaN) is no figure
            if k in given and not _finite(given[k]):
                given[k] = None
        given["n"] = int(given["n"]) if _finite(given.get("n")) else None
        given["note"] = given.get("note") if isinstance(given.get("note"), str) else ""
        given["method"] = given.get("method") if isinstance(given.get("method"), str) else ""
        given["busy"] = d.get("busy") is True or str(d.get("busy")).lower() == "true"  # CSV gives text
        return cls(**given)

    def figure(self) -> str:
        """The estimate in its unit with its interval: ``0.83x [0.80, 0.86]``, ``+1.18 points``."""
        if not _finite(self.estimate):
            return ""
        if self.claim == "smaller" and "params_ratio" in self.figures:
            files = [k.removesuffix("_ratio") for k in self.figures if k.endswith("_ratio") and k != "params_ratio"]
            return ", ".join([f"params {self.figures['params_ratio']:.3f}x", *(f"{f} {self.figures[f + '_ratio']:.3f}x" for f in files)])
        if self.unit == "points":
            text = f"{self.estimate:+.2f} points"
            return text + (f" [{self.low:+.2f}, {self.high:+.2f}]" if self.has_interval else "")
        text = f"{self.estimate:.3f}x" if self.estimate < 0.995 and self.claim == "smaller" else f"{self.estimate:.2f}x"
        if self.has_interval and self.low != self.high:
            text += f" [{self.low:.2f}, {self.high:.2f}]"
        return text

    def detail(self) -> str:
        """The estimate and how many samples stand behind it: ``0.83x [0.80, 0.86], 24 rounds at 2 threads``
        (``""`` without an estimate)."""
        fig = self.figure()
        count = _count(self) if fig else ""
        return fig + (f", {count}" if count else "")

    def cell(self) -> str:
        """One table cell: ``yes: 0.83x [0.80, 0.86], 24 rounds at 2 threads``, ``not measured: ...``."""
        detail = self.detail()
        if not detail:
            return f"{self.outcome}: {self.note}" if self.note else self.outcome
        outcome = f"{self.outcome} (busy machine)" if self.busy else self.outcome
        return f"{outcome}: {detail}"


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _count(v: Verdict) -> str:
    """How many samples stand behind the figure, in the method's own word."""
    if v.n is None or v.claim == "smaller":
        return ""
    if "seed" in v.method:
        return f"{v.n} seed" + ("s" if v.n != 1 else "")
    threads = v.figures.get("threads")
    at = f" at {threads} thread{'s' if threads != 1 else ''}" if isinstance(threads, int) and not isinstance(threads, bool) else ""
    processes, rounds = v.figures.get("processes"), v.figures.get("rounds")
    if isinstance(processes, int) and isinstance(rounds, int):  # estimated over processes (paired records)
        return f"{processes} process{'es' if processes != 1 else ''}, {rounds} rounds{at}"
    if "round" in v.method:
        return f"{v.n} rounds{at}"
    return ""


# ---------------------------------------------------------------- the rules


def _rule_all_below(claim: Claim, est: Estimate) -> str:
    # ``value`` is the largest of the exact ratios: all below the band iff it is
    return YES if est.value < claim.band[0] else NO


def _rule_below(claim: Claim, est: Estimate) -> str:
    low, high = (est.low, est.high) if est.has_interval else (est.value, est.value)
    lo_band, hi_band = claim.band
    if high < lo_band:
        return YES
    if low > hi_band:
        return NO
    if low >= lo_band and high <= hi_band:
        return TIE
    return INCONCLUSIVE


def _rule_inside(claim: Claim, est: Estimate) -> str:
    low, high = (est.low, est.high) if est.has_interval else (est.value, est.value)
    lo_band, hi_band = claim.band  # (lo, hi]: "more than 0 and at most 5"
    if low > lo_band and high <= hi_band:
        return YES
    if high <= lo_band or low > hi_band:
        return NO
    return INCONCLUSIVE


RULES = {RULE_ALL_BELOW: _rule_all_below, RULE_BELOW: _rule_below, RULE_INSIDE: _rule_inside}


def decide(
    claim: Claim | str,
    estimate: Estimate | None,
    figures: Mapping[str, Any] | None = None,
    *,
    missing: str = "",
    not_comparable: str = "",
    point_decides: bool = False,
) -> Verdict:
    """The verdict on ``claim`` from ``estimate`` (``None``: not measured, ``missing`` says why).

    An estimate without an interval (n = 1) is decided on its point only where ``point_decides``
    (exact counts, a single seed labelled so, a published figure); otherwise it is inconclusive.
    ``not_comparable`` (why the figures are not the study's) wins over everything; an estimate marked
    ``unusable`` (measured on a machine short of cores) is inconclusive whatever its interval.
    """
    c = CLAIMS_BY_KEY[claim] if isinstance(claim, str) else claim
    figs = dict(figures or {})
    if not_comparable:
        return Verdict(c.key, NOT_COMPARABLE, unit=c.unit, figures=figs, note=f"not comparable with the study: {not_comparable}")
    if estimate is None:
        return Verdict(c.key, NOT_MEASURED, unit=c.unit, figures=figs, note=missing or "a figure it needs is missing")
    is_exact = estimate.n == 1 and estimate.low == estimate.high == estimate.value  # a count: no sampling error
    if estimate.unusable:
        outcome = INCONCLUSIVE
        note = "; ".join(filter(None, [estimate.unusable, estimate.note]))
    elif not estimate.has_interval and not point_decides and not is_exact:
        outcome = INCONCLUSIVE
        note = "; ".join(filter(None, [estimate.note, "a point figure without an interval decides nothing"]))
    else:
        outcome, note = RULES[c.rule](c, estimate), estimate.note
    low = estimate.low if estimate.has_interval else None
    high = estimate.high if estimate.has_interval else None
    return Verdict(c.key, outcome, estimate.value, low, high, estimate.n, estimate.method, c.unit, figs, note, bool(estimate.unusable))


def decide_claims(
    evidence: Mapping[str, tuple[Estimate | None, Mapping[str, Any]]],
    *,
    missing: Mapping[str, str] | None = None,
    subset: Mapping[str, str] | None = None,
    point_decides: frozenset[str] | set[str] = frozenset(),
) -> list[Verdict]:
    """Every claim of :data:`CLAIMS`, in order, from ``evidence[metric] = (estimate, figures)``.

    ``missing[claim]`` says why a claim has no evidence, ``subset[claim]`` (from :func:`not_comparable`)
    why its figures are not the study's; ``point_decides`` names the claims whose point estimate may
    decide (see :func:`decide`)."""
    missing, subset = missing or {}, subset or {}
    out = []
    for c in CLAIMS:
        est, figs = evidence.get(c.metric, (None, {}))
        out.append(
            decide(
                c,
                est,
                figs,
                missing=missing.get(c.key, ""),
                not_comparable=subset.get(c.key, ""),
                point_decides=c.key in point_decides,
            )
        )
    return out


def not_comparable(train_images: int | None, test_images: int | None, train_subset: bool = False) -> dict[str, str]:
    """The claims a run on a subset cannot decide, with why (``{}`` for a run on the study's full data).

    Size does not depend on the data; speed and accuracy measured on fewer than the 10,000 test images,
    and accuracy after training on fewer than the 60,000 training images, are not the study's figures.
    ``train_subset``: the weights were trained on a subset whose size is not known (``train_images`` None).
    """
    out: dict[str, str] = {}
    if test_images is not None and test_images < TEST_IMAGES:
        out["faster"] = out["small_accuracy_cost"] = f"measured on {test_images:,} of the {TEST_IMAGES:,} test images"
    if (train_images is not None and train_images < TRAIN_IMAGES) or (train_images is None and train_subset):
        seen = f"{train_images:,}" if train_images is not None else "a subset"
        why = f"trained on {seen} of the {TRAIN_IMAGES:,} training images"
        out["small_accuracy_cost"] = f"{out['small_accuracy_cost']}; {why}" if "small_accuracy_cost" in out else why
    return out
