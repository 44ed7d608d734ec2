"""Shared settings of the ASV suite, read from the environment so CI and tests can narrow it.

Nothing here imports a framework: ASV imports every module of the suite to discover benchmarks,
and a framework is imported only in ``setup`` / ``setup_cache`` of a benchmark that needs it.

Environment variables (all optional):

``SEPBENCH_ASV_BACKENDS``  comma-separated backends to run (default: every registered one; the
                           others are skipped). A backend whose framework is missing is skipped
                           with the reason.
``SEPBENCH_ASV_THREADS``   compute threads for every backend (default 1: the most repeatable
                           history on a shared machine).
``SEPBENCH_ASV_TIMER``     ``wall`` (default, ``time.perf_counter``) or ``cpu``
                           (``time.process_time``: less sensitive to other processes on a loaded
                           machine; the CPU seconds of all threads).
``SEPBENCH_ASV_BATCHES``   batch sizes of ``PredictLatency`` (default ``1,32,10000``, the latency
                           batches of ``sepbench.bench.cases``); narrower lists
                           are for smoke tests only (a history should keep one list).
``SEPBENCH_ASV_TEST_IMAGES`` test images of the 10,000-image benchmarks (default 10,000, the test
                           set); fewer are for smoke tests only (every code path runs, on less data).
``SEPBENCH_ASV_PAIRS``     the pairs of ``PairRatio`` (comma-separated built-in pair names or pair
                           files; default ``spatial``: every built-in pair on MNIST but the study's,
                           whose ratio ``SeparableRatio`` keeps under its old name).
``SEPBENCH_ASV_TRAIN_EPOCHS`` / ``SEPBENCH_ASV_TRAIN_IMAGES``  the training budget behind the
                           tracked error rate (default 1 epoch of all 60,000 training images;
                           20 epochs is the full recipe of ``sepbench reproduce``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from sepbench.bench import cases
from sepbench.core.weights import PortableWeights, init_weights

# the models, batch sizes and test-set size of the pytest-benchmark suite's case matrix, defined once there
MODELS: list[str] = list(cases.ASV_MODELS)
SEED = 0
TEST_IMAGES = int(os.environ.get("SEPBENCH_ASV_TEST_IMAGES") or cases.TEST_IMAGES)
if not 1 <= TEST_IMAGES <= cases.TEST_IMAGES:
    raise ValueError(f"SEPBENCH_ASV_TEST_IMAGES must be 1..{cases.TEST_IMAGES}, got {TEST_IMAGES}")
TRAIN_EPOCH_IMAGES = 2_048  # the fixed subset timed by TrainEpoch: 64 steps of batch 32


def all_backends() -> list[str]:
    from impls.registry import backend_names

    return list(backend_names())


def selected_backends() -> list[str]:
    """Backends this run covers (``SEPBENCH_ASV_BACKENDS``), checked against the registry."""
    try:
        return cases.select_backends(os.environ.get("SEPBENCH_ASV_BACKENDS"))
    except ValueError as exc:  # impls.registry.UnknownBackendError
        raise ValueError(f"SEPBENCH_ASV_BACKENDS: {exc}") from None


def batch_sizes() -> list[int]:
    """Batch sizes of ``PredictLatency`` (images): ``SEPBENCH_ASV_BATCHES``, else the suites' latency batches."""
    raw = os.environ.get("SEPBENCH_ASV_BATCHES", ",".join(map(str, cases.LATENCY_BATCHES)))
    try:
        sizes = [int(b) for b in raw.split(",") if b.strip()]
    except ValueError:
        raise ValueError(f"SEPBENCH_ASV_BATCHES must be comma-separated positive integers, got {raw!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"SEPBENCH_ASV_BATCHES must be comma-separated positive integers, got {raw!r}")
    return sizes


def threads() -> int:
    raw = os.environ.get("SEPBENCH_ASV_THREADS", "1")
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"SEPBENCH_ASV_THREADS must be a positive integer, got {raw!r}") from None
    if n < 1:
        raise ValueError(f"SEPBENCH_ASV_THREADS must be >= 1, got {n}")
    return n


