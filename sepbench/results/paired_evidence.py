"""The statistics of paired records, computed when they are read: records grouped by identity, the
records of a process that ran short of cores set aside, and candidate / baseline estimated over the
processes (:func:`sepbench.core.process_intervals.ratio_over_processes`: processes are the unit of
replication, rounds are nested in them).

A verdict needs :data:`MIN_PROCESSES` processes: one process's rounds say nothing about what a rerun in a
fresh process gives, so its estimate is shown without an interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sepbench.core.intervals import Estimate
from sepbench.core.process_intervals import ratio_over_processes
from sepbench.results.paired_records import PairedIdentity, PairedRecord, pooled

MIN_PROCESSES = 2  # an interval over processes needs two (a t interval with 1 degree of freedom: wide, and honest)


def busy_reason_of(record: PairedRecord) -> str:
    """Why this record's rounds say nothing about the models (other processes took the cores its threads
    needed), or ``""``."""
    from sepbench.core.evidence import busy_reason

    return busy_reason(record.mean_others_cores(), record.process.cores, record.identity.threads)


def group(records: Iterable[PairedRecord]) -> dict[PairedIdentity, list[PairedRecord]]:
    """Records by identity (sorted), each group restricted to the records that pool (:func:`pooled`)."""
    by: dict[PairedIdentity, list[PairedRecord]] = {}
    for r in records:
        by.setdefault(r.identity, []).append(r)
    return {k: pooled(by[k]) for k in sorted(by)}


@dataclass(frozen=True)
class ProcessEvidence:
    """The pooled records of one identity; :meth:`estimate` computes the ratio over the processes whose
    machine had the cores free (``usable``), setting aside the others (``busy``)."""

    identity: PairedIdentity
    records: tuple[PairedRecord, ...]

    @cached_property
    def usable(self) -> tuple[PairedRecord, ...]:
        return tuple(r for r in self.records if not busy_reason_of(r))

    @cached_property
    def busy(self) -> tuple[PairedRecord, ...]:
        return tuple(r for r in self.records if busy_reason_of(r))

    @property
    def processes(self) -> int:
        """Processes whose rounds count."""
        return len(self.usable)

    def process_medians(self) -> list[float]:
        """Each usable process's median candidate / baseline ratio over its rounds."""
        import numpy as np

        return [float(np.exp(np.median(np.log(np.divide(r.candidate_s, r.baseline_s))))) for r in self.usable]

    def estimate(self, seed: int = 0) -> Estimate:
        """Candidate / baseline time, 95 % interval over the usable processes; an estimate with no
        interval (one process) or marked unusable (every process short of cores)."""
        usable, busy = self.usable, self.busy
        if not usable:
            reason = busy_reason_of(busy[0])
            est = ratio_over_processes([(r.baseline_s, r.candidate_s) for r in busy], seed=seed)
            return Estimate(est.value, est.low, est.high, est.n, est.method, est.spread, est.note, est.extra, unusable=reason)
        est = ratio_over_processes([(r.baseline_s, r.candidate_s) for r in usable], seed=seed)
        notes = [est.note] if est.note else []
        if busy:
            notes.append(f"{len(busy)} process(es) set aside: other processes took the cores their threads needed")
        if len(usable) < MIN_PROCESSES:
            notes.append(f"a verdict needs rounds from {MIN_PROCESSES} processes or more")
            return Estimate(est.value, math.nan, math.nan, 1, est.method, est.spread, "; ".join(notes), est.extra)
        return Estimate(est.value, est.low, est.high, est.n, est.method, est.spread, "; ".join(notes), est.extra)

    def figures(self) -> dict[str, Any]:
        """What the verdict shows beside the estimate: each model's median seconds over every usable round,
        processes, rounds, threads, the variance components, the cores other processes held."""
        import numpy as np

        rows = self.usable or self.records
        ident = self.identity
        base = np.concatenate([r.baseline_s for r in rows])
        cand = np.concatenate([r.candidate_s for r in rows])
        others = [o for r in rows if (o := r.mean_others_cores()) is not None]
        figs: dict[str, Any] = {
            f"{ident.baseline}_s": float(np.median(base)),
            f"{ident.candidate}_s": float(np.median(cand)),
            "processes": len(rows),
            "rounds": int(len(base)),
            "threads": ident.threads,
            "commit": ident.commit[:12],
        }
        if others:
            figs["others_cores"] = round(max(others), 2)
        return figs


def evidence_by_identity(records: Iterable[PairedRecord]) -> list[ProcessEvidence]:
    """One :class:`ProcessEvidence` per identity of ``records`` (sorted)."""
    return [ProcessEvidence(k, tuple(v)) for k, v in group(records).items()]
