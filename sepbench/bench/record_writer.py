"""This process's paired records: each paired case, once measured, becomes a
:class:`~sepbench.results.paired_records.PairedRecord`, and the process's file of records is rewritten
(atomically) after each, so a job stopped half-way keeps what it measured.

The file is ``<storage>/records/<machine>/<run id>-<pid>[-n].json``: a name this process made unique
(:func:`sepbench.util.atomic.unique_path`), so no other file is ever replaced.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sepbench.results.paired_records import PairedIdentity, PairedRecord, ProcessFacts, records_dir, write_records

ENV_PAD = "SEPBENCH_ENV_PAD"  # a variable of random length per process: another stack alignment each time (pyperf does the same)


def utc_now() -> str:
    """Now, UTC, ISO 8601 (what records sort and pool by)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_run_id() -> str:
    """A job's id: its UTC start to the second and 4 random hex digits (two jobs started together differ)."""
    import secrets

    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


@dataclass
class RecordWriter:
    """Collects this process's records and keeps its file up to date."""

    storage: Path
    machine: str
    run_id: str
    commit: str
    pool_since: str = ""
    started: str = field(default_factory=utc_now)
    records: list[PairedRecord] = field(default_factory=list)
    path: Path | None = None

    def add(self, paired: Any, extra: dict[str, Any] | None = None, reference_s: Sequence[float] = ()) -> PairedRecord:
        """The record of a measured paired workload (:class:`sepbench.measure.paired_workloads.PairedPredictWorkload`
        or a subclass), written out with the ones before it; ``reference_s``: the reference matmul's seconds
        around its rounds (:attr:`~sepbench.results.paired_records.PairedRecord.reference_s`)."""
        from sepbench.util.atomic import unique_path

        base, cand = paired.models
        identity = PairedIdentity(
            pair=paired.pair.name,
            baseline=base,
            candidate=cand,
            backend=paired.backend,
            path=paired.path,
            workload=paired.kind,
            batch_size=paired.batch_size,
            n_images=paired.n_images,
            threads=paired.threads or paired.cores,
            machine=self.machine,
            commit=self.commit,
        )
        configs = {m: p.info.get("fast_config") for m, p in paired.parts.items()}
        process = ProcessFacts(
            run_id=self.run_id,
            pid=os.getpid(),
            started=self.started,
            position=len(self.records),
            cores=paired.cores,
            fast_config=configs if any(v is not None for v in configs.values()) else None,
            env_pad=len(os.environ.get(ENV_PAD, "")),
            pool_since=self.pool_since,
        )
        record = PairedRecord(
            identity,
            tuple(b for b, _ in paired.pairs),
            tuple(c for _, c in paired.pairs),
            tuple(paired.orders),
            tuple(paired.others_per_round),
            process,
            stop_reason=paired.stop_reason,
            extra=dict(extra or {}),
            reference_s=tuple(reference_s),
        )
        self.records.append(record)
        if self.path is None:
            directory = records_dir(self.storage, self.machine)
            directory.mkdir(parents=True, exist_ok=True)
            self.path = unique_path(directory, f"{self.run_id}-{os.getpid()}", ".json")
        write_records(self.path, self.records)
        return record
