"""The headline: a few sentences, generated from the verdict records, that answer the study on one machine.

One sentence per claim of the study's pair (``Faster: yes on 5 of 16 paths, NO on 4, best 0.23x (numpy
(fused)); the study's own Keras evaluate (tensorflow): tie.``), one per other pair, and where the answer
was measured (machine, threads, day) once.  Counted per :attr:`~sepbench.core.claims.Claim.per`: a path,
or a trainer (the paths of one backend share its training verdict).  Text only: HTML, Markdown and the
terminal each neutralise it as they render it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sepbench.core.claims import CLAIMS, NOT_MEASURED, OUTCOMES, RULE_BELOW, YES, Claim, Verdict
from sepbench.core.pairs import STUDY_PAIR
from sepbench.core.recipe import TRAINERS
from sepbench.core.study import STUDY_FRAMEWORK
from sepbench.report.decided import Decided, PathVerdicts


@dataclass(frozen=True)
class Headline:
    """``where``: the machine, threads and day the verdicts were measured on; ``sentences``: the answers."""

    where: str
    sentences: tuple[str, ...]

    def text(self) -> str:
        return " ".join((self.where, *self.sentences)) if self.where else " ".join(self.sentences)


def _label(claim: Claim) -> str:
    """``faster?`` -> ``Faster``."""
    name = claim.column.rstrip("?")
    return name[:1].upper() + name[1:]


def _units(claim: Claim, rows: Sequence[PathVerdicts]) -> list[tuple[str, Verdict]]:
    """The verdicts of ``claim`` counted once each: per path, or per trainer (the first path of each backend
    that trains; the inference runtimes have no training verdict to count)."""
    found = [(r.variant, v) for r in rows if (v := r.of(claim.key)) is not None]
    if claim.per != "trainer":
        return found
    by_trainer: dict[str, Verdict] = {}
    for variant, v in found:
        backend = variant.split(" (", 1)[0]
        if backend in TRAINERS and (backend not in by_trainer or by_trainer[backend].outcome == NOT_MEASURED):
            by_trainer[backend] = v
    return list(by_trainer.items())


def claim_sentence(claim: Claim, rows: Sequence[PathVerdicts], label: bool = True) -> str:
    """How ``claim`` stands over ``rows``: ``yes on every path``, or each outcome's count, the best ratio
    where the claim is a ratio below a band and some path says yes (``""`` when no row has the claim)."""
    units = _units(claim, rows)
    if not units:
        return ""
    per = claim.per
    counts = Counter(v.outcome for _, v in units)
    if len(counts) == 1:
        outcome = units[0][1].outcome
        figures = {v.detail() for _, v in units}
        shared = figures.pop() if len(figures) == 1 and claim.key != "smaller" else ""
        text = f"{outcome} on every {per}" + (f" ({shared})" if shared else "")
    else:
        ordered = [o for o in OUTCOMES if o in counts]
        text = ", ".join(f"{o} on {counts[o]} of {len(units)} {per}s" if i == 0 else f"{o} on {counts[o]}" for i, o in enumerate(ordered))
    if claim.rule == RULE_BELOW and counts.get(YES):
        name, best = min(((n, v) for n, v in units if v.outcome == YES), key=lambda nv: nv[1].estimate or float("inf"))
        text += f", best {best.estimate:.2f}x ({name})"
    return f"{_label(claim)}: {text}" if label else text


def _study_own(rows: Sequence[PathVerdicts]) -> str:
    """The study's own measurement on this machine: its framework's default path, "faster" (``""``: not measured)."""
    own = next((r.of("faster") for r in rows if r.variant == STUDY_FRAMEWORK), None)
    return f"the study's own Keras evaluate ({STUDY_FRAMEWORK}): {own.outcome}" if own is not None else ""


def where(decided: Decided, rows: Sequence[PathVerdicts]) -> str:
    """``On epyc-..., 2 threads, 2026-12-07:`` (what is known of it)."""
    threads = decided.threads(rows)
    parts = [str(decided.here)] if decided.here is not None else []
    if threads:
        parts.append(" and ".join(map(str, threads)) + (" thread" if threads == [1] else " threads"))
    if decided.when:
        parts.append(decided.when)
    return f"On {', '.join(parts)}:" if parts else ""


def headline(decided: Decided) -> Headline:
    """The headline of :meth:`Decided.this_machine`'s verdicts: one sentence per claim of the study's pair,
    one per other pair (each claim in a clause), and where they were measured."""
    rows = decided.this_machine()
    sentences = []
    study = [r for r in rows if r.pair == STUDY_PAIR.name]
    for claim in CLAIMS:
        text = claim_sentence(claim, study)
        if text and claim.key == "faster" and (own := _study_own(study)):
            text += f"; {own}"
        if text:
            sentences.append(text + ".")
    for pair in dict.fromkeys(r.pair for r in rows if r.pair != STUDY_PAIR.name):
        of_pair = [r for r in rows if r.pair == pair]
        clauses = [f"{c.column.rstrip('?')} {t}" for c in CLAIMS if (t := claim_sentence(c, of_pair, label=False))]
        sentences.append(f"The {pair} pair: " + "; ".join(clauses) + ".")
    return Headline(where(decided, rows), tuple(sentences))
