"""Options, thread set-up, parametrization and machine info for the pytest-benchmark suite.

Run by ``nox -s bench`` (``pytest tests/bench ...``); the unit tests (``nox -s tests``) ignore it.
Options: ``--threads N`` (default: all usable cores, applied identically to every backend before
TensorFlow runs an op), ``--quick`` (CI smoke: fewer cases and rounds), ``--backends a,b``,
``--train-missing`` (train weights that are not cached instead of timing seeded-init ones) and the
test-only ``--inject-delay SECONDS`` that the regression-gate test uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from sepbench.core.spec import model_names

LATENCY_BATCHES = (1, 32, 10_000)  # predict of one batch of this many images
TEN_K_BATCHES = (32, 1024)  # predict of 10,000 images in batches of this size ("the fastest way" candidates)
QUICK_LATENCY_BATCHES = (1, 32)
QUICK_TEN_K_BATCHES = (1024,)
TEN_K = 10_000


@dataclass(frozen=True)
class Timing:
    """Round budget: timed rounds ~ ``target_s`` / one run, clamped to [min_rounds, max_rounds]."""

    target_s: float
    min_rounds: int
    max_rounds: int


FULL_TIMING = Timing(target_s=2.0, min_rounds=5, max_rounds=200)
QUICK_TIMING = Timing(target_s=0.3, min_rounds=3, max_rounds=30)


@dataclass
class BenchOptions:
    threads: int
    quick: bool
    backends: list[str]
    unavailable: dict[str, str]  # backend -> why it is skipped
    train_missing: bool
    inject_delay: float  # seconds, test-only
    timing: Timing
    paths: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (backend, model) -> inference paths
    batch_free: set[tuple[str, str, str]] = field(default_factory=set)  # (backend, model, path) whose work ignores batch_size
    roofline: Any = None  # sepbench.measure.extra_info.Roofline, once probed


OPTIONS_KEY = pytest.StashKey[BenchOptions]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sepbench", "sepbench benchmark suite (tests/bench)")
    group.addoption("--threads", type=int, default=None, metavar="N", help="compute threads for every backend (default: all usable cores)")
    group.addoption("--quick", action="store_true", default=False, help="CI smoke run: fewer cases and rounds (< 3 min on 2 cores)")
    group.addoption("--backends", default=None, metavar="A,B", help="comma-separated backends to benchmark (default: all registered)")
    group.addoption("--train-missing", action="store_true", default=False, help="train and cache weights that are not cached yet")
    group.addoption(
        "--inject-delay", type=float, default=0.0, metavar="SECONDS", help="TEST ONLY: sleep this long in every timed call (proves the regression gate)"
    )


def _opt(config: pytest.Config, name: str, default: Any = None) -> Any:
    # tolerate being loaded as a non-initial conftest (e.g. `pytest tests`), where addoption never ran
    try:
        return config.getoption(name)
    except ValueError:
        return default


def pytest_configure(config: pytest.Config) -> None:
    from impls.registry import backend_names, unavailable_reason
    from sepbench.machine.threads import configure_threads, usable_cores

    threads = _opt(config, "threads")
    threads = usable_cores() if threads is None else threads
    if threads < 1:
        raise pytest.UsageError(f"--threads must be >= 1, got {threads}")
    requested = _opt(config, "backends")
    names = [b.strip() for b in requested.split(",") if b.strip()] if requested else backend_names()
    unknown = [b for b in names if b not in backend_names()]
    if unknown:
        raise pytest.UsageError(f"--backends: unknown backend(s) {', '.join(unknown)}; known: {', '.join(backend_names())}")
    delay = float(_opt(config, "inject_delay", 0.0) or 0.0)
    if delay < 0:
        raise pytest.UsageError("--inject-delay must be >= 0 seconds")
    unavailable = {b: r for b in names if (r := unavailable_reason(b)) is not None}
    available = [b for b in names if b not in unavailable]
    configure_threads(threads, backends=available)  # before TensorFlow runs any op
    quick = bool(_opt(config, "quick", False))
    config.stash[OPTIONS_KEY] = BenchOptions(
        threads=threads,
        quick=quick,
        backends=names,
        unavailable=unavailable,
        train_missing=bool(_opt(config, "train_missing", False)),
        inject_delay=delay,
        timing=QUICK_TIMING if quick else FULL_TIMING,
    )


def bench_options(config: pytest.Config) -> BenchOptions:
    return config.stash[OPTIONS_KEY]


def _paths(opts: BenchOptions, backend: str, model: str) -> tuple[str, ...]:
    """The model class's inference paths (so paths added to a backend are benchmarked automatically)."""
    key = (backend, model)
    if key not in opts.paths:
        if backend in opts.unavailable:
            opts.paths[key] = ("default",)
        else:
            from impls.registry import build_model

            cls = type(build_model(backend, model))
            opts.paths[key] = tuple(cls.paths)
            opts.batch_free.update({(backend, model, p) for p in cls.batch_free_paths})
    return opts.paths[key]


