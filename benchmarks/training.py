"""Training: the time of one epoch, and the test error rate the recipe reaches.

Both follow the one recipe (:mod:`sepbench.core.recipe`: same initial weights, batch order and update
rule in every backend).  The error rate is ``1 - accuracy`` so that, as ASV assumes, bigger is
worse.
"""

from __future__ import annotations

import numpy as np

from benchmarks import common


class TrainEpoch:
    """Seconds of one training epoch (recipe, batch 32) on a fixed subset of 2,048 training images.

    Includes building the model (and, for Keras, tracing the train step): what a user waits for.
    """

    param_names = ["backend", "model"]
    params = [common.all_backends(), common.MODELS]
    timer = staticmethod(common.timer())
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0
    timeout = 600

    def setup_cache(self) -> dict:
        from sepbench.core.data import load_mnist

        x, y = load_mnist("train")
        return {"x": x[: common.TRAIN_EPOCH_IMAGES].copy(), "y": y[: common.TRAIN_EPOCH_IMAGES].copy()}

    def setup(self, cache: dict, backend: str, model: str) -> None:
        from sepbench.training.trainers import TRAINER_MODULES

        if backend not in TRAINER_MODULES:  # an inference-only runtime (ONNX Runtime, LiteRT): nothing to time
            raise NotImplementedError(f"{backend} has no trainer")
        common.skip_unless_available(backend)
        common.use_threads(backend)

    def time_train_epoch(self, cache: dict, backend: str, model: str) -> None:
        from sepbench.training.trainers import train

        train(backend, model, cache["x"], cache["y"], seed=common.SEED, epochs=1)


class ErrorRate:
    """Test error rate (1 - accuracy on the 10,000 test images) after training with the recipe, in the
    backend's own trainer (an inference-only runtime runs the weights of :func:`trainer_for`: it
    tracks that its inference of trained weights stays right).

    The training budget is ``SEPBENCH_ASV_TRAIN_EPOCHS`` epochs of the first
    ``SEPBENCH_ASV_TRAIN_IMAGES`` training images (default: 1 epoch of all 60,000; the full recipe
    is 20 epochs and lives in ``sepbench reproduce``).  Trained once per commit in ``setup_cache``.
    """

    param_names = ["backend", "model"]
    params = [common.all_backends(), common.MODELS]
    timeout = 3600

    def setup_cache(self) -> dict:
        from impls.registry import get_backend
        from sepbench.core.data import load_mnist
        from sepbench.machine.threads import configure_threads
        from sepbench.measure.workloads import test_images
        from sepbench.training.trainers import train, trainer_for

        epochs, n_train = common.train_budget()
        x, y = load_mnist("train")
        x, y = x[:n_train], y[:n_train]
        x_test, y_test = test_images(common.TEST_IMAGES)
        backends = common.runnable_backends()
        configure_threads(common.threads(), backends)
        out: dict = common.skipped_in_cache()
        trained: dict = {}  # (trainer, model) -> weights: each trainer trains each model once
        for backend in backends:
            for model in common.MODELS:
                key = (trainer_for(backend), model)
                if key not in trained:
                    trained[key] = train(key[0], model, x, y, seed=common.SEED, epochs=epochs).weights
                probs = get_backend(backend).build(trained[key]).predict(x_test, 32)
                out[(backend, model)] = float(np.mean(np.argmax(probs, axis=1) != y_test))  # exact: errors / 10,000
        return out

    def setup(self, cache: dict, backend: str, model: str) -> None:
        self.error = common.cached(cache, backend, model)

    def track_error_rate(self, cache: dict, backend: str, model: str) -> float:
        return float(self.error)

    track_error_rate.unit = "fraction"
