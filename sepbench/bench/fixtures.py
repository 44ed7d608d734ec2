"""The suite's fixtures: the session's options, the roofline probe, the MNIST location and
``time_case(case)``, which sets a case's workload up (untimed), times it with pytest-benchmark and
fills ``extra_info``.  The measured work itself is :mod:`sepbench.measure.workloads`, shared with ASV.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from sepbench.bench.cases import PAIRED_KINDS, Case
from sepbench.bench.options import BenchOptions, bench_options


@pytest.fixture(scope="session")
def opts(request: pytest.FixtureRequest) -> BenchOptions:
    """The options of this benchmark session."""
    return bench_options(request.config)


@pytest.fixture(scope="session")
def roofline(opts: BenchOptions) -> Any:
    """The machine's float32 GEMM FLOP/s and memory bandwidth, probed once in this session."""
    from sepbench.measure.extra_info import roofline as probe

    opts.roofline = probe(all_sources=True)  # the floor from the machine, not one BLAS build
    return opts.roofline


@pytest.fixture(scope="session")
def bench_data_dir() -> str:
    """MNIST as the library finds it ($SEPBENCH_MNIST_DIR, then the cache); skips every case, saying why, if absent."""
    from sepbench.core.data import MnistError, find_mnist_dir

    try:
        return str(find_mnist_dir())
    except MnistError as exc:
        pytest.skip(f"benchmarks need the MNIST test set: {exc}")


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not available on this platform
        return None


def _delayed(fn: Callable[[], Any], seconds: float) -> Callable[[], Any]:
    def slow() -> Any:
        time.sleep(seconds)
        return fn()

    return slow


@pytest.fixture
def time_case(request: pytest.FixtureRequest, benchmark: Any, opts: BenchOptions, bench_data_dir: str) -> Callable[[Case], dict[str, Any]]:
    """``time_case(case)``: set the workload up (untimed, with warm-up), time it, fill ``extra_info``."""

    def run(case: Case) -> dict[str, Any]:
        if case.kind in PAIRED_KINDS:
            return _run_paired(benchmark, opts, bench_data_dir, case, request.node.nodeid)
        if case.kind == "seeds-accuracy":
            return _run_seeds(benchmark, opts, bench_data_dir, case)
        # the roofline probe only where a case uses it: a process of paired cases alone spends no time on it
        return _run_single(benchmark, opts, request.getfixturevalue("roofline"), bench_data_dir, case)

    return run


def _single_workload(case: Case, opts: BenchOptions) -> Any:
    """The workload of a case that times one model (a predict, the study-style evaluate, TensorFlow's graph forward)."""
    from sepbench.core.pairs import synthetic_model
    from sepbench.measure.workloads import EvaluateWorkload, KerasGraphForwardWorkload, PredictWorkload

    if case.kind == "evaluate-10k":
        return EvaluateWorkload(case.backend, case.model, case.batch_size, case.n_images, pair=case.pair)
    if case.kind == "graph-forward-10k":
        return KerasGraphForwardWorkload(case.backend, case.model, case.batch_size, case.n_images, pair=case.pair)
    synthetic = synthetic_model(case.model, opts.pairs)
    return PredictWorkload(case.backend, case.model, case.batch_size, case.n_images, path=case.path, synthetic=synthetic, pair=case.pair)


def _run_single(benchmark: Any, opts: BenchOptions, roofline: Any, data_dir: str, case: Case) -> dict[str, Any]:
    """One model's case: rounds chosen from one call's time, each round after a reference matmul (the gate divides by it)."""
    from sepbench.measure.extra_info import REFERENCE_KIND, reference_seconds, workload_extra_info
    from sepbench.util.timer import choose_rounds, time_once

    workload = _single_workload(case, opts)
    workload.setup(data_dir=data_dir, allow_train=opts.train_missing)
    fn = _delayed(workload.run, opts.inject_delay) if opts.inject_delay else workload.run
    t = opts.timing
    one_run = workload.warmup_seconds if workload.warmup_seconds is not None and not opts.inject_delay else time_once(fn)
    rounds = choose_rounds(one_run, t.target_s, t.min_rounds, t.max_rounds)
    benchmark.group = case.group
    load_before = _loadavg()
    reference: list[float] = []  # the machine's speed before each round (untimed): the gate divides by it
    from sepbench.machine.cpu_share import others_cores, own_cores, sample

    cpu_before = sample()  # the cores other processes kept busy while the rounds ran: the gate compares it
    output = benchmark.pedantic(fn, setup=lambda: reference.append(reference_seconds()), rounds=rounds, iterations=1, warmup_rounds=0)
    cpu_after = sample()
    others, own = others_cores(cpu_before, cpu_after), own_cores(cpu_before, cpu_after)
    median = benchmark.stats.stats.median if benchmark.stats is not None else None
    info = workload_extra_info(workload, median, output, roofline.gemm_flops)
    # other processes competing for the cores (1-minute load average around the timing): judge noise by it
    info.update(rounds=rounds, reference_s=reference, reference_kind=REFERENCE_KIND, loadavg_1m=[load_before, _loadavg()])
    info["others_cores"] = None if others is None else round(others, 3)
    # this process's cores over the same span, the reference matmuls (one thread) included: a case at 2
    # threads that used about 1 ran on one core, however quiet the others were
    info["own_cores"] = None if own is None else round(own, 3)
    info["threads"] = opts.threads
    if opts.inject_delay:
        info["injected_delay_s"] = opts.inject_delay
    benchmark.extra_info.update(info)
    opts.weights_sources.setdefault((case.backend, case.model), info["weights_source"])
    return info