@dataclass(frozen=True)
class Case:
    """One benchmark: ``kind`` is "predict" (one batch), "predict-10k", "evaluate-10k",
    "graph-forward-10k" (TensorFlow only: the compute inside Keras's evaluate) or "paired-10k"
    (both models in alternation on one backend path, ``model`` = "pair": their time ratio)."""

    kind: str
    backend: str
    model: str
    path: str
    batch_size: int
    n_images: int

    @property
    def group(self) -> str:
        if self.kind == "paired-10k":
            return "separable/regular paired-10k"
        return f"{self.model} batch={self.batch_size}" if self.kind == "predict" else f"{self.model} {self.kind}"

    @property
    def id(self) -> str:
        return f"{self.backend}-{self.model}-{self.path}-b{self.batch_size}-n{self.n_images}"


PAIRED_BATCH = 1024  # the default path's batch size in the paired cases (batch-free paths ignore it)
PAIRED_MIN_ROUNDS = 10  # pairs at least: the ratio's quartiles need a few


def _cases(opts: BenchOptions, kind: str) -> list[Case]:
    cases = []
    if kind == "paired-10k":
        for backend in opts.backends:
            for path in _paths(opts, backend, "regular"):
                if not opts.quick or (backend, "regular", path) in opts.batch_free:  # quick: the fast paths only
                    cases.append(Case(kind, backend, "pair", path, PAIRED_BATCH, TEN_K))
        return cases
    for model in model_names():
        for backend in opts.backends:
            if kind == "evaluate-10k":
                cases.append(Case(kind, backend, model, "default", 32, TEN_K))
                continue
            if kind == "graph-forward-10k":
                if backend == "tensorflow":
                    cases.append(Case(kind, backend, model, "graph", 32, TEN_K))
                continue
            for path in _paths(opts, backend, model):
                batch_free = (backend, model, path) in opts.batch_free
                if kind == "predict":
                    batches = QUICK_LATENCY_BATCHES if opts.quick else LATENCY_BATCHES
                    # a batch-free path's one batch of 10,000 is its predict-10k case: not twice
                    cases += [Case(kind, backend, model, path, b, b) for b in batches if not (batch_free and b == TEN_K)]
                else:
                    batches = QUICK_TEN_K_BATCHES if opts.quick or batch_free else TEN_K_BATCHES
                    # a batch-free path ignores the batch size: one case, not the same timing repeated
                    # (the fastest of repeats of one measurement would be biased low)
                    cases += [Case(kind, backend, model, path, b, TEN_K) for b in batches]
    return cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    kind = {"predict_case": "predict", "predict_10k_case": "predict-10k", "evaluate_case": "evaluate-10k", "graph_forward_case": "graph-forward-10k",
            "paired_case": "paired-10k"}
    for fixture, k in kind.items():
        if fixture in metafunc.fixturenames:
            opts = bench_options(metafunc.config)
            params = []
            for case in _cases(opts, k):
                marks = [pytest.mark.skip(reason=opts.unavailable[case.backend])] if case.backend in opts.unavailable else []
                params.append(pytest.param(case, id=case.id, marks=marks))
            metafunc.parametrize(fixture, params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/bench" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.bench)


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def opts(request: pytest.FixtureRequest) -> BenchOptions:
    return bench_options(request.config)


@pytest.fixture(scope="session")
def roofline(opts: BenchOptions):
    """The machine's float32 GEMM FLOP/s and memory bandwidth, probed once in this session."""
    from sepbench.measure.extra_info import roofline as probe

    opts.roofline = probe()
    return opts.roofline


def _loadavg() -> float | None:
    import os

    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not available on this platform
        return None


def _delayed(fn: Callable[[], Any], seconds: float) -> Callable[[], Any]:
    def slow() -> Any:
        time.sleep(seconds)
        return fn()

    return slow


@pytest.fixture(scope="session")
def bench_data_dir() -> str:
    """MNIST as the library finds it ($SEPBENCH_MNIST_DIR, then the cache); skips every case, saying why, if absent."""
    from sepbench.core.data import MnistError, find_mnist_dir

    try:
        return str(find_mnist_dir())
    except MnistError as exc:
        pytest.skip(f"benchmarks need the MNIST test set: {exc}")


@pytest.fixture
def measure(benchmark, opts: BenchOptions, roofline, bench_data_dir: str) -> Callable[..., dict[str, Any]]:
    """``measure(case)``: set the workload up (untimed, with warm-up), time it, fill ``extra_info``."""
    from sepbench.measure.extra_info import choose_rounds, time_once, workload_extra_info
    from sepbench.measure.workloads import EvaluateWorkload, KerasGraphForwardWorkload, PairedPredictWorkload, PredictWorkload

    def run(case: Case) -> dict[str, Any]:
        if case.kind == "paired-10k":
            return run_paired(case)
        if case.kind == "evaluate-10k":
            workload: PredictWorkload = EvaluateWorkload(case.backend, case.model, case.batch_size, case.n_images)
        elif case.kind == "graph-forward-10k":
            workload = KerasGraphForwardWorkload(case.backend, case.model, case.batch_size, case.n_images)
        else:
            workload = PredictWorkload(case.backend, case.model, case.batch_size, case.n_images, path=case.path)
        workload.setup(data_dir=bench_data_dir, allow_train=opts.train_missing)
        fn = _delayed(workload.run, opts.inject_delay) if opts.inject_delay else workload.run
        t = opts.timing
        one_run = workload.warmup_seconds if workload.warmup_seconds is not None and not opts.inject_delay else time_once(fn)
        rounds = choose_rounds(one_run, t.target_s, t.min_rounds, t.max_rounds)
        benchmark.group = case.group
        load_before = _loadavg()
        output = benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0)
        median = benchmark.stats.stats.median if benchmark.stats is not None else None
        info = workload_extra_info(workload, median, output, roofline.gemm_flops)
        info["rounds"] = rounds
        # other processes competing for the cores (1-minute load average around the timing): judge noise by it
        info["loadavg_1m"] = [load_before, _loadavg()]
        info["threads"] = opts.threads
        if opts.inject_delay:
            info["injected_delay_s"] = opts.inject_delay
        benchmark.extra_info.update(info)
        _SOURCES.setdefault((case.backend, case.model), info["weights_source"])
        return info

    def run_paired(case: Case) -> dict[str, Any]:
        paired = PairedPredictWorkload(case.backend, case.path, case.batch_size, case.n_images)
        paired.setup(data_dir=bench_data_dir, allow_train=opts.train_missing)
        t = opts.timing
        rounds = choose_rounds(paired.warmup_seconds or time_once(paired.run), t.target_s, max(t.min_rounds, PAIRED_MIN_ROUNDS), t.max_rounds)
        benchmark.group = case.group
        load_before = _loadavg()
        benchmark.pedantic(paired.run, rounds=rounds, iterations=1, warmup_rounds=0)
        info = paired.extra_info()  # the benchmark's own stats are those of a whole pair
        # rounds actually run (one when benchmarks are disabled); at least PAIRED_MIN_ROUNDS otherwise
        info.update(rounds=len(paired.pairs), loadavg_1m=[load_before, _loadavg()], threads=opts.threads)
        benchmark.extra_info.update(info)
        return info

    return run


