"""``train(backend, model, x, y, ...)``: one recipe, any backend.

The harness does everything that must be the same across backends -- checks the data, draws the
initial weights (:func:`sepbench.core.weights.init_weights`) and the batch order of every epoch
(:func:`sepbench.core.recipe.batch_order`) from the seed -- and hands them to the backend's trainer
(``impls/train_<backend>.py``, imported only when used).  A tqdm bar shows progress.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sepbench.core.recipe import DEFAULT_RECIPE, Recipe, batch_order
from sepbench.core.spec import ModelSpec, get_model_spec
from sepbench.core.weights import PortableWeights, init_weights
from sepbench.util.timer import Timer

# the trainers, in the order tried when nothing else decides (the choice itself is measured per
# machine: sepbench.training.trainer_choice)
TRAINER_MODULES: dict[str, str] = {
    "numpy": "impls.train_numpy",
    "torch": "impls.train_torch",
    "tensorflow": "impls.train_tensorflow",
}


_CHOSEN: dict[tuple[str, str], str] = {}  # (cache dir, $SEPBENCH_TRAINER) -> trainer, for this process


def shared_trainer() -> str:
    """The fastest trainer on this machine, measured once and recorded
    (:func:`sepbench.training.trainer_choice.choose_trainer`): it trains the weights every backend's
    benchmarks share (the trainers agree step for step, tests/test_training.py, so one set serves all)."""
    import os

    from sepbench.training.trainer_choice import TRAINER_ENV_VAR, choose_trainer
    from sepbench.util.paths import cache_dir

    key = (str(cache_dir()), os.environ.get(TRAINER_ENV_VAR, ""))
    if key not in _CHOSEN:
        _CHOSEN[key] = choose_trainer().trainer
    return _CHOSEN[key]


def trainer_for(backend: str) -> str:
    """The backend whose trainer makes ``backend``'s weights in ``reproduce``: its own, or for an
    inference-only runtime (ONNX Runtime, LiteRT) :func:`shared_trainer`."""
    return backend if backend in TRAINER_MODULES else shared_trainer()


@dataclass
class TrainResult:
    """Trained weights and how they came about."""

    weights: PortableWeights
    step_losses: np.ndarray  # mean cross-entropy of each training batch before its update, nats
    seconds: float  # wall time of training (trainer call), seconds
    backend: str = ""
    model: str = ""
    seed: int = 0
    recipe: Recipe = DEFAULT_RECIPE
    velocities: PortableWeights | None = None  # RMSprop state after training (Keras layout)
    iterations: int = 0  # optimizer steps
    meta: dict[str, Any] = field(default_factory=dict)


def trainer_module(backend: str) -> Any:
    """The backend's trainer module; raises UnknownBackendError / BackendUnavailableError."""
    from impls.registry import get_backend

    get_backend(backend)  # checks the name and that the framework imports
    if backend not in TRAINER_MODULES:
        raise ValueError(f"backend {backend!r} has no trainer; trainers exist for {', '.join(TRAINER_MODULES)}")
    return importlib.import_module(TRAINER_MODULES[backend])


def check_training_data(model: str | ModelSpec, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 NHWC in [0, 1] (uint8 is scaled) and labels as int64; clear errors otherwise."""
    from impls.base import validate_images, validate_labels

    spec = get_model_spec(model)
    xs = validate_images(x, spec)
    return xs, validate_labels(y, len(xs), spec.num_classes)


def train(
    backend: str,
    model: str | ModelSpec,
    x: Any,
    y: Any,
    recipe: Recipe = DEFAULT_RECIPE,
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = False,
    on_step: Callable[[float], None] | None = None,
) -> TrainResult:
    """Train ``model`` in ``backend`` on ``(x, y)`` with ``recipe`` (``epochs`` overrides the recipe's);
    ``on_step(loss)`` is called after every optimizer step (what times a step)."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a sepbench.core.recipe.Recipe, got {type(recipe).__name__}")
    if epochs is not None:
        recipe = recipe.with_(epochs=epochs)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    spec = get_model_spec(model)
    module = trainer_module(backend)
    xs, ys = check_training_data(spec, x, y)
    init = init_weights(spec, int(seed))
    orders = [batch_order(int(seed), e, len(xs)) for e in range(recipe.epochs)]
    steps = sum(-(-len(o) // recipe.batch_size) for o in orders)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"train {backend}/{spec.name}", unit="step", mininterval=0.5, leave=True)

        caller = on_step

        def on_step(loss: float) -> None:
            bar.update(1)
            if bar.n % 200 == 0:
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            if caller is not None:
                caller(loss)

    kwargs: dict[str, Any] = {}
    if "seed" in inspect.signature(module.train_model).parameters:
        kwargs["seed"] = int(seed)
    try:
        with Timer() as clock:
            out = module.train_model(init, xs, ys, recipe, orders, on_step, **kwargs)
    finally:
        if bar is not None:
            bar.close()
    weights = out.weights
    weights.meta = {"trained": True, "backend": backend, "seed": int(seed), "recipe": recipe.name, "train_images": len(xs)}
    return TrainResult(weights, out.step_losses, clock.seconds, backend, spec.name, int(seed), recipe, out.velocities, out.iterations)
