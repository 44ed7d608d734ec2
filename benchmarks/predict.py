"""Inference: latency of one ``predict`` call, the fast path's time for the test set, the peak
memory of predicting the test set, and the separable / regular time ratio measured in pairs.

The timed call is :meth:`sepbench.measure.workloads.PredictWorkload.run`, the same as in the
pytest-benchmark suite (``tests/bench``), so a latency means the same thing in both.
"""

from __future__ import annotations

from benchmarks import common


class _SeededPredict:
    """Shared set-up: seeded weights cached once, a warmed ``PredictWorkload`` per parameter set."""

    timeout = 300

    def setup_cache(self) -> dict:
        """Seeded weights of both models (the workload loads the test images itself, once per process)."""
        return {"weights": common.seeded_weights()}

    def _setup_workload(
        self, cache: dict, backend: str, model: str, batch_size: int, n_images: int, path: str = "default", warmup: int = 2
    ) -> None:
        common.skip_unless_available(backend)
        common.use_threads(backend)
        from sepbench.measure.workloads import PredictWorkload

        self.workload = PredictWorkload(backend, model, batch_size=batch_size, n_images=n_images, path=path)
        self.workload.setup(weights=cache["weights"][model], warmup=warmup)


class PredictLatency(_SeededPredict):
    """Seconds of one ``predict`` call of one batch of 1, 32 or 10,000 MNIST test images."""

    param_names = ["backend", "model", "batch_size"]
    params = [common.all_backends(), common.MODELS, common.batch_sizes()]
    timer = staticmethod(common.timer())
    warmup_time = 0.5
    # A call of batch 1 (sub-millisecond, Python-overhead bound) varies by up to ~1.9x between
    # *processes* on a shared 2-core machine (NumPy: 207-410 us over twelve processes; batch 32:
    # +-2 %): sample more processes (rounds), fewer repeats each.
    rounds = 4
    repeat = (2, 5, 4.0)

    def setup(self, cache: dict, backend: str, model: str, batch_size: int) -> None:
        self._setup_workload(cache, backend, model, batch_size, batch_size)

    def time_predict(self, cache: dict, backend: str, model: str, batch_size: int) -> None:
        self.workload.run()


class PredictFast(_SeededPredict):
    """Seconds to predict the 10,000 MNIST test images on the backend's ``fast`` path (its own
    chunking, set up and warmed before timing): the history of each backend's fastest way, beside
    ``PredictLatency``'s plain idiom."""

    param_names = ["backend", "model"]
    params = [common.all_backends(), common.MODELS]
    timer = staticmethod(common.timer())
    warmup_time = 0.5
    rounds = 2
    repeat = (2, 5, 4.0)

    def setup(self, cache: dict, backend: str, model: str) -> None:
        self._setup_workload(cache, backend, model, 1024, common.TEST_IMAGES, path="fast")

    def time_predict_10k(self, cache: dict, backend: str, model: str) -> None:
        self.workload.run()


class PredictMemory(_SeededPredict):
    """Peak resident memory (bytes) of a process that predicts the 10,000 test images at batch 32."""

    param_names = ["backend", "model"]
    params = [common.all_backends(), common.MODELS]

    def setup(self, cache: dict, backend: str, model: str) -> None:
        self._setup_workload(cache, backend, model, 32, common.TEST_IMAGES, warmup=0)

    def peakmem_predict(self, cache: dict, backend: str, model: str) -> None:
        self.workload.run()


class SeparableRatio(_SeededPredict):
    """Separable / regular time of predicting the 10,000 test images on each backend path, measured
    in alternating pairs (:class:`sepbench.measure.paired_workloads.PairedPredictWorkload`; the median of the
    per-pair ratios): the study's "faster" claim as one number per commit and machine.  Below 1 the
    separable model is faster; bigger is worse for the claim, so a rise is flagged like a slowdown.
    """

    param_names = ["backend", "path"]
    params = [common.all_backends(), ["default", "fast"]]
    PAIRS = 6  # per sample; ASV's rounds add samples from fresh processes

    def setup(self, cache: dict, backend: str, path: str) -> None:
        common.skip_unless_available(backend)
        common.use_threads(backend)
        from sepbench.measure.paired_workloads import PairedPredictWorkload

        self.paired = PairedPredictWorkload(backend, path, batch_size=1024, n_images=common.TEST_IMAGES)
        self.paired.setup(weights=cache["weights"], warmup=1)

    def track_separable_ratio(self, cache: dict, backend: str, path: str) -> float:
        self.paired.pairs.clear()
        for _ in range(self.PAIRS):
            self.paired.run()
        return self.paired.summary()["ratio_median"]

    track_separable_ratio.unit = "ratio"  # type: ignore[attr-defined]
    # ASV keeps a result only while its benchmark's version (by default the hash of its source) is the
    # suite's: pinned to the hash its history was recorded under, since the workload's module moved
    # (sepbench.measure.workloads -> paired_workloads) without changing what it measures. A change of
    # what it measures changes this string, on purpose (tests/test_asv_history.py checks the two agree).
    track_separable_ratio.version = "49cc45b3bbcc33982f0a6a28b196a63cd55f45e4934c99db33a910785adbc8d6"  # type: ignore[attr-defined]


class PairRatio(_SeededPredict):
    """Candidate / baseline time of predicting the 10,000 test images for the pairs beyond the study's
    (``SEPBENCH_ASV_PAIRS``; the spatially separable pair by default), measured as ``SeparableRatio``
    measures the study's: alternating pairs of calls, the median of the per-pair ratios.  Bigger is
    worse for the pair's "faster" claim."""

    param_names = ["pair", "backend", "path"]
    params = [common.pairs(), common.all_backends(), ["default", "fast"]]
    PAIRS = 6

    def setup(self, cache: dict, pair: str, backend: str, path: str) -> None:
        common.skip_unless_available(backend)
        common.use_threads(backend)
        from sepbench.core.pairs import select_pairs
        from sepbench.core.weights import init_weights
        from sepbench.measure.paired_workloads import PairedPredictWorkload

        chosen = select_pairs([pair])[0]
        self.paired = PairedPredictWorkload(backend, path, batch_size=1024, n_images=common.TEST_IMAGES, pair=chosen)
        self.paired.setup(weights={m.name: init_weights(m, common.SEED) for m in chosen.models}, warmup=1)

    def track_pair_ratio(self, cache: dict, pair: str, backend: str, path: str) -> float:
        self.paired.pairs.clear()
        for _ in range(self.PAIRS):
            self.paired.run()
        return self.paired.summary()["ratio_median"]

    track_pair_ratio.unit = "ratio"  # type: ignore[attr-defined]
    # pinned to the hash its history was recorded under: the seeded weights are now made from the pair's own
    # models (a pair is a value: a pair file's models are not found by name), which changes no figure
    track_pair_ratio.version = "413ded3bdff56d68cc8eefd973bedb45a449d4c7dd62f90adbe63c77f640e87a"  # type: ignore[attr-defined]
