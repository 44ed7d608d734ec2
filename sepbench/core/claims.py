"""The study's three claims, decided from measured figures of one backend on one machine.

Used by ``sepbench reproduce`` and by the report, so both decide the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

CLAIMS: dict[str, str] = {
    "smaller": "Separable convolutions shrink the model (fewer parameters, smaller file).",
    "faster": "Separable convolutions make the model faster (less evaluation time).",
    "small_accuracy_cost": "They cost a little accuracy (regular more accurate, by at most a few points).",
}

# "a little" accuracy: the study lost 1.48 points; we accept a loss of more than 0 and at most 5 points
MAX_ACCURACY_COST = 0.05
# "faster": the separable time must be below (1 - this) x the regular time.  Two medians of the same
# work differ by several per cent between runs on a shared machine, so a tie is not a speed-up.
MIN_SPEEDUP = 0.05
# the study's data: a figure from fewer images is not set against its figures
FULL_TRAIN_IMAGES, FULL_TEST_IMAGES = 60_000, 10_000


@dataclass(frozen=True)
class ClaimVerdict:
    claim: str  # key of CLAIMS
    text: str
    holds: bool | None  # None: the figures needed are missing, or not comparable with the study's
    evidence: str  # the figures that decide it (or why none can)
    comparable: bool = True  # False: measured on less data than the study, so not decided

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _get(fig: Mapping[str, Mapping[str, float | None]], metric: str) -> tuple[float, float] | None:
    values = fig.get(metric) or {}
    reg, sep = values.get("regular"), values.get("separable")
    if reg is None or sep is None:
        return None
    return float(reg), float(sep)


def not_comparable(train_images: int | None, test_images: int | None) -> dict[str, str]:
    """The claims a run on a subset cannot decide, with why (``{}`` for a run on the study's full data).

    Size does not depend on the data; speed and accuracy measured on fewer than the 10,000 test images,
    and accuracy after training on fewer than the 60,000 training images, are not the study's figures.
    """
    out: dict[str, str] = {}
    if test_images is not None and test_images < FULL_TEST_IMAGES:
        out["faster"] = out["small_accuracy_cost"] = f"measured on {test_images:,} of the {FULL_TEST_IMAGES:,} test images"
    if train_images is not None and train_images < FULL_TRAIN_IMAGES:
        why = f"trained on {train_images:,} of the {FULL_TRAIN_IMAGES:,} training images"
        out["small_accuracy_cost"] = f"{out['small_accuracy_cost']}; {why}" if "small_accuracy_cost" in out else why
    return out


def decide_claims(figures: Mapping[str, Mapping[str, float | None]], subset: Mapping[str, str] | None = None) -> list[ClaimVerdict]:
    """Decide each claim from ``figures[metric][model]`` for one backend and machine.

    Metrics used: ``params``, a file size (``hdf5_bytes`` if present, else ``native_bytes``),
    ``eval_seconds`` (else ``paired_10k_seconds``, each model's median predict of the 10,000 test
    images measured in alternating pairs, else ``predict_10k_seconds``, the fastest predict of the
    10,000 test images) and ``test_accuracy``.  ``subset`` (from :func:`not_comparable`) names the
    claims whose figures came from less data than the study's: those are not decided.
    """
    verdicts = _decide(figures)
    subset = subset or {}
    return [
        ClaimVerdict(v.claim, v.text, None, f"not comparable with the study: {subset[v.claim]}", comparable=False)
        if v.claim in subset
        else v
        for v in verdicts
    ]


def _decide(figures: Mapping[str, Mapping[str, float | None]]) -> list[ClaimVerdict]:
    out: list[ClaimVerdict] = []

    params = _get(figures, "params")
    size_metric = "hdf5_bytes" if _get(figures, "hdf5_bytes") else "native_bytes"
    size = _get(figures, size_metric)
    if params is None or size is None:
        out.append(ClaimVerdict("smaller", CLAIMS["smaller"], None, "parameters or file size missing"))
    else:
        holds = params[1] < params[0] and size[1] < size[0]
        out.append(
            ClaimVerdict(
                "smaller",
                CLAIMS["smaller"],
                holds,
                f"params {params[1]:,.0f} vs {params[0]:,.0f} ({params[1] / params[0]:.3f}x); "
                f"{size_metric} {size[1]:,.0f} vs {size[0]:,.0f} ({size[1] / size[0]:.3f}x)",
            )
        )

    t, label = _get(figures, "eval_seconds"), "eval"
    if t is None:  # an inference path without a Keras-style evaluate: its 10,000-image predict, measured
        # in alternating pairs of the two models if the run did (robust to a drifting load), else its fastest
        t, label = _get(figures, "paired_10k_seconds"), "predict 10k, paired"
    if t is None:
        t, label = _get(figures, "predict_10k_seconds"), "predict 10k"
    if t is None:
        out.append(ClaimVerdict("faster", CLAIMS["faster"], None, "evaluation time missing"))
    else:
        holds = t[1] < (1.0 - MIN_SPEEDUP) * t[0]
        # within the band either way, the two times are the same as far as one run can tell
        tie = "" if holds or t[1] >= (1.0 + MIN_SPEEDUP) * t[0] else f"; within {MIN_SPEEDUP:.0%}: a tie, not a speed-up"
        out.append(ClaimVerdict("faster", CLAIMS["faster"], holds, f"{label} {t[1]:.3f} s vs {t[0]:.3f} s ({t[1] / t[0]:.2f}x{tie})"))

    acc = _get(figures, "test_accuracy")
    if acc is None:
        out.append(ClaimVerdict("small_accuracy_cost", CLAIMS["small_accuracy_cost"], None, "test accuracy missing"))
    else:
        cost = acc[0] - acc[1]
        out.append(
            ClaimVerdict(
                "small_accuracy_cost",
                CLAIMS["small_accuracy_cost"],
                0 < cost <= MAX_ACCURACY_COST,
                f"accuracy {acc[1]:.4f} vs {acc[0]:.4f} ({-100 * cost:+.2f} points; "
                f"'a little' = a loss in (0, {100 * MAX_ACCURACY_COST:.0f}] points)",
            )
        )
    return out
