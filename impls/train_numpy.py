"""Training in NumPy: the backward pass of :mod:`impls.numpy_grad` and the recipe's RMSprop rule
(:func:`sepbench.core.recipe.rmsprop_step`), float32 throughout."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from impls.numpy_grad import loss_and_grads
from impls.train_common import StepCallback, TrainerOutput, batches
from sepbench.core.recipe import Recipe, rmsprop_step
from sepbench.core.weights import PortableWeights


def train_model(
    init: PortableWeights, x: np.ndarray, y: np.ndarray, recipe: Recipe, orders: Sequence[np.ndarray], on_step: StepCallback | None = None
) -> TrainerOutput:
    spec = init.spec
    params = {k: v.copy() for k, v in init.tensors.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    losses: list[float] = []
    for order in orders:
        for idx in batches(order, recipe.batch_size):
            moving: dict[str, np.ndarray] = {}  # a batch norm's statistics: updated, not trained
            loss, grads = loss_and_grads(spec, params, x[idx], y[idx], moving)
            for name, g in grads.items():
                rmsprop_step(params[name], velocity[name], g.astype(np.float32, copy=False), recipe)
            params.update(moving)
            losses.append(loss)
            if on_step is not None:
                on_step(loss)
    meta = dict(init.meta)
    return TrainerOutput(
        PortableWeights(spec, params, meta),
        np.asarray(losses, np.float64),
        PortableWeights(spec, velocity, {"kind": "rmsprop-velocity"}),
        len(losses),
    )
