"""The measured workloads, defined once for pytest-benchmark, ASV and the CLI.

A workload is set up outside the timer (data loaded, model built and warmed up) and ``run()`` is
the timed part.  pytest-benchmark and ASV both call these, so a figure means the same in both.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sepbench.core.data import TEST_IMAGES
from sepbench.core.pair_data import FileData
from sepbench.core.pairs import Pair, model_spec
from sepbench.core.pixels import as_pixel_bytes
from sepbench.core.spec import ModelSpec
from sepbench.core.weights import PortableWeights, init_weights
from sepbench.results.schema import WORKLOAD_GRAPH_FORWARD
from sepbench.util.timer import time_calls

LONG_CALL_S = 1.0  # seconds: a call this long is warm after one warm-up call


def weights_for(model: str | ModelSpec, seed: int = 0, allow_train: bool = False, pair: Pair | None = None) -> tuple[PortableWeights, str]:
    """The trained weights every backend shares (made by the fastest trainer,
    :func:`sepbench.training.trainers.shared_trainer`) from the cache when present, else trained now
    if ``allow_train``, else seeded init (every backend runs the same weights).  ``model`` is one of
    ``pair``'s (trained with its recipe on its data) where a pair is given, else a built-in model.

    Returns the weights and where they came from: ``"trained"`` or ``"seeded-init"`` (untrained:
    fine for latency, meaningless for accuracy).
    """
    from sepbench.training.trainers import shared_trainer
    from sepbench.training.weights_cache import load_trained_weights, train_and_cache

    trainer, spec = shared_trainer(), model_spec(model, pair)
    weights = load_trained_weights(spec, trainer, seed=seed, pair=pair)
    if weights is None and allow_train:
        weights = train_and_cache(spec, trainer, seed=seed, pair=pair)
    if weights is None:
        return init_weights(spec, seed), "seeded-init"
    return weights, "trained"


def test_images(n: int, data_dir: str | None = None, files: FileData | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` test images (repeated when ``n`` exceeds the test set) and their labels: MNIST's, or
    those of a pair's own data ``files``."""
    x, y = _test_set(data_dir, files)
    return _first(x, n), _first(y, n)


def test_image_bytes(n: int, data_dir: str | None = None, files: FileData | None = None) -> np.ndarray | None:
    """:func:`test_images`' images as bytes (:func:`sepbench.core.pixels.as_pixel_bytes`), for a path that
    reads bytes; ``None`` where they are not bytes.  Made once per process and data, so that every workload
    reads the same array, as the float32 images are shared (the two models of a paired round then read the
    same memory, whatever their type)."""
    whole = _test_set_bytes(data_dir, files)
    return None if whole is None else _first(whole, n)