_SOURCES: dict[tuple[str, str], str] = {}


# ---- machine info and the closing note --------------------------------------------------------
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Add CPU model, usable cores, thread settings, versions, GPUs, the roofline probe and git state."""
    from impls.registry import get_backend
    from sepbench.measure.extra_info import roofline
    from sepbench.machine.provenance import cpu_model, git_info, gpu_info, package_versions
    from sepbench.machine.threads import thread_settings, usable_cores

    opts = config.stash.get(OPTIONS_KEY, None)
    versions: dict[str, Any] = {k: v for k, v in package_versions().items() if v is not None}
    for name in opts.backends if opts else []:
        if name not in opts.unavailable:
            versions.update(get_backend(name).versions())
    machine_info.update(
        cpu_model=cpu_model(),
        usable_cores=usable_cores(),
        threads=thread_settings(),
        versions=versions,
        gpus=gpu_info(),
        roofline=roofline().as_machine_info(),
        git=git_info(),
        sepbench={"quick": opts.quick, "threads": opts.threads, "backends": opts.backends, "unavailable": opts.unavailable} if opts else None,
    )


VOLATILE_MACHINE_KEYS = ("roofline", "git", "sepbench", "cpu")  # differ from run to run by nature (cpu: clock readings)


@pytest.hookimpl(hookwrapper=True)
def pytest_benchmark_compare_machine_info(config, benchmarksession, machine_info, compared_benchmark):
    """Warn in one line about machine differences that matter; ignore the run-to-run ones (roofline, git).

    pytest-benchmark's own check dumps both machine_info dicts whenever anything differs (the
    roofline always does) and crashes when the storage lies outside the working directory, so it
    is handed the current machine_info as the saved one once this check has run.
    """
    import json

    saved = compared_benchmark.get("machine_info") or {}
    current = json.loads(json.dumps(machine_info, default=str))  # as it would be saved (tuples become lists)
    differ = sorted(k for k in set(saved) | set(current) if k not in VOLATILE_MACHINE_KEYS and saved.get(k) != current.get(k))
    if differ:
        benchmarksession.logger.warning(f"the compared run was made on a different set-up; machine_info differs in: {', '.join(differ)}")
    compared_benchmark["machine_info"] = machine_info
    yield


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    opts = config.stash.get(OPTIONS_KEY, None)
    if opts is None:
        return
    write = terminalreporter.write_line
    terminalreporter.section("sepbench")
    write(f"threads: {opts.threads} for every backend" + (" (quick run)" if opts.quick else ""))
    if opts.roofline is not None:
        r = opts.roofline
        write(f"roofline: float32 GEMM {r.gemm_flops / 1e9:.1f} GFLOP/s, memory {r.mem_bandwidth / 1e9:.1f} GB/s (probe took {r.seconds:.1f} s)")
    for backend, why in opts.unavailable.items():
        write(f"skipped backend {backend}: {why}")
    seeded = sorted({f"{b}/{m}" for (b, m), s in _SOURCES.items() if s != "trained"})
    if seeded:
        write(
            f"weights: seeded init (untrained) for {', '.join(seeded)}: latency is valid, accuracy is not "
            "(cache trained weights first, or pass --train-missing)"
        )
    if opts.inject_delay:
        write(f"TEST ONLY: every timed call was slowed by {opts.inject_delay} s (--inject-delay)")

