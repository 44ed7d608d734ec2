"""The read-time statistics fed recorded records (tests/data/paired_records.json: real `nox -s bench` records
of four cases, several processes each, written by the benchmark processes themselves): processes that
disagree, processes that agree, a real tie, a real slowdown.
Each case checks the two-level interval, its variance components and the outcome."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sepbench.core.claims import INCONCLUSIVE, NO, TIE, YES, decide
from sepbench.core.intervals import paired_ratio
from sepbench.results.paired_evidence import ProcessEvidence, evidence_by_identity
from sepbench.results.paired_records import read_records

RECORDED = Path(__file__).parent / "data" / "paired_records.json"


@pytest.fixture(scope="module")
def recorded() -> dict[tuple[str, str, str, str], ProcessEvidence]:
    records = read_records(RECORDED)  # through the schema, as the report reads them
    return {(e.identity.pair, e.identity.workload, e.identity.backend, e.identity.path): e for e in evidence_by_identity(records)}


def _claim(ev: ProcessEvidence) -> str:
    return "trains_faster" if ev.identity.workload == "paired-train" else "faster"


def test_processes_that_disagree_widen_the_interval_to_cover_each_of_them(recorded):
    """NumPy's study-style evaluate: each process's rounds agree with each other, the processes do not
    (a process's median moves with how its BLAS threads were placed); the interval covers every
    process's own median and says to add processes."""
    ev = recorded[("study", "paired-evaluate", "numpy", "default")]
    est = ev.estimate()
    medians = sorted(ev.process_medians())
    assert ev.processes >= 3 and est.extra["between_share"] > 0.5 and "add processes" in est.note
    assert medians[-1] / medians[0] > 1.5  # the processes' own answers lie far apart
    assert est.low <= float(np.median(medians)) <= est.high
    # one level of rounds, pooled as if one process had taken them all, would claim far more than it knows
    pooled = paired_ratio([b for r in ev.usable for b in r.baseline_s], [c for r in ev.usable for c in r.candidate_s])
    assert (pooled.high - pooled.low) < (est.high - est.low) / 2
    assert decide(_claim(ev), est).outcome == INCONCLUSIVE


def test_processes_that_agree_decide_and_rounds_carry_the_variance(recorded):
    """NumPy's fused path on the spatial pair: 0.3x in every process."""
    ev = recorded[("spatial", "paired-predict", "numpy", "fused")]
    est = ev.estimate()
    assert ev.processes >= 3 and est.extra["between_share"] < 0.5 and est.extra["within"] > 0
    assert est.high < 0.5 and decide(_claim(ev), est).outcome == YES


def test_a_real_slowdown_is_no_over_every_process(recorded):
    """PyTorch's training steps: the separable model's step is slower in every process."""
    ev = recorded[("study", "paired-train", "torch", "train")]
    est = ev.estimate()
    assert ev.processes >= 3 and est.low > 1.05 and decide(_claim(ev), est).outcome == NO
    assert all(m > 1.0 for m in ev.process_medians())


def test_the_same_records_give_the_same_interval_and_a_subset_gives_a_wider_one(recorded):
    ev = recorded[("spatial", "paired-predict", "numpy", "fused")]
    a, b = ev.estimate(seed=3), ev.estimate(seed=3)
    assert (a.value, a.low, a.high) == (b.value, b.low, b.high)
    fewer = ProcessEvidence(ev.identity, ev.records[:2]).estimate()
    assert fewer.high - fewer.low >= a.high - a.low  # fewer processes: a wider t interval (1 degree of freedom)


def test_a_real_tie_is_a_tie_only_once_enough_processes_agree(recorded):
    """LiteRT's int8 spatial model: the same time for both models; five processes place the whole
    interval inside the band, the first two did not."""
    ev = recorded[("spatial", "paired-predict", "litert", "int8")]
    est = ev.estimate()
    assert ev.processes >= 5 and 0.95 <= est.low and est.high <= 1.05
    assert decide(_claim(ev), est).outcome == TIE
    first_two = ProcessEvidence(ev.identity, ev.records[:2]).estimate()
    assert decide(_claim(ev), first_two).outcome == INCONCLUSIVE
