"""The measured workloads, defined once for pytest-benchmark, ASV and the CLI.

A workload is set up outside the timer (data loaded, model built and warmed up) and ``run()`` is
the timed part.  pytest-benchmark and ASV both call these, so a figure means the same in both.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sepbench.core.pair_data import FileData
from sepbench.core.pairs import STUDY_PAIR, Pair, data_for, load_split
from sepbench.core.recipe import TIMED_TRAIN_STEPS, WARM_STEPS
from sepbench.core.spec import get_model_spec
from sepbench.core.weights import PortableWeights, init_weights
from sepbench.results.schema import WORKLOAD_GRAPH_FORWARD, WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE, WORKLOAD_PAIRED_TRAIN
from sepbench.util.timer import time_calls

TEST_IMAGES = 10_000
LONG_CALL_S = 1.0  # seconds: a call this long is warm after one warm-up call


def weights_for(backend: str, model: str, seed: int = 0, allow_train: bool = False) -> tuple[PortableWeights, str]:
    """The trained weights every backend shares (made by the fastest trainer,
    :func:`sepbench.training.trainers.shared_trainer`) from the cache when present, else trained now
    if ``allow_train``, else seeded init.  ``backend`` is the one that will run them (any backend).

    Returns the weights and where they came from: ``"trained"`` or ``"seeded-init"`` (untrained:
    fine for latency, meaningless for accuracy).
    """
    from sepbench.training.trainers import shared_trainer
    from sepbench.training.weights_cache import load_trained_weights, train_and_cache

    trainer = shared_trainer()
    weights = load_trained_weights(model, trainer, seed=seed)
    if weights is None and allow_train:
        weights = train_and_cache(model, trainer, seed=seed)
    if weights is None:
        return init_weights(model, seed), "seeded-init"
    return weights, "trained"


def test_images(n: int, data_dir: str | None = None, model: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` test images (repeated when ``n`` exceeds the test set) and their labels: MNIST's, or
    those of ``model``'s pair file where it has its own data files."""
    x, y = _test_set(data_dir, data_for(model) if model is not None else None)
    if n <= len(x):
        return x[:n], y[:n]
    reps = -(-n // len(x))
    return np.tile(x, (reps, 1, 1, 1))[:n], np.tile(y, reps)[:n]


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


@dataclass
class PredictWorkload:
    """``predict`` of ``n_images`` test images at ``batch_size`` on one backend and model."""

    backend: str
    model: str
    batch_size: int
    n_images: int
    path: str = "default"
    seed: int = 0
    synthetic: bool = False  # seeded uniform images of the model's input shape (a synthetic pair): no labels, no accuracy
    weights_source: str = field(default="", init=False)
    info: dict[str, Any] = field(default_factory=dict, init=False)
    kind = "predict"  # the ``workload`` of its results

    def setup(
        self, data_dir: str | None = None, weights: PortableWeights | None = None, warmup: int = 2, allow_train: bool = False
    ) -> PredictWorkload:
        """Untimed: load weights (see :func:`weights_for`) and images, build the model, run ``warmup`` times."""
        from impls.registry import get_backend

        backend = get_backend(self.backend)
        if weights is None and self.synthetic:  # nothing to train on: speed and size only
            weights, self.weights_source = init_weights(self.model, self.seed), "seeded-init"
        elif weights is None:
            weights, self.weights_source = weights_for(self.backend, self.model, self.seed, allow_train=allow_train)
        else:
            self.weights_source = str(weights.meta.get("source", "given"))
        self.weights = weights
        self.instance = backend.build(weights)
        if self.synthetic:
            self.images, self.labels = synthetic_images(self.n_images, get_model_spec(self.model).input_shape, self.seed), None
        else:
            self.images, self.labels = test_images(self.n_images, data_dir, self.model)
        self._prepare()
        self.warmup_seconds: float | None = self._warm_up(warmup)
        spec = get_model_spec(self.model)
        self.info = {
            "backend": self.backend,
            "model": self.model,
            "batch_size": self.batch_size,
            "n_images": self.n_images,
            "path": self.path,
            "params": self.instance.count_params(),
            "macs_per_image": spec.macs,
            "weights_source": self.weights_source,
        }
        if self.path == "fast":  # measured per machine: record what was chosen
            self.info["fast_config"] = self.instance.fast_config()
        if self.path in type(self.instance).batch_free_paths:
            self.info["batch_free"] = True  # the path ignored batch_size: it ran in its own chunks
        return self

    def _warm_up(self, runs: int) -> float | None:
        """Up to ``runs`` untimed calls (tracing, first-call allocation, caches); wall seconds of the last.

        Stops after a call of :data:`LONG_CALL_S` or more: such a call reuses its own caches and
        buffers many times over, so a second warm-up call would only cost the case its time budget."""
        last = None
        for _ in range(runs):
            last = time_calls(self.run).last
            if last >= LONG_CALL_S:
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


@dataclass
class PairedPredictWorkload:
    """Candidate / baseline of a pair (the study's: separable / regular) on one backend path, measured in
    rounds: each ``run()`` is one round, which times both models on the same ``n_images`` images back
    to back, in a random order (seeded).  A shared machine's load drifts over seconds to minutes; two cases
    timed minutes apart can differ several-fold for the same work, while the two halves of one round
    see the same machine.  :meth:`run_adaptive` runs rounds until the "faster" claim is decided on
    the ratio's interval or the time budget is spent; :meth:`summary` gives each model's median, the
    per-round ratio's median and quartiles, and its 95 % interval (:func:`sepbench.core.intervals.paired_ratio`).
    """

    backend: str
    path: str = "fast"
    batch_size: int = 1024
    n_images: int = TEST_IMAGES
    seed: int = 0
    threads: int = 0  # compute threads of the run (0: this process's usable cores): what "busy" is judged against
    pair: Pair = STUDY_PAIR
    kind = WORKLOAD_PAIRED  # the ``workload`` of its results
    part = PredictWorkload  # the workload each model runs in a round
    claim = "faster"  # the claim whose interval stops the rounds

    @property
    def models(self) -> tuple[str, str]:
        """(baseline, candidate) model names."""
        return self.pair.model_names

    def _part(self, model: str) -> PredictWorkload:
        return self.part(self.backend, model, self.batch_size, self.n_images, path=self.path, seed=self.seed, synthetic=self.pair.synthetic)

    def setup(
        self, data_dir: str | None = None, warmup: int = 2, allow_train: bool = False, weights: dict[str, PortableWeights] | None = None
    ) -> PairedPredictWorkload:
        """Untimed: both models' workloads set up and warmed up (see :meth:`PredictWorkload.setup`;
        ``weights`` maps a model name to the weights to use instead of :func:`weights_for`'s)."""
        weights = weights or {}
        self.parts = {
            m: self._part(m).setup(data_dir=data_dir, weights=weights.get(m), warmup=warmup, allow_train=allow_train) for m in self.models
        }
        self.warmup_seconds = sum(p.warmup_seconds or 0.0 for p in self.parts.values()) or None
        self._start_rounds()
        return self

    def _start_rounds(self) -> None:
        """No rounds yet (after set-up)."""
        self.pairs: list[tuple[float, float]] = []  # (baseline s, candidate s) per round
        self.orders: list[str] = []  # which model ran first in each round
        self.stop_reason = ""
        self.outputs: dict[str, Any] = {}  # what each model's last run returned
        self._rng = np.random.default_rng(self.seed)
        # CPU readings at the first round's start and the last round's end: /proc/stat counts in clock
        # ticks (10 ms), too coarse for one round, fine over all of them
        self._cpu_first: Any = None
        self._cpu_last: Any = None

    def _time(self, model: str) -> tuple[float, Any]:
        """One model's share of a round: its seconds and what it returned."""
        timing = time_calls(self.parts[model].run)
        return timing.samples[0], timing.result

    @property
    def cores(self) -> int:
        from sepbench.machine.threads import usable_cores

        return usable_cores()

    @property
    def others_cores(self) -> float | None:
        """Cores other processes kept busy on average during the rounds (``None``: not readable here)."""
        from sepbench.machine.cpu_share import others_cores

        share = others_cores(self._cpu_first, self._cpu_last)
        return None if share is None else min(share, float(self.cores))

    def busy(self) -> str:
        """Why the rounds so far decide nothing (the machine was short of cores), or ``""``."""
        from sepbench.core.evidence import busy_reason

        return busy_reason(self.others_cores, self.cores, self.threads or self.cores)

    def run(self) -> None:
        """One round: both models on the images in a random order, wall seconds of each recorded in ``pairs``."""
        from sepbench.machine.cpu_share import sample

        order = list(self.models)
        self._rng.shuffle(order)
        seconds = {}
        if self._cpu_first is None:
            self._cpu_first = sample()
        for m in order:
            seconds[m], self.outputs[m] = self._time(m)
        self._cpu_last = sample()
        self.orders.append(order[0])
        self.pairs.append((seconds[self.models[0]], seconds[self.models[1]]))

    def run_adaptive(self, budget_s: float, min_rounds: int, max_rounds: int) -> str:
        """Rounds until the ratio's interval decides the "faster" claim (yes, NO or tie), ``budget_s``
        wall seconds are spent, or ``max_rounds`` ran; at least ``min_rounds``.  Checked at rounds
        spaced about 25 % apart, not after each one (fewer looks, fewer early stops on a lucky
        interval).  Returns and records why it stopped."""
        from sepbench.core.claims import decide
        from sepbench.core.intervals import paired_ratio

        start = time.perf_counter()
        check = max(2, min_rounds)
        while True:
            self.run()
            n = len(self.pairs)
            spent = time.perf_counter() - start
            if n >= max_rounds:
                self.stop_reason = f"{n} rounds, the most allowed"
                break
            if n >= check:
                check = max(n + 1, int(math.ceil(n * 1.25)))
                if n >= min_rounds and self.busy():  # more rounds would not make a short machine's answer the models'
                    self.stop_reason = f"the machine was busy: stopped after {n} rounds"
                    break
                base, cand = zip(*self.pairs)
                if decide(self.claim, paired_ratio(base, cand, seed=self.seed)).decided:
                    self.stop_reason = f"decided after {n} rounds"
                    break
            if n >= min_rounds and spent >= budget_s:
                self.stop_reason = f"time budget of {budget_s:g} s spent after {n} rounds"
                break
        return self.stop_reason

    def summary(self) -> dict[str, Any]:
        """Medians (seconds) of each model (``<model>_median_s``) and the per-round candidate / baseline
        ratio: median, q1, q3, and its 95 % interval (``ratio_low``, ``ratio_high``, ``ratio_method``,
        ``ratio_spread``)."""
        from sepbench.core.intervals import paired_ratio

        if not self.pairs:
            raise ValueError("no pairs measured yet: call run() first")
        base, cand = (np.array(v) for v in zip(*self.pairs))
        ratios = cand / base
        q1, median, q3 = (float(v) for v in np.percentile(ratios, [25, 50, 75]))
        est = paired_ratio(base, cand, seed=self.seed)
        return {
            f"{self.models[0]}_median_s": float(np.median(base)),
            f"{self.models[1]}_median_s": float(np.median(cand)),
            "ratio_median": median,
            "ratio_q1": q1,
            "ratio_q3": q3,
            "pairs": len(self.pairs),
            "ratio_estimate": est.value,
            "ratio_low": None if math.isnan(est.low) else est.low,
            "ratio_high": None if math.isnan(est.high) else est.high,
            "ratio_method": est.method,
            "ratio_spread": est.spread,
            "ratio_note": est.note,
            "others_cores": self.others_cores,
            "cores": self.cores,
            "threads": self.threads or self.cores,
            "busy": self.busy(),
        }

    def extra_info(self) -> dict[str, Any]:
        """The pytest-benchmark ``extra_info`` of this case (its own keys: there is no single model),
        every round's seconds included (``samples_s``: model -> list, ``first``: who ran first)."""
        info: dict[str, Any] = {
            "workload": self.kind,
            "pair": self.pair.name,
            "baseline": self.models[0],
            "candidate": self.models[1],
            "backend": self.backend,
            "path": self.path,
            "batch_size": self.batch_size,
            "n_images": self.n_images,
            "weights_source": {m: p.weights_source for m, p in self.parts.items()},
            "macs_per_image": {m: p.info["macs_per_image"] for m, p in self.parts.items()},
            **self.summary(),
            "samples_s": {m: [p[i] for p in self.pairs] for i, m in enumerate(self.models)},
            "first": list(self.orders),
            "stop_reason": self.stop_reason,
        }
        from sepbench.measure.extra_info import accuracy_of

        if not self.pair.synthetic:
            accuracy = {m: accuracy_of(out, self.parts[m].labels) for m, out in self.outputs.items()}
            if accuracy and all(a is not None for a in accuracy.values()):
                info["accuracy"] = accuracy  # the same images, the same weights: each model's accuracy
        first = self.parts[self.models[0]].info
        if "fast_config" in first:
            info["fast_config"] = {m: p.info["fast_config"] for m, p in self.parts.items()}
        if "batch_free" in first:
            info["batch_free"] = True
        return info


@dataclass
class PairedEvaluateWorkload(PairedPredictWorkload):
    """The study's measurement in paired rounds: each round a Keras-style ``evaluate`` (loss and
    accuracy) of the 10,000 test images at batch 32 by both models, in a random order."""

    path: str = "default"
    batch_size: int = 32
    kind = WORKLOAD_PAIRED_EVALUATE
    part = EvaluateWorkload

    def _part(self, model: str) -> PredictWorkload:
        return EvaluateWorkload(self.backend, model, self.batch_size, self.n_images, path=self.path, seed=self.seed)

    def setup(self, *args: Any, **kwargs: Any) -> PairedEvaluateWorkload:
        if self.pair.synthetic:  # refuse before any model is built
            raise ValueError(f"pair {self.pair.name!r} runs on synthetic input: there is no labelled test set to evaluate")
        super().setup(*args, **kwargs)
        return self


@dataclass
class TrainStepsPart:
    """One model's share of a paired training round: the recipe's training on ``TIMED_TRAIN_STEPS`` batches of
    MNIST training images, timed step by step (the trainer calls back after each optimizer step); the
    seconds of one step are the median over the steps after the first :data:`WARM_STEPS`."""

    trainer: str
    model: str
    images: np.ndarray
    labels: np.ndarray
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    weights_source: str = "seeded-init"  # training starts from the seeded initial weights
    warmup_seconds: float | None = None

    def run(self) -> float:
        from sepbench.training.trainers import train

        stamps: list[float] = []
        train(
            self.trainer,
            self.model,
            self.images,
            self.labels,
            seed=self.seed,
            epochs=1,
            on_step=lambda _loss: stamps.append(time.perf_counter()),
        )
        steps = np.diff(np.array(stamps[WARM_STEPS - 1 :]))
        return float(np.median(steps))


@dataclass
class PairedTrainWorkload(PairedPredictWorkload):
    """ "Trains faster": the same recipe on the same trainer for both models, in rounds (random order
    per round): each model trains :data:`TIMED_TRAIN_STEPS` steps of batch 32 from its seeded initial
    weights; its seconds per step (median after the warm-up steps) x the recipe's steps per epoch
    (1,875 for 60,000 images) is its epoch time, and the per-round candidate / baseline ratio of those
    decides the claim.  Equal steps, equal batch: the epoch-time ratio is the step-time ratio."""

    path: str = "train"
    batch_size: int = 32
    n_images: int = TIMED_TRAIN_STEPS * 32
    kind = WORKLOAD_PAIRED_TRAIN
    claim = "trains_faster"

    def setup(
        self, data_dir: str | None = None, warmup: int = 1, allow_train: bool = False, weights: dict[str, PortableWeights] | None = None
    ) -> PairedTrainWorkload:
        from sepbench.core.claims import FULL_TRAIN_IMAGES
        from sepbench.core.recipe import DEFAULT_RECIPE

        if self.pair.synthetic:
            raise ValueError(f"pair {self.pair.name!r} runs on synthetic input: there are no labels to train on")
        x, y = load_split(self.pair.baseline.name, "train", data_dir, limit=self.n_images)
        self.parts = {m: TrainStepsPart(self.backend, m, x, y, self.seed) for m in self.models}
        for part in self.parts.values():
            part.info = {"macs_per_image": get_model_spec(part.model).macs}
            for _ in range(warmup):
                part.run()
        files = data_for(self.pair.baseline.name)  # a pair's own data: its training set's size, not MNIST's
        train_images = FULL_TRAIN_IMAGES if files is None else len(files.load("train")[1])
        self.steps_per_epoch = -(-train_images // DEFAULT_RECIPE.batch_size)
        self.warmup_seconds = None
        self._start_rounds()
        return self

    def _time(self, model: str) -> tuple[float, Any]:
        """A model's epoch seconds (its median step time x the recipe's steps per epoch); no output."""
        return self.parts[model].run() * self.steps_per_epoch, None

    def extra_info(self) -> dict[str, Any]:
        info = super().extra_info()
        info.update(trainer=self.backend, steps_timed=TIMED_TRAIN_STEPS - WARM_STEPS, steps_per_epoch=self.steps_per_epoch)
        info["weights_source"] = {m: "seeded-init" for m in self.models}
        return info
