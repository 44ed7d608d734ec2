"""The record of one paired case measured in one process: what was compared (a frozen identity), the raw
seconds of every round of both models, and the facts of the process that took them.  No statistic is
stored: the estimate and its interval are computed when the records are read
(:mod:`sepbench.results.paired_evidence`), from every record of the same identity, as pyperf's
``Benchmark`` holds its runs and computes on read.

Each benchmark process writes one file of records (``<results>/bench/records/<machine>/<run>-<pid>.json``,
the format in ``formats/paired_records.schema.json``) beside pytest-benchmark's own run files.  A rerun on
the same commit and machine adds files; its records pool with the earlier ones (a record's
``pool_since`` starts afresh).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sepbench.results.schema import ResultsError, read_json
from sepbench.util.atomic import atomic_write_json

RECORDS_SCHEMA = "sepbench-paired-records"
RECORDS_VERSION = 1
RECORDS_DIR = "records"  # under the pytest-benchmark storage (results/bench)
MAX_RECORD_FILES = 5_000  # files read from one machine's folder: a budget, checked before reading any
MAX_ROUNDS = 10_000  # rounds in one record (the schema says so too)
MAX_REFERENCES = 16  # reference matmul times in one record (the schema says so too)


@dataclass(frozen=True, order=True)
class PairedIdentity:
    """What a paired case compares, and under which conditions: records of equal identities pool.

    ``workload`` is a kind of :data:`sepbench.results.schema.WORKLOAD_KINDS`; ``batch_size`` and
    ``n_images`` count images; ``threads`` are the compute threads of every backend; ``machine`` is the
    hardware's name (:func:`sepbench.machine.fingerprint.machine_name`) and ``commit`` the code's
    (``<sha>`` or ``<sha>+dirty-<hash of the diff>``: two edits of a dirty tree never pool)."""

    pair: str
    baseline: str
    candidate: str
    backend: str
    path: str
    workload: str
    batch_size: int
    n_images: int
    threads: int
    machine: str
    commit: str

    def variant(self) -> str:
        """The backend, with the path when it is not the default one (the report's ``backend path``)."""
        return self.backend if self.path == "default" else f"{self.backend} ({self.path})"


@dataclass(frozen=True)
class ProcessFacts:
    """The process that measured a record: ``run_id`` (one ``nox -s bench`` job), ``pid``, ``started``
    (UTC, ISO 8601), the case's position in the process's random order, the usable ``cores``, the fast
    path's autotuned choice per model (``None``: no such path), the environment padding in bytes (pyperf's
    trick: another stack alignment per process), and ``pool_since`` (UTC ISO; records of this identity
    started earlier are not pooled with this one: ``--fresh``; ``""``: pool them all)."""

    run_id: str
    pid: int
    started: str
    position: int
    cores: int
    fast_config: dict[str, Any] | None = None
    env_pad: int = 0
    pool_since: str = ""


@dataclass(frozen=True)
class PairedRecord:
    """One paired case in one process: round ``i`` timed the baseline in ``baseline_s[i]`` and the
    candidate in ``candidate_s[i]`` seconds (``first[i]`` ran first), while other processes kept
    ``others_cores[i]`` cores busy (``None``: not readable here)."""

    identity: PairedIdentity
    baseline_s: tuple[float, ...]
    candidate_s: tuple[float, ...]
    first: tuple[str, ...]
    others_cores: tuple[float | None, ...]
    process: ProcessFacts
    stop_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # the case's other facts (accuracy, MACs), not read by the statistics
    # the machine's speed around the rounds: a one-thread reference matmul's seconds before and after them
    # (:func:`sepbench.measure.extra_info.reference_seconds`); the gate divides by it (``()``: not measured)
    reference_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.baseline_s)
        if n == 0 or n > MAX_ROUNDS:
            raise ValueError(f"a record holds 1 to {MAX_ROUNDS} rounds, got {n}")
        if not (len(self.candidate_s) == len(self.first) == len(self.others_cores) == n):
            raise ValueError("a record needs one baseline time, candidate time, first model and load reading per round")
        for s in (*self.baseline_s, *self.candidate_s, *self.reference_s):
            if not (isinstance(s, (int, float)) and math.isfinite(s) and s > 0):
                raise ValueError(f"a round's seconds must be finite and > 0, got {s!r}")
        if len(self.reference_s) > MAX_REFERENCES:
            raise ValueError(f"a record holds at most {MAX_REFERENCES} reference times, got {len(self.reference_s)}")

    @property
    def rounds(self) -> int:
        return len(self.baseline_s)

    def mean_others_cores(self) -> float | None:
        """Cores other processes kept busy, averaged over the rounds (weighted by the rounds' seconds)."""
        known = [(o, b + c) for o, b, c in zip(self.others_cores, self.baseline_s, self.candidate_s) if o is not None]
        if not known:
            return None
        return sum(o * w for o, w in known) / sum(w for _, w in known)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("baseline_s", "candidate_s", "first", "others_cores", "reference_s"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairedRecord:
        """A record from its JSON form (validated against the schema first: :func:`read_records`)."""
        return cls(
            identity=PairedIdentity(**d["identity"]),
            baseline_s=tuple(float(x) for x in d["baseline_s"]),
            candidate_s=tuple(float(x) for x in d["candidate_s"]),
            first=tuple(d["first"]),
            others_cores=tuple(None if x is None else float(x) for x in d["others_cores"]),
            process=ProcessFacts(**d["process"]),
            stop_reason=d.get("stop_reason", ""),
            extra=dict(d.get("extra") or {}),
            reference_s=tuple(float(x) for x in d.get("reference_s") or ()),
        )


def records_dir(storage: str | os.PathLike[str], machine: str) -> Path:
    """The folder of one machine's record files under the pytest-benchmark ``storage``."""
    return Path(storage) / RECORDS_DIR / machine


def records_document(records: Sequence[PairedRecord]) -> dict[str, Any]:
    return {"schema": RECORDS_SCHEMA, "version": RECORDS_VERSION, "records": [r.as_dict() for r in records]}


def write_records(path: str | os.PathLike[str], records: Sequence[PairedRecord]) -> Path:
    """Write (atomically) one process's records to ``path``, a file this process named and owns."""
    return atomic_write_json(path, records_document(records), default=None)


def is_records(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("schema") == RECORDS_SCHEMA


def validate_records(doc: Any, source: str) -> list[PairedRecord]:
    """The records of a parsed file, checked against ``formats/paired_records.schema.json``;
    :class:`ResultsError` names the file and the first problem."""
    from sepbench.results.formats import check

    check(doc, "paired_records", source, "paired-records")
    try:
        return [PairedRecord.from_dict(r) for r in doc["records"]]
    except (TypeError, ValueError) as exc:
        raise ResultsError(f"{source}: a record is inconsistent: {exc}") from None


def read_records(path: str | os.PathLike[str]) -> list[PairedRecord]:
    """One file's records (size-bounded, schema-checked)."""
    return validate_records(read_json(path), str(path))


def read_records_dir(directory: str | os.PathLike[str]) -> tuple[list[PairedRecord], list[str]]:
    """Every record file of one machine's folder, and a warning (one line) per file that could not be read.
    More than :data:`MAX_RECORD_FILES` files is refused before any is read."""
    directory = Path(directory)
    if not directory.is_dir():
        return [], []
    files = sorted(p for p in directory.glob("*.json") if not p.name.startswith(".") and p.is_file())
    if len(files) > MAX_RECORD_FILES:
        raise ResultsError(
            f"{directory}: {len(files)} record files, more than the {MAX_RECORD_FILES} one reading takes; move old ones away"
        )
    records: list[PairedRecord] = []
    warnings: list[str] = []
    for path in files:
        try:
            records.extend(read_records(path))
        except ResultsError as exc:
            warnings.append(f"skipped {exc}")
    return records, warnings


def pooled(records: Iterable[PairedRecord]) -> list[PairedRecord]:
    """The records that pool: those started at or after the newest record's ``pool_since``."""
    records = sorted(records, key=lambda r: r.process.started)
    if not records:
        return []
    since = max(r.process.pool_since for r in records)
    return [r for r in records if r.process.started >= since] if since else records