def _first(a: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` rows of ``a``, repeated from the start where ``n`` exceeds it."""
    if n <= len(a):
        return a[:n]
    return np.tile(a, (-(-n // len(a)),) + (1,) * (a.ndim - 1))[:n]


def synthetic_images(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """``n`` seeded uniform float32 images in [0, 1) of ``shape`` (height, width, channels): the input of a
    synthetic pair, which decides speed and size only."""
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


@functools.cache
def _test_set(data_dir: str | None, files: FileData | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The whole test set (MNIST's, or ``files``'), loaded once per process and data (do not modify it)."""
    if files is not None:
        return files.load("test")
    from sepbench.core.data import load_mnist

    x, y = load_mnist("test", data_dir)
    return x, y


@functools.cache
def _test_set_bytes(data_dir: str | None, files: FileData | None = None) -> np.ndarray | None:
    """The whole test set as bytes, or ``None`` (once per process and data; do not modify it)."""
    return as_pixel_bytes(_test_set(data_dir, files)[0])


@dataclass
class PredictWorkload:
    """``predict`` of ``n_images`` test images at ``batch_size`` on one backend and model."""

    backend: str
    model: str  # a built-in model's name, or (with ``pair``) one of the pair's models
    batch_size: int
    n_images: int
    path: str = "default"
    seed: int = 0
    synthetic: bool = False  # seeded uniform images of the model's input shape (a synthetic pair): no labels, no accuracy
    pair: Pair | None = None  # the pair the model is of: its models, recipe and data (None: a built-in model on MNIST)
    weights_source: str = field(default="", init=False)
    pixels: str = field(default="float32", init=False)  # the images' type as given to the path: "float32" or "uint8"
    info: dict[str, Any] = field(default_factory=dict, init=False)
    kind = "predict"  # the ``workload`` of its results

    def setup(
        self, data_dir: str | None = None, weights: PortableWeights | None = None, warmup: int = 2, allow_train: bool = False
    ) -> PredictWorkload:
        """Untimed: load weights (see :func:`weights_for`) and images, build the model, run ``warmup`` times."""
        from impls.registry import get_backend

        backend, spec = get_backend(self.backend), model_spec(self.model, self.pair)
        files = None if self.pair is None else self.pair.files
        if weights is None and self.synthetic:  # nothing to train on: speed and size only
            weights, self.weights_source = init_weights(spec, self.seed), "seeded-init"
        elif weights is None:
            weights, self.weights_source = weights_for(spec, self.seed, allow_train=allow_train, pair=self.pair)
        else:
            self.weights_source = str(weights.meta.get("source", "given"))
        self.weights = weights
        self.instance = backend.build(weights)
        self.instance.data_files = files  # an int8 path calibrates on the pair's own training images
        if self.synthetic:
            self.images, self.labels = synthetic_images(self.n_images, spec.input_shape, self.seed), None
        else:
            self.images, self.labels = test_images(self.n_images, data_dir, files)
        reads_bytes = not self.synthetic and self.path in type(self.instance).uint8_paths
        as_bytes = test_image_bytes(self.n_images, data_dir, files) if reads_bytes else None
        if as_bytes is not None:  # the path reads bytes and scales them itself, as MNIST's own: the same probabilities (1e-6)
            self.images, self.pixels = as_bytes, "uint8"
        self._prepare()
        self.warmup_seconds: float | None = self._warm_up(warmup)
        self.info = {
            "backend": self.backend,
            "model": spec.name,
            "batch_size": self.batch_size,
            "n_images": self.n_images,
            "path": self.path,
            "params": self.instance.count_params(),
            "macs_per_image": spec.macs,
            "weights_source": self.weights_source,
            "pixels": self.pixels,  # the input type the path was given (sepbench.core.traffic.INPUT_BYTES)
        }
        config = self.instance.path_config(self.path)
        if config:  # measured or compiled per machine: record what was chosen (key kept from when only "fast" had one)
            self.info["fast_config"] = config
        if self.path in type(self.instance).batch_free_paths:
            self.info["batch_free"] = True  # the path ignored batch_size: it ran in its own chunks
        return self

    def _warm_up(self, runs: int) -> float | None:
        """Up to ``runs`` untimed calls (tracing, first-call allocation, caches); wall seconds of the last,
        which sets the case's rounds.

        Stops after a call of :data:`LONG_CALL_S` or more, except the first: such a call reuses its own
        caches and buffers many times over, so another warm-up call would only cost the case its time
        budget; but a first call also holds the one-time set-up (a compile, an autotune, a trace), and
        rounds chosen from it would be too few for a call of microseconds."""
        last = None
        for i in range(runs):
            last = time_calls(self.run).last
            if last >= LONG_CALL_S and i > 0:
                break
        return last

    def _prepare(self) -> None:
        """Untimed, after the model and images exist: anything ``run`` needs ready (subclasses)."""

    def run(self) -> np.ndarray:
        """The timed part."""
        return self.instance.predict(self.images, self.batch_size, path=self.path)


@dataclass
class EvaluateWorkload(PredictWorkload):
    """The study's measurement: a Keras-style ``evaluate`` (loss and accuracy) of the test images."""

    batch_size: int = 32
    n_images: int = TEST_IMAGES
    kind = "evaluate"

    def run(self):  # type: ignore[override]
        return self.instance.evaluate(self.images, self.labels, self.batch_size)


@dataclass
class KerasGraphForwardWorkload(PredictWorkload):
    """TensorFlow only: the model's forward as one ``tf.function`` called once per batch (313 calls
    of 32 for the study's evaluate), with no Keras loop around it: the compute inside the study's
    measurement.  ``setup`` also measures Keras's evaluate floor (``info["keras_evaluate_floor_s"]``,
    see :mod:`sepbench.measure.evaluate_anatomy`)."""

    batch_size: int = 32
    n_images: int = TEST_IMAGES
    path: str = "graph"
    kind = WORKLOAD_GRAPH_FORWARD

    def __post_init__(self) -> None:  # refuse before any model is built or data loaded
        if self.backend != "tensorflow":
            raise ValueError(f"the Keras graph forward needs the tensorflow backend, not {self.backend!r}")

    def _prepare(self) -> None:
        from sepbench.measure.evaluate_anatomy import keras_graph_forward

        self._batches = keras_graph_forward(self.instance, self.images, self.batch_size)

    def setup(self, *args: Any, **kwargs: Any) -> KerasGraphForwardWorkload:
        from sepbench.measure.evaluate_anatomy import steps

        super().setup(*args, **kwargs)
        self.info["keras_evaluate_floor_s"] = _keras_floor(self.images, self.labels, self.batch_size)
        self.info["steps"] = steps(self.n_images, self.batch_size)
        return self

    def run(self) -> np.ndarray:
        return np.concatenate([t.numpy() for t in self._batches()])


_FLOORS: dict[tuple[int, int], float] = {}


def _keras_floor(images: np.ndarray, labels: np.ndarray, batch_size: int) -> float:
    """Keras's evaluate floor for ``len(images)`` test images, measured once per process (seconds)."""
    key = (len(images), batch_size)
    if key not in _FLOORS:
        from sepbench.measure.evaluate_anatomy import keras_evaluate_floor_seconds

        _FLOORS[key] = keras_evaluate_floor_seconds(images, labels, batch_size)
    return _FLOORS[key]
