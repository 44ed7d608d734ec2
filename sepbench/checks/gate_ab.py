"""The gate's confirmation by A/B rounds: a case the gate flags, comparing two runs minutes apart, is timed
again with the baseline's commit and this one side by side in interleaved rounds
(:func:`sepbench.checks.ab_run.compare`), and fails only if that paired comparison is flagged too.

Two runs minutes apart differ by more than their code on a shared machine: two no-op ``--quick``
compares on one 2-core EPYC failed 4 and 9 cases 1.1-1.6x (the 2-thread frameworks' 10,000-image
predicts above all), each confirmed by a plain re-run, which met the same state of the machine.  An A/B
round meets one state with both commits.  Used where the baseline's commit is known and present and this
tree is committed (the A/B check times commits); otherwise the gate re-runs the flagged cases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sepbench.checks.ab_run import AbCase
from sepbench.measure.workloads import EvaluateWorkload, PredictWorkload
from sepbench.results.schema import WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE

# the workloads the A/B workers time as their predict: a Keras-style evaluate is a predict of the same
# images at its batch plus the loss; Keras's graph forward and training have no A/B form (re-run instead)
AB_WORKLOADS = (PredictWorkload.kind, EvaluateWorkload.kind, WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE)


@dataclass(frozen=True)
class AbPlan:
    """The A/B cases of the flagged cases, by their names, and the flagged ones A/B cannot time."""

    cases: dict[str, AbCase]  # flagged case name -> its A/B case
    untimed: list[str]  # flagged case names with no A/B form (training)


def ab_case(info: Mapping[str, Any], model: str | None = None) -> AbCase | None:
    """The A/B case timing what a benchmark case timed (``info``: its ``extra_info``; ``model`` for a paired
    case's one model), or ``None`` where the A/B workers cannot (training)."""
    workload = info.get("workload")
    if workload not in AB_WORKLOADS:
        return None
    model = model or info.get("model")
    batch, n, backend, path = info.get("batch_size"), info.get("n_images"), info.get("backend"), info.get("path") or "default"
    if not all(isinstance(v, str) for v in (model, backend, path)) or not all(isinstance(v, int) and v > 0 for v in (batch, n)):
        return None
    return AbCase(str(backend), str(model), int(batch), int(n), str(path))


def plan(flagged: Sequence[tuple[str, Mapping[str, Any], str | None]]) -> AbPlan:
    """``flagged``: (name, extra_info, model of a paired case or None) per flagged case."""
    cases, untimed = {}, []
    for name, info, model in flagged:
        case = ab_case(info, model)
        if case is None:
            untimed.append(name)
        else:
            cases[name] = case
    return AbPlan(cases, untimed)


def base_commit(doc: Mapping[str, Any]) -> tuple[str | None, str]:
    """The baseline run's commit, or ``None`` and why it cannot be A/B'd (unknown, or measured on a dirty tree)."""
    info = doc.get("commit_info") or {}
    commit = info.get("id") if isinstance(info, dict) else None
    if not isinstance(commit, str) or len(commit) != 40:
        return None, "the baseline records no commit"
    if info.get("dirty"):
        return None, "the baseline was measured on uncommitted changes"
    return commit, ""
