"""The benchmark gate across processes: what a fresh process moves, measured on the paired records of both
runs, and allowed for in every comparison the gate makes.

Two runs of the same code are two sets of processes, and what a fresh process redraws (memory layout,
thread placement, a fast path's configuration, the CPU's frequency state) moves a case's time by more
than its rounds scatter inside one process: comparing two single-process runs case by case, each
interval from its own rounds, failed 2 of 2 no-op compares on one 2-core machine (8 "regressions").
The paired cases are timed in several fresh processes per run (:mod:`sepbench.bench.processes`), so
each run holds, per paired case and model, one time per process: the spread of those between
processes is measured, not assumed.

* **Paired cases** (:func:`judge_records`): each model's time in each paired case, per process the
  median of its rounds divided by the reference matmul timed around them (the machine's speed; where
  both runs recorded it).  The slowdown is the ratio of the two runs' geometric means over their
  processes; its 95 % interval is a two-sample t interval on the log times whose variance is the
  between-process variance pooled over the keys of the same backend and path (:class:`ProcessSpread`),
  or the key's own where that is larger: two or three processes estimate their own spread poorly, and
  one case's lucky small spread must not make a narrow interval.
* **Single-process cases** (the latency cases, timed in the main run only): their interval is widened
  by the between-process variance of the paired cases of the same backend and path
  (:meth:`ProcessSpread.allowance`): two runs differ by two process draws, whatever their rounds say.

A case fails as in :func:`sepbench.results.slowdown.judge`: its estimate beyond ``1 + min_effect`` and
its whole interval above 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from sepbench.core.intervals import LEVEL, t_quantile
from sepbench.results.paired_evidence import busy_reason_of
from sepbench.results.paired_records import PairedIdentity, PairedRecord
from sepbench.results.slowdown import IMPROVEMENT, REGRESSION, SAME, Slowdown

MIN_GATE_PROCESSES = 2  # processes a side needs before a paired case's model time is judged


@dataclass(frozen=True, order=True)
class ModelKey:
    """One model's time in one paired case, whatever the commit (the two runs' commits differ)."""

    identity: PairedIdentity  # with ``commit`` blanked
    model: str

    @property
    def variant(self) -> tuple[str, str]:
        """(backend, path): the single-process cases that borrow this key's between-process spread."""
        return self.identity.backend, self.identity.path

    def label(self) -> str:
        i = self.identity
        return f"{i.pair} {i.variant()} {i.workload} {self.model}"


def process_times(records: Iterable[PairedRecord], normalized: bool, busy: bool = False) -> dict[ModelKey, list[float]]:
    """Per model key, one log time per process: the log of the median of the process's rounds (seconds),
    less the log of its reference matmul's mean where ``normalized``.  Processes that ran short of cores
    only where ``busy``: their times are the load's, not the code's, but their spread is what the runs met."""
    out: dict[ModelKey, list[float]] = {}
    for r in records:
        if not busy and busy_reason_of(r):
            continue
        identity = replace(r.identity, commit="")
        ref = math.log(sum(r.reference_s) / len(r.reference_s)) if normalized else 0.0
        for model, times in ((identity.baseline, r.baseline_s), (identity.candidate, r.candidate_s)):
            out.setdefault(ModelKey(identity, model), []).append(math.log(float(np.median(times))) - ref)
    return out


def can_normalize(*runs: Sequence[PairedRecord]) -> bool:
    """Every record of every run timed the reference matmul around its rounds."""
    return all(r.reference_s for run in runs for r in run) and any(run for run in runs)


@dataclass(frozen=True)
class ProcessSpread:
    """The variance of a log time between fresh processes, pooled over model keys (``variance``; ``df``
    its degrees of freedom), overall and per (backend, path)."""

    variance: float
    df: int
    by_variant: Mapping[tuple[str, str], tuple[float, int]]

    @classmethod
    def of(cls, *sides: Mapping[ModelKey, Sequence[float]]) -> ProcessSpread:
        """Pooled from each side's keys with two processes or more (sides are pooled apart: a shift between
        runs is what the gate looks for, not spread)."""
        total = [0.0, 0]
        by: dict[tuple[str, str], list[float]] = {}
        for side in sides:
            for key, logs in side.items():
                if len(logs) < 2:
                    continue
                ss = float(np.sum((np.asarray(logs) - np.mean(logs)) ** 2))
                total[0] += ss
                total[1] += len(logs) - 1
                acc = by.setdefault(key.variant, [0.0, 0])
                acc[0] += ss
                acc[1] += len(logs) - 1
        variance = total[0] / total[1] if total[1] else 0.0
        return cls(variance, int(total[1]), {k: (v[0] / v[1], int(v[1])) for k, v in by.items() if v[1]})

    def for_variant(self, variant: tuple[str, str]) -> tuple[float, int]:
        """(variance, df) for a backend and path: its own where measured, else the pooled one."""
        return self.by_variant.get(variant, (self.variance, self.df))

    def allowance(self, variant: tuple[str, str]) -> float:
        """The half-width (log) that two single-process measurements of one case may differ by between
        runs: t(df) x sqrt(2 x the variant's between-process variance); 0 where nothing was measured."""
        variance, df = self.for_variant(variant)
        return t_quantile(df, LEVEL) * math.sqrt(2 * variance) if df else 0.0


