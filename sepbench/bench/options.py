"""The pytest-benchmark suite's own command-line options, read once per session into :class:`BenchOptions`.

Options: ``--threads N`` (default: one per core that other processes leave free, measured when the
session starts; applied identically to every backend before TensorFlow runs an op), ``--quick`` (CI
smoke: fewer cases and rounds), ``--backends a,b``,
``--pairs study,spatial,FILE.toml`` (the pairs whose claims are decided; default
:data:`sepbench.core.pairs.DEFAULT_BENCH_PAIRS`),
``--train-missing`` (train weights that are not cached instead of timing seeded-init ones) and the
test-only ``--inject-delay SECONDS`` that the regression-gate test uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sepbench.bench.cases import PathCatalog, select_backends
from sepbench.core.pairs import Pair, PairError, select_pairs


@dataclass(frozen=True)
class RoundBudget:
    """Round budget: timed rounds ~ ``target_s`` (seconds) / one run, clamped to [min_rounds, max_rounds]."""

    target_s: float
    min_rounds: int
    max_rounds: int


# 3 rounds at least: the table's medians and spreads; the verdicts come from the paired cases
FULL_TIMING = RoundBudget(target_s=1.0, min_rounds=3, max_rounds=200)
QUICK_TIMING = RoundBudget(target_s=0.3, min_rounds=3, max_rounds=30)
# the default job's single cases: sizes, accuracy and the study-style vs fastest table, no verdict (paired cases decide)
DEFAULT_TIMING = RoundBudget(target_s=0.5, min_rounds=3, max_rounds=60)


@dataclass(frozen=True)
class VerdictTiming:
    """One process's rounds of a paired case (the cases that decide "faster"): at least ``min_rounds``, then
    more until ``budget_s`` wall seconds are spent or ``max_rounds`` ran.  Processes, not rounds, are
    what the verdict's interval is made of (:mod:`sepbench.bench.processes` runs more of them)."""

    budget_s: float
    min_rounds: int
    max_rounds: int


# 2 rounds at least, more while 0.6 s lasts: more rounds in one process narrow only that process's share of
# the variance (measured here: most of it is between processes), so the seconds go to more processes instead
FULL_VERDICT = VerdictTiming(budget_s=0.6, min_rounds=2, max_rounds=8)
QUICK_VERDICT = VerdictTiming(budget_s=0.3, min_rounds=2, max_rounds=6)


@dataclass
class BenchOptions:
    """The session's options, and what the session learns as it runs (paths, roofline, weights sources)."""

    threads: int
    quick: bool
    backends: list[str]
    unavailable: dict[str, str]  # backend -> why it is skipped
    train_missing: bool
    inject_delay: float  # seconds, test-only
    timing: RoundBudget
    verdict_timing: VerdictTiming = FULL_VERDICT
    full: bool = False  # --full: the latency matrix too (the default job times what the verdict and the summary read)
    catalog: PathCatalog = field(default_factory=lambda: PathCatalog({}))
    pairs: list[Pair] = field(default_factory=lambda: select_pairs(None))
    roofline: Any = None  # sepbench.measure.extra_info.Roofline, once probed
    weights_sources: dict[tuple[str, str], str] = field(default_factory=dict)  # (backend, model) -> "trained" / "seeded-init"
    free_cores: Any = None  # sepbench.machine.cpu_share.FreeCores: the probe that chose ``threads`` (None: --threads chose)
    run_id: str = ""  # the job this process belongs to
    pool_since: str = ""  # UTC ISO: this run's records do not pool with records of a case started before it
    records: Any = None  # sepbench.bench.record_writer.RecordWriter, once the first paired case is measured
    storage: Path | None = None  # pytest-benchmark's storage folder (--benchmark-storage file://...): the records go beside its runs

    @property
    def short_of_cores(self) -> bool:
        """The probe found fewer cores free than this process may use (other processes hold some): the
        default job then times what the verdict needs (:data:`sepbench.bench.cases.BUSY_SKIPPED_KINDS`)."""
        return self.free_cores is not None and self.free_cores.free < self.free_cores.cores

    @property
    def available(self) -> list[str]:
        """The selected backends that run here."""
        return [b for b in self.backends if b not in self.unavailable]