def timer() -> Callable[[], float]:
    """The clock of every ``time_*`` benchmark (seconds)."""
    kind = os.environ.get("SEPBENCH_ASV_TIMER", "wall")
    if kind == "wall":
        return time.perf_counter
    if kind == "cpu":
        return time.process_time
    raise ValueError(f"SEPBENCH_ASV_TIMER must be 'wall' or 'cpu', got {kind!r}")


def train_budget() -> tuple[int, int]:
    """(epochs, training images) behind the tracked error rate."""
    epochs = int(os.environ.get("SEPBENCH_ASV_TRAIN_EPOCHS", "1"))
    images = int(os.environ.get("SEPBENCH_ASV_TRAIN_IMAGES", "60000"))
    if epochs < 1 or not 1 <= images <= 60_000:
        raise ValueError("SEPBENCH_ASV_TRAIN_EPOCHS must be >= 1 and SEPBENCH_ASV_TRAIN_IMAGES in 1..60000")
    return epochs, images


def skip_reason(backend: str) -> str | None:
    """Why this run does not cover ``backend`` (not selected, or its framework does not import), else ``None``."""
    from impls.registry import unavailable_reason

    if backend not in selected_backends():
        return f"{backend}: not selected (SEPBENCH_ASV_BACKENDS)"
    reason = unavailable_reason(backend)
    return f"{backend}: {reason}" if reason else None


def skip_unless_available(backend: str) -> None:
    """Skip this benchmark (ASV: raise ``NotImplementedError`` in setup) unless ``backend`` runs here."""
    reason = skip_reason(backend)
    if reason:
        raise NotImplementedError(reason)


def skipped_in_cache() -> dict[tuple[str, str], str]:
    """``setup_cache`` entries for the backends this run does not cover: (backend, model) -> why.

    A ``track_*`` that only reads its ``setup_cache`` then skips with that reason through :func:`cached`
    instead of importing the framework again in each of its processes (TensorFlow: seconds each).
    """
    reasons = {b: skip_reason(b) for b in all_backends()}
    return {(b, m): why for b, why in reasons.items() if why for m in MODELS}


def use_threads(backend: str) -> None:
    """Apply the run's thread count to NumPy's BLAS and ``backend`` (before it runs an op)."""
    from sepbench.machine.threads import configure_threads

    configure_threads(threads(), [backend])


DEFAULT_PAIRS = "spatial"


def pairs() -> list[str]:
    """The pairs ``PairRatio`` measures (``SEPBENCH_ASV_PAIRS``), each checked (a pair file is read now:
    a mistake stops the suite's discovery with its one-line error, not each benchmark)."""
    from sepbench.core.pairs import select_pairs

    names = [n.strip() for n in (os.environ.get("SEPBENCH_ASV_PAIRS") or DEFAULT_PAIRS).split(",") if n.strip()]
    try:
        select_pairs(names)
    except ValueError as exc:
        raise ValueError(f"SEPBENCH_ASV_PAIRS: {exc}") from None
    return names


def seeded_weights() -> dict[str, PortableWeights]:
    """Seeded Keras-default weights of every model (latency does not depend on their values)."""
    return {m: init_weights(m, SEED) for m in MODELS}


def runnable_backends() -> list[str]:
    """The selected backends whose framework imports here."""
    from impls.registry import available_backends

    return available_backends(selected_backends())


def cached(cache: dict[tuple[str, str], Any], backend: str, model: str) -> Any:
    """The ``setup_cache`` entry of (backend, model); skip when setup_cache could not make it."""
    if (backend, model) not in cache:
        raise NotImplementedError(f"{backend}/{model}: nothing cached (backend skipped in setup_cache)")
    value = cache[(backend, model)]
    if isinstance(value, str):  # why this run does not cover it (skipped_in_cache)
        raise NotImplementedError(value)
    return value
