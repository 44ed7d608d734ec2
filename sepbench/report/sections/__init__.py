"""The report's sections, one declaration each (:class:`~sepbench.report.sections.base.SectionSpec`),
grouped by what they show; :data:`ORDER` is the order the report shows them in.

Which figure counts, the fastest predict, the paired ratios and the figures the claims are decided
from are the rules of :mod:`sepbench.results.verdict` (``bench-summary`` uses the same); the sections
only lay them out, and :mod:`sepbench.report.fmt` formats them for HTML and Markdown.
"""

from __future__ import annotations

from sepbench.report.sections import machines, rates, roofs, seeds, sources, speed, study, verdict
from sepbench.report.sections.base import Inputs, SectionSpec

ORDER: tuple[SectionSpec, ...] = (
    verdict.VERDICT,
    verdict.OTHER_MACHINES,
    study.VS_MEASURED,
    verdict.CLAIMS_SECTION,
    seeds.ACCURACY_SEEDS,
    study.EVALUATE,
    speed.MATRIX,
    speed.LATENCY,
    speed.RATIOS,
    speed.ROOFLINE,
    speed.PAIRED,
    roofs.TWO_ROOFS,
    machines.ACROSS_MACHINES,
    machines.FINGERPRINTS,
    machines.HISTORY,
    rates.RATES,
    sources.SOURCES,
    sources.MEASUREMENTS,
)

__all__ = ["ORDER", "Inputs", "SectionSpec"]
