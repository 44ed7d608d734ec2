"""The paired workloads: both models of a pair timed in rounds, back to back in a random order, so that
the two halves of a round see the same machine ("faster" and "trains faster" are decided on their ratio).

Each model's half of a round is one of :mod:`sepbench.measure.workloads`' single workloads (or, for
training, :class:`TrainStepsPart`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sepbench.core.data import TEST_IMAGES
from sepbench.core.pairs import STUDY_PAIR, Pair
from sepbench.core.recipe import TIMED_TRAIN_STEPS, WARM_STEPS
from sepbench.core.spec import ModelSpec
from sepbench.core.weights import PortableWeights
from sepbench.measure.workloads import EvaluateWorkload, PredictWorkload
from sepbench.results.schema import WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE, WORKLOAD_PAIRED_TRAIN
from sepbench.util.timer import time_calls


@dataclass
class PairedPredictWorkload:
    """Candidate / baseline of a pair (the study's: separable / regular) on one backend path, measured in
    rounds: each ``run()`` is one round, which times both models on the same ``n_images`` images back
    to back, in a random order (seeded).  A shared machine's load drifts over seconds to minutes; two cases
    timed minutes apart can differ several-fold for the same work, while the two halves of one round
    see the same machine.  :meth:`run_rounds` runs this process's rounds; :meth:`summary` gives each model's median, the
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
    claim = "faster"  # the claim the ratio decides

    @property
    def models(self) -> tuple[str, str]:
        """(baseline, candidate) model names."""
        return self.pair.model_names

    def _part(self, model: str) -> PredictWorkload:
        return self.part(
            self.backend,
            model,
            self.batch_size,
            self.n_images,
            path=self.path,
            seed=self.seed,
            synthetic=self.pair.synthetic,
            pair=self.pair,
        )

    def setup(
        self, data_dir: str | None = None, warmup: int = 1, allow_train: bool = False, weights: dict[str, PortableWeights] | None = None
    ) -> PairedPredictWorkload:
        """Untimed: both models' workloads set up and warmed up (see :meth:`PredictWorkload.setup`;
        ``weights`` maps a model name to the weights to use instead of :func:`sepbench.measure.workloads.weights_for`'s)."""
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
        self.others_per_round: list[float | None] = []  # cores other processes kept busy during each round
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
        from sepbench.machine.cpu_share import others_cores, sample

        order = list(self.models)
        self._rng.shuffle(order)
        seconds = {}
        before = sample()
        if self._cpu_first is None:
            self._cpu_first = before
        for m in order:
            seconds[m], self.outputs[m] = self._time(m)
        self._cpu_last = sample()
        share = others_cores(before, self._cpu_last)
        self.others_per_round.append(None if share is None else min(share, float(self.cores)))
        self.orders.append(order[0])
        self.pairs.append((seconds[self.models[0]], seconds[self.models[1]]))

    def run_rounds(self, budget_s: float, min_rounds: int, max_rounds: int) -> str:
        """This process's share of the case: at least ``min_rounds`` rounds, then more until ``budget_s``
        wall seconds are spent or ``max_rounds`` ran; fewer (``min_rounds``) once the machine was short of
        the cores the threads need.  No verdict is taken here: one process's rounds cannot say what
        another process would measure, so the rounds stop on time, not on their own interval (the
        verdict is computed over the processes' records).  Returns and records why it stopped."""
        start = time.perf_counter()
        while True:
            self.run()
            n = len(self.pairs)
            if n >= max_rounds:
                self.stop_reason = f"{n} rounds, the most allowed"
                break
            if n >= min_rounds and self.busy():  # more rounds would not make a short machine's answer the models'
                self.stop_reason = f"the machine was busy: stopped after {n} rounds"
                break
            if n >= min_rounds and time.perf_counter() - start >= budget_s:
                self.stop_reason = f"{n} rounds in the budget of {budget_s:g} s"
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
            "pixels": self.parts[self.models[0]].pixels,  # both models read the same images
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
        return EvaluateWorkload(self.backend, model, self.batch_size, self.n_images, path=self.path, seed=self.seed, pair=self.pair)

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
    model: ModelSpec
    images: np.ndarray
    labels: np.ndarray
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    weights_source: str = "seeded-init"  # training starts from the seeded initial weights
    pixels: str = "float32"  # the trainers read float32 images
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
        from sepbench.core.data import TRAIN_IMAGES
        from sepbench.core.recipe import DEFAULT_RECIPE

        if self.pair.synthetic:
            raise ValueError(f"pair {self.pair.name!r} runs on synthetic input: there are no labels to train on")
        x, y = self.pair.load_split("train", data_dir, limit=self.n_images)
        self.parts = {m.name: TrainStepsPart(self.backend, m, x, y, self.seed) for m in self.pair.models}
        for part in self.parts.values():
            part.info = {"macs_per_image": part.model.macs}
            for _ in range(warmup):
                part.run()
        files = self.pair.files  # a pair's own data: its training set's size, not MNIST's
        train_images = TRAIN_IMAGES if files is None else len(files.load("train")[1])
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
