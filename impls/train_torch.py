"""Training in PyTorch: the model of :func:`impls.torch_backend.build_module` (weights moved with
``TorchModel.set_weights``), autograd, and an RMSprop update written to match Keras 3 exactly::

    v = rho * v + (1 - rho) * g**2
    w -= lr * g / sqrt(v + eps)          # "keras3"; "keras2": lr * g / (sqrt(v) + eps)

``torch.optim.RMSprop`` is not used: it puts epsilon outside the root and defaults to
lr 0.01, alpha 0.99, eps 1e-8.  The loss is ``F.cross_entropy`` on the logits (mean over the batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from impls.torch_backend import TorchModel
from impls.train_common import StepCallback, TrainerOutput, batches
from sepbench.core.recipe import Recipe
from sepbench.core.weights import PortableWeights


@torch.no_grad()
def rmsprop_update(
    params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], velocities: Sequence[torch.Tensor], recipe: Recipe
) -> None:
    """In-place Keras-3 RMSprop step on every parameter (same operation order as Keras)."""
    for p, g, v in zip(params, grads, velocities):
        v.mul_(recipe.rho).add_((1.0 - recipe.rho) * torch.square(g))
        if recipe.epsilon_placement == "keras3":
            denom = torch.sqrt(v + recipe.epsilon)
        else:
            denom = torch.sqrt(v) + recipe.epsilon
        p.sub_((recipe.learning_rate * g) / denom)


def train_model(
    init: PortableWeights, x: np.ndarray, y: np.ndarray, recipe: Recipe, orders: Sequence[np.ndarray], on_step: StepCallback | None = None
) -> TrainerOutput:
    torch.use_deterministic_algorithms(True)
    model = TorchModel(init)
    module = model.module
    module.train()
    params = [p for p in module.parameters() if p.requires_grad]
    velocities = [torch.zeros_like(p) for p in params]
    xt, yt = torch.from_numpy(np.ascontiguousarray(x, np.float32)), torch.from_numpy(np.asarray(y, np.int64))
    losses: list[float] = []
    for order in orders:
        for idx in batches(order, recipe.batch_size):
            ti = torch.from_numpy(idx)
            logits = module(xt[ti])
            loss = F.cross_entropy(logits, yt[ti])
            grads = torch.autograd.grad(loss, params)
            rmsprop_update(params, grads, velocities, recipe)
            value = float(loss.detach())
            losses.append(value)
            if on_step is not None:
                on_step(value)
    module.eval()
    weights = model.get_weights()
    # velocities to the portable layout: load them into a twin module and export
    twin = TorchModel(init)
    with torch.no_grad():
        for p, v in zip(twin.module.parameters(), velocities):
            p.copy_(v)
    vel = twin.get_weights()
    for name in vel.tensors:
        if name.endswith(("/moving_mean", "/moving_variance")):  # running statistics: updated, not trained
            vel.tensors[name] = np.zeros_like(vel.tensors[name])
    vel.meta = {"kind": "rmsprop-velocity"}
    return TrainerOutput(weights, np.asarray(losses, np.float64), vel, len(losses))
