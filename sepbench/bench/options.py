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

from dataclasses import dataclass, field
from typing import Any

import pytest

from sepbench.bench.cases import PathCatalog, select_backends
from sepbench.core.pairs import Pair, PairError, select_pairs


@dataclass(frozen=True)
class Timing:
    """Round budget: timed rounds ~ ``target_s`` (seconds) / one run, clamped to [min_rounds, max_rounds]."""

    target_s: float
    min_rounds: int
    max_rounds: int


# 3 rounds at least: the table's medians and spreads; the verdicts come from the paired cases
FULL_TIMING = Timing(target_s=1.0, min_rounds=3, max_rounds=200)
QUICK_TIMING = Timing(target_s=0.3, min_rounds=3, max_rounds=30)


@dataclass(frozen=True)
class VerdictTiming:
    """Rounds of a paired case (the cases that decide "faster"): at least ``min_rounds``, then until the
    ratio's interval decides the claim, ``budget_s`` wall seconds are spent or ``max_rounds`` ran."""

    budget_s: float
    min_rounds: int
    max_rounds: int


# 6 rounds at least: a bootstrap of the median over fewer is a handful of order statistics
FULL_VERDICT = VerdictTiming(budget_s=12.0, min_rounds=6, max_rounds=60)
QUICK_VERDICT = VerdictTiming(budget_s=1.0, min_rounds=2, max_rounds=6)


@dataclass
class BenchOptions:
    """The session's options, and what the session learns as it runs (paths, roofline, weights sources)."""

    threads: int
    quick: bool
    backends: list[str]
    unavailable: dict[str, str]  # backend -> why it is skipped
    train_missing: bool
    inject_delay: float  # seconds, test-only
    timing: Timing
    verdict_timing: VerdictTiming = FULL_VERDICT
    catalog: PathCatalog = field(default_factory=lambda: PathCatalog({}))
    pairs: list[Pair] = field(default_factory=lambda: select_pairs(None))
    roofline: Any = None  # sepbench.measure.extra_info.Roofline, once probed
    weights_sources: dict[tuple[str, str], str] = field(default_factory=dict)  # (backend, model) -> "trained" / "seeded-init"
    free_cores: Any = None  # sepbench.machine.cpu_share.FreeCores: the probe that chose ``threads`` (None: --threads chose)

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
    return BenchOptions(
        threads=threads,
        free_cores=free,
        quick=quick,
        backends=names,
        unavailable=unavailable,
        train_missing=bool(option(config, "train_missing", False)),
        inject_delay=delay,
        timing=QUICK_TIMING if quick else FULL_TIMING,
        verdict_timing=QUICK_VERDICT if quick else FULL_VERDICT,
        catalog=PathCatalog(unavailable),
        pairs=pairs,
    )


def bench_options(config: pytest.Config) -> BenchOptions:
    """The options :func:`sepbench.bench.plugin.pytest_configure` stored for this session."""
    return config.stash[OPTIONS_KEY]