OPTIONS_KEY = pytest.StashKey[BenchOptions]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sepbench", "sepbench benchmark suite (tests/bench)")
    group.addoption(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="compute threads for every backend (default: one per core other processes leave free, measured)",
    )
    group.addoption("--quick", action="store_true", default=False, help="CI smoke run: fewer cases and rounds (< 3 min on 2 cores)")
    group.addoption(
        "--full",
        action="store_true",
        default=False,
        help="every case: the latency matrix (predict at batch 1, 32 and 10,000; 10,000 images at each batch size; "
        "Keras's graph forward) beside what the verdict needs",
    )
    group.addoption("--backends", default=None, metavar="A,B", help="comma-separated backends to benchmark (default: all registered)")
    group.addoption(
        "--pairs",
        "--pair",
        dest="pairs",
        default=None,
        metavar="P,Q",
        help="comma-separated pairs to decide: built-in names (study, spatial, example) or pair files (.toml); default study,spatial",
    )
    group.addoption("--train-missing", action="store_true", default=False, help="train and cache weights that are not cached yet")
    group.addoption(
        "--offline", action="store_true", default=False, help="never download MNIST (as SEPBENCH_OFFLINE=1): fail, saying where it looked"
    )
    group.addoption(
        "--run-id",
        default=None,
        metavar="ID",
        help="the job this process belongs to (names its records file; default: a new one); nox -s bench passes its own",
    )
    group.addoption(
        "--pool-since",
        default="",
        metavar="UTC",
        help="records of a paired case started before this UTC time (ISO 8601) are not pooled with this run's (nox -s bench -- --fresh)",
    )
    group.addoption(
        "--inject-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="TEST ONLY: sleep this long in every timed call (proves the regression gate)",
    )


def option(config: pytest.Config, name: str, default: Any = None) -> Any:
    # tolerate being loaded as a non-initial conftest (e.g. `pytest tests`), where addoption never ran
    try:
        return config.getoption(name)
    except ValueError:
        return default


def read_options(config: pytest.Config) -> BenchOptions:
    """The options of this session, checked (:class:`pytest.UsageError` says what is wrong); sets nothing up."""
    from impls.registry import unavailable_reason
    from sepbench.machine.cpu_share import probe_free_cores
    from sepbench.machine.threads import usable_cores

    threads, free = option(config, "threads"), None
    if threads is None:  # as many threads as there are free cores, never more: measured, not assumed
        free = probe_free_cores()
        threads = free.threads
    elif threads < 1:
        raise pytest.UsageError(f"--threads must be >= 1, got {threads}")
    elif threads > usable_cores():
        raise pytest.UsageError(f"--threads {threads}: this process may use {usable_cores()} cores; more threads only wait on each other")
    try:
        names = select_backends(option(config, "backends"))
    except ValueError as exc:  # impls.registry.UnknownBackendError (impls is imported lazily: the report needs none of it)
        raise pytest.UsageError(f"--backends: {exc}") from None
    delay = float(option(config, "inject_delay", 0.0) or 0.0)
    if delay < 0:
        raise pytest.UsageError("--inject-delay must be >= 0 seconds")
    try:
        pairs = select_pairs(option(config, "pairs"))
    except PairError as exc:
        raise pytest.UsageError(f"--pairs: {exc}") from None
    unavailable = {b: r for b in names if (r := unavailable_reason(b)) is not None}
    quick = bool(option(config, "quick", False))
    full = bool(option(config, "full", False))
    if quick and full:
        raise pytest.UsageError("--quick and --full: choose one (the CI smoke set, or every case)")
    from sepbench.bench.record_writer import new_run_id

    run_id = option(config, "run_id") or new_run_id()
    if not RUN_ID.fullmatch(run_id):
        raise pytest.UsageError(f"--run-id {run_id!r}: letters, digits, '.', '_' and '-' only, at most 64")
    pool_since = option(config, "pool_since", "") or ""
    if pool_since and not ISO_UTC.fullmatch(pool_since):
        raise pytest.UsageError(f"--pool-since {pool_since!r}: a UTC time such as 2026-12-07T06:00:00.000000+00:00")
    return BenchOptions(
        storage=_benchmark_storage(option(config, "benchmark_storage")),
        run_id=run_id,
        pool_since=pool_since,
        threads=threads,
        free_cores=free,
        quick=quick,
        backends=names,
        unavailable=unavailable,
        train_missing=bool(option(config, "train_missing", False)),
        inject_delay=delay,
        full=full,
        timing=QUICK_TIMING if quick else (FULL_TIMING if full else DEFAULT_TIMING),
        verdict_timing=QUICK_VERDICT if quick else FULL_VERDICT,
        catalog=PathCatalog(unavailable),
        pairs=pairs,
    )


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# the form utc_now() writes (records compare start times as text: one form only)
ISO_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00")


PYTEST_BENCHMARK_DEFAULT_STORAGE = "file://./.benchmarks"


def _benchmark_storage(uri: Any) -> Path | None:
    """pytest-benchmark's ``--benchmark-storage`` as a folder (``file://PATH`` or a plain path; ``None``: another kind)."""
    if not isinstance(uri, str) or not uri or uri == PYTEST_BENCHMARK_DEFAULT_STORAGE:  # not given: results/bench
        return None
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    return None if "://" in uri else Path(uri)


def bench_options(config: pytest.Config) -> BenchOptions:
    """The options :func:`sepbench.bench.plugin.pytest_configure` stored for this session."""
    return config.stash[OPTIONS_KEY]
