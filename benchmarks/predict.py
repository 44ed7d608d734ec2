"""Inference: latency of one ``predict`` call, the fast path's time for the test set, and the peak
memory of predicting the test set.

The timed call is :meth:`sepbench.workloads.PredictWorkload.run`, the same as in the
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

    def _setup_workload(self, cache: dict, backend: str, model: str, batch_size: int, n_images: int, path: str = "default", warmup: int = 2) -> None:
        common.skip_unless_available(backend)
        common.use_threads(backend)
        from sepbench.workloads import PredictWorkload

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
