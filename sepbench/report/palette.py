"""One colour per verdict outcome, for the tables (a CSS class each) and the forest plot (a marker colour).

Okabe-Ito hues (distinguishable with the common colour-blindnesses), light for cell backgrounds and full
for markers; the outcome's word is always printed beside the colour, so the colour is never the only cue.
"""

from __future__ import annotations

import re

from sepbench.core.claims import OUTCOMES

# in OUTCOMES order: yes, NO, tie, inconclusive, not comparable, not measured
_LIGHT = ("#cde6f7", "#fbd9b5", "#e4e4e4", "#fcf2b3", "#ecd9f0", "#ffffff")
_FULL = ("#0072b2", "#d55e00", "#666666", "#b8860b", "#cc79a7", "#999999")
CELL_BACKGROUND: dict[str, str] = dict(zip(OUTCOMES, _LIGHT, strict=True))
MARKER: dict[str, str] = dict(zip(OUTCOMES, _FULL, strict=True))


def css_class(outcome: str) -> str:
    """The outcome's CSS class: ``outcome-yes``, ``outcome-no``, ``outcome-not-measured``."""
    return "outcome-" + re.sub(r"[^a-z0-9]+", "-", outcome.lower()).strip("-")


def css() -> str:
    """The style rules of every outcome's class (background colour; the word in bold beside it)."""
    return "\n".join(f"td.{css_class(o)} {{ background: {CELL_BACKGROUND[o]}; }}" for o in OUTCOMES)
