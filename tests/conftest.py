"""Shared fixtures: real MNIST (from $SEPBENCH_MNIST_DIR or ../shared beside the repo) and backends."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from impls.registry import backend_names

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"

# CI passes a relative SEPBENCH_MNIST_DIR (../shared/data/mnist); tests that start subprocesses in
# other directories need it absolute.
if os.environ.get("SEPBENCH_MNIST_DIR"):
    os.environ["SEPBENCH_MNIST_DIR"] = str(Path(os.environ["SEPBENCH_MNIST_DIR"]).expanduser().resolve())
# tests never leave the machine: a download they did not arrange (with a mirror on 127.0.0.1) fails
# at once on a closed local port instead of reaching the internet
os.environ["SEPBENCH_MNIST_MIRRORS"] = "http://127.0.0.1:9/"
# the shared trainer is otherwise chosen by a probe that trains in every framework in the test's own
# process (TensorFlow's thread pools then cannot be set); the probe is tested on its own
os.environ.setdefault("SEPBENCH_TRAINER", "numpy")
# the fast paths' choices go to a record of this test session (one per session and machine user), never
# into the user's cache: a test measures its own choices, and the user's benchmark keeps its own
if "SEPBENCH_TUNING_FILE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    _tuning_dir = tempfile.mkdtemp(prefix="sepbench-tests-tuning-")
    atexit.register(shutil.rmtree, _tuning_dir, ignore_errors=True)  # made here, so removed here (workers inherit it)
    os.environ["SEPBENCH_TUNING_FILE"] = str(Path(_tuning_dir) / "tuning.json")


def _mnist_dir() -> Path | None:
    value = os.environ.get("SEPBENCH_MNIST_DIR")
    if value:
        return Path(value)
    return SHARED_MNIST if SHARED_MNIST.is_dir() else None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    directory = _mnist_dir()
    if directory is None:
        pytest.skip("MNIST not available: set SEPBENCH_MNIST_DIR to a directory holding the four canonical .gz files")
    return directory


@pytest.fixture(scope="session")
def test_subset(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first 2,000 real MNIST test images (float32 NHWC in [0, 1]) and labels."""
    from sepbench.core.data import load_mnist

    return load_mnist("test", mnist_dir, limit=2000)


def backend_or_skip(name: str):
    """The backend, or skip with the registry's reason (e.g. its framework is not installed)."""
    from impls.registry import BackendUnavailableError, get_backend

    try:
        return get_backend(name)
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))


BACKENDS = backend_names()  # the registry's: a backend added there is in every parity and round-trip test
MODELS = ["regular", "separable"]


def off_identity_weights(spec, seed: int):
    """Keras-style init with batch norms moved off the identity and biases non-zero (so a wrong fold or a
    lost bias shows): the compiled paths' parity tests."""
    import numpy as np

    from sepbench.core.weights import init_weights

    weights = init_weights(spec, seed)
    rng = np.random.default_rng(seed)
    for name, value in weights.tensors.items():
        if "_bn/" in name:
            weights.tensors[name] = (rng.random(value.shape) + 0.5).astype(np.float32)
        elif name.endswith("/bias"):
            weights.tensors[name] = rng.normal(0, 0.1, value.shape).astype(np.float32)
    return weights


def small_every_kind_layers() -> tuple:
    """One layer of every kind but the dense head, small enough for a 9x9x2 input: the compiled paths' tests
    (fused, halide) add their heads and register them under their own names."""
    from sepbench.core.spec import LayerSpec

    return (
        LayerSpec("conv", "conv", 4, 3),
        LayerSpec("conv_bn", "batch_norm"),
        LayerSpec("conv_relu", "relu"),
        LayerSpec("dw", "depthwise_conv", kernel=2),
        LayerSpec("dw_bn", "batch_norm"),
        LayerSpec("sep", "separable_conv", 6, 2),
        LayerSpec("spatial", "spatial_separable_conv", 5, 2, 2),
        LayerSpec("pool", "avg_pool", kernel=2, stride=1),
        LayerSpec("gap", "global_avg_pool"),
    )


def _every_kind_model():
    """A small model with each layer kind the built-in models lack (depthwise conv, batch norm after a
    conv, a depthwise and a pointwise conv, average pooling), so every parity, gradient and training
    test takes each kind through every backend.  A value, as a pair file's model is: it goes to the library
    functions as its :class:`ModelSpec` (they take a built-in model's name or a spec), never registered by name."""
    from sepbench.core.spec import LayerSpec, ModelSpec

    layers = (
        LayerSpec("stem", "conv", 8, 3, 2),
        LayerSpec("stem_bn", "batch_norm"),
        LayerSpec("stem_relu", "relu"),
        LayerSpec("depthwise", "depthwise_conv", kernel=3),
        LayerSpec("depthwise_bn", "batch_norm"),
        LayerSpec("depthwise_relu", "relu"),
        LayerSpec("pointwise", "conv", 16, 1),
        LayerSpec("pointwise_bn", "batch_norm"),
        LayerSpec("pool", "avg_pool", kernel=2, stride=2),
        LayerSpec("gap", "global_avg_pool"),
        LayerSpec("dense", "dense", 10, activation="softmax"),
    )
    return ModelSpec("every-kind", layers, (28, 28, 1), "tests: every layer kind")


EVERY_KIND_MODEL = _every_kind_model()
# every model a backend builds that classifies MNIST images (the parity tests use real images and argmax):
# the built-in ones by name, the every-kind one as its spec
MNIST_MODELS = ["regular", "separable", "spatial", EVERY_KIND_MODEL]


def model_name(model: object) -> str:
    """A model's name, given as a name or a :class:`ModelSpec`."""
    return getattr(model, "name", model)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A model given as its spec is named in test ids by its name (``every-kind``), as a built-in one is."""
    from sepbench.core.spec import ModelSpec

    return val.name if isinstance(val, ModelSpec) else None


@pytest.fixture(scope="session", autouse=True)
def _child_pytest_runs_are_not_xdist_workers():
    """Tests that run the benchmark suite in a child pytest pass it this process's environment; under
    ``pytest -n 2`` that includes ``PYTEST_XDIST_WORKER``, and pytest-benchmark then disables every
    benchmark in the child.  The variables only inform code of this worker, which needs none of them."""
    for var in [v for v in os.environ if v.startswith("PYTEST_XDIST_")]:
        os.environ.pop(var)
    yield


# The slowest files first (longest-first keeps the two workers' ends close): with `-n 2 --dist loadfile
# --no-loadscope-reorder` (nox -s tests) each file runs whole on one worker, handed out in collection order,
# so a long file that starts last leaves the other worker idle at the end.  Seconds per file on a loaded
# 2-core machine, 2026-11-30: test_asv 160, test_asv_suite 70, test_fast_paths 50, test_report 36,
# test_bench_gate 35, test_training 28, test_alert 25, test_identifiers 14, test_cli 14, test_history_archive
# 14, test_report_machines 13, test_backends 11; every other file under 10.
SLOWEST_FIRST = (
    "test_asv.py",
    "test_asv_suite.py",
    "test_fast_paths.py",
    "test_halide.py",  # about 80 s on 2 cores: Halide compiles two schedules per model shape (a second each)
    "test_report.py",
    "test_bench_gate.py",
    "test_training.py",
    "test_alert.py",
    "test_identifiers.py",
    "test_cli.py",
    "test_history_archive.py",
    "test_report_machines.py",
    "test_backends.py",
    "test_hostile_hangs_messages.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the order within a file is kept
