"""What every backend trainer (``impls/train_<backend>.py``) takes and returns.

A trainer module defines ``train_model(init, x, y, recipe, orders, on_step=None) -> TrainerOutput``:

* ``init``: the seeded initial :class:`PortableWeights`;
* ``x`` float32 NHWC images in [0, 1], ``y`` int64 labels;
* ``orders``: one index permutation per epoch (from :func:`sepbench.core.recipe.batch_order`); batch
  ``b`` of an epoch is ``order[b*bs:(b+1)*bs]`` (the last one may be shorter);
* ``on_step(loss)`` is called after each step (progress bars).

It returns the trained weights, the per-step training losses (mean cross-entropy of each batch,
nats, computed before that step's update) and the RMSprop velocities in portable layout (so the
Keras HDF5 file can carry real optimizer state whatever backend trained).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sepbench.core.weights import PortableWeights

StepCallback = Callable[[float], None]


@dataclass
class TrainerOutput:
    weights: PortableWeights
    step_losses: np.ndarray  # float64, one per step, nats
    velocities: PortableWeights  # RMSprop second-moment accumulators, Keras layout
    iterations: int  # optimizer steps taken


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Index arrays of the consecutive batches of one epoch."""
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