def _run_paired(benchmark: Any, opts: BenchOptions, data_dir: str, case: Case, node: str) -> dict[str, Any]:
    """A paired case: this process's rounds (:meth:`~sepbench.measure.paired_workloads.PairedPredictWorkload.run_rounds`),
    all in one pytest-benchmark round (its stats time the whole loop, which is no model's latency: not read),
    and its record (the verdict is computed over every process's records)."""
    from sepbench.measure.extra_info import REFERENCE_KIND, reference_seconds
    from sepbench.measure.paired_workloads import PairedEvaluateWorkload, PairedPredictWorkload, PairedTrainWorkload

    start = time.perf_counter()
    cls = {"paired-evaluate-10k": PairedEvaluateWorkload, "paired-train": PairedTrainWorkload}.get(case.kind, PairedPredictWorkload)
    paired = cls(case.backend, case.path, case.batch_size, case.n_images, threads=opts.threads, pair=case.pair)
    paired.setup(data_dir=data_dir, allow_train=opts.train_missing)
    v = opts.verdict_timing
    benchmark.group = case.group
    load_before = _loadavg()
    reference: list[float] = []
    benchmark.pedantic(
        paired.run_rounds,
        args=(v.budget_s, v.min_rounds, v.max_rounds),
        setup=lambda: reference.append(reference_seconds()),
        rounds=1,
        iterations=1,
        warmup_rounds=0,
    )
    reference.append(reference_seconds())  # and after the rounds: the gate divides each model's time by the pair's mean
    info = paired.extra_info()
    info.update(rounds=len(paired.pairs), loadavg_1m=[load_before, _loadavg()], threads=opts.threads)
    info.update(reference_s=reference, reference_kind=REFERENCE_KIND, budget_s=v.budget_s, min_rounds=v.min_rounds, max_rounds=v.max_rounds)
    # wall_s (set-up included): what the case costs a process, which the process schedule budgets with
    extra = {"node": node, "accuracy": info.get("accuracy"), "wall_s": time.perf_counter() - start}
    record = _records(opts).add(paired, extra=extra, reference_s=reference)
    info.update(run_id=record.process.run_id, commit=record.identity.commit)
    benchmark.extra_info.update(info)
    return info


def _records(opts: BenchOptions) -> Any:
    """This process's :class:`~sepbench.bench.record_writer.RecordWriter` (made at the first paired case), writing
    beside pytest-benchmark's own storage (``--benchmark-storage``; else ``results/bench``)."""
    from sepbench.bench.record_writer import RecordWriter
    from sepbench.bench.storage import bench_storage
    from sepbench.machine.fingerprint import machine_name
    from sepbench.machine.provenance import REPO_ROOT
    from sepbench.util.git import code_identity

    if opts.records is None:
        storage = opts.storage or bench_storage()
        opts.records = RecordWriter(storage, machine_name(), opts.run_id, code_identity(REPO_ROOT), opts.pool_since)
    return opts.records


def _run_seeds(benchmark: Any, opts: BenchOptions, data_dir: str, case: Case) -> dict[str, Any]:
    """The cached seeds' accuracies (skipped, saying why, with fewer seeds than an interval needs)."""
    from sepbench.measure.seeds import MIN_SEEDS, cached_seed_accuracies, cached_seeds

    trainer, seeds = cached_seeds()
    if len(seeds) < MIN_SEEDS:
        pytest.skip(
            f"{len(seeds)} trained seed(s) cached for both models ({trainer} trainer): accuracy is decided on 1 seed; "
            "`nox -s reproduce` trains 5 seeds, and the next run decides on their interval"
        )
    found: dict[str, Any] = {}

    def evaluate() -> None:
        found.update(cached_seed_accuracies(data_dir, case.batch_size))

    benchmark.group = case.group
    benchmark.pedantic(evaluate, rounds=1, iterations=1, warmup_rounds=0)
    info = {"workload": "seeds", "backend": case.backend, "n_images": case.n_images, "threads": opts.threads, **found}
    benchmark.extra_info.update(info)
    return info