@dataclass(frozen=True)
class RecordVerdict:
    """One model's time in one paired case: the run's over the baseline's."""

    key: ModelKey
    node: str  # the paired case's pytest node id (for the confirmation re-run)
    slowdown: Slowdown
    normalized: bool

    @property
    def regressed(self) -> bool:
        return self.slowdown.regressed

    @property
    def name(self) -> str:
        return f"{self.node.split('::')[-1]} {self.key.model}"


def judge_records(
    base: Sequence[PairedRecord], run: Sequence[PairedRecord], min_effect: float, spread: ProcessSpread | None = None
) -> tuple[list[RecordVerdict], ProcessSpread]:
    """Judge each model key both runs measured in :data:`MIN_GATE_PROCESSES` processes or more (see the
    module docstring); ``spread`` (default: pooled from these records) floors each side's variance."""
    normalized = can_normalize(base, run)
    a, b = process_times(base, normalized), process_times(run, normalized)
    # the spread from every process, those short of cores included: the single-process cases met that load too
    spread = spread or ProcessSpread.of(process_times(base, normalized, busy=True), process_times(run, normalized, busy=True))
    nodes = {replace(r.identity, commit=""): r.extra.get("node") for r in (*base, *run) if isinstance(r.extra.get("node"), str)}
    verdicts = []
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        if min(len(x), len(y)) < MIN_GATE_PROCESSES:
            continue
        floor, floor_df = spread.for_variant(key.variant)
        verdicts.append(RecordVerdict(key, nodes.get(key.identity, ""), _pooled_t(x, y, floor, floor_df, min_effect), normalized))
    return verdicts, spread


def _pooled_t(base: Sequence[float], run: Sequence[float], pooled: float, pooled_df: int, min_effect: float) -> Slowdown:
    """A two-sample t interval on two sets of log times, their variance the larger of the key's own (both
    sides pooled) and ``pooled`` (its backend and path's, with ``pooled_df`` degrees of freedom): a key is
    never judged more finely than its peers scatter, and one that scatters more is judged by its own."""
    own_df = len(base) + len(run) - 2
    own_ss = float(np.sum((np.asarray(base) - np.mean(base)) ** 2) + np.sum((np.asarray(run) - np.mean(run)) ** 2))
    own = own_ss / own_df if own_df else 0.0
    variance, df = (own, own_df) if own > pooled or not pooled_df else (pooled, pooled_df)
    diff = float(np.mean(run) - np.mean(base))
    half = t_quantile(df, LEVEL) * math.sqrt(variance * (1 / len(base) + 1 / len(run))) if df else math.inf
    ratio, low, high = math.exp(diff), math.exp(diff - half), math.exp(diff + half)
    verdict = REGRESSION if ratio > 1 + min_effect and low > 1 else IMPROVEMENT if ratio < 1 / (1 + min_effect) and high < 1 else SAME
    return Slowdown(ratio, low, high, min_effect, len(base), len(run), False, verdict)


def widened(slowdown: Slowdown, allowance: float) -> Slowdown:
    """``slowdown`` with its interval widened by ``allowance`` (log half-width, added in quadrature to each
    side's) and its verdict decided again on the wider interval."""
    if allowance <= 0:
        return slowdown
    centre = math.log(slowdown.ratio)
    below = math.hypot(centre - math.log(slowdown.low), allowance)
    above = math.hypot(math.log(slowdown.high) - centre, allowance)
    low, high = math.exp(centre - below), math.exp(centre + above)
    m = slowdown.min_effect
    verdict = REGRESSION if slowdown.ratio > 1 + m and low > 1 else IMPROVEMENT if slowdown.ratio < 1 / (1 + m) and high < 1 else SAME
    return replace(slowdown, low=low, high=high, verdict=verdict)


def run_ids(doc: Mapping[str, object]) -> set[str]:
    """The jobs whose records belong to a pytest-benchmark run: its paired cases' ``extra_info["run_id"]``."""
    out = set()
    for bench in doc.get("benchmarks") or []:  # type: ignore[union-attr]
        rid = (bench.get("extra_info") or {}).get("run_id") if isinstance(bench, dict) else None
        if isinstance(rid, str) and rid:
            out.add(rid)
    return out


def of_runs(records: Iterable[PairedRecord], ids: set[str]) -> list[PairedRecord]:
    """The records the jobs ``ids`` wrote."""
    return [r for r in records if r.process.run_id in ids]
