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

A module whose per-step losses are not each batch's own mean says how it reads them in
``STEP_LOSS_READOUT`` (one of :data:`STEP_LOSS_READOUTS`; ``"per_batch"`` when absent), so that a
comparison of trainers can allow for the readout's own rounding (:func:`step_loss_readout_error`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


# "per_batch": the loss of each batch as the trainer computed it (NumPy, PyTorch); "running_mean": recovered
# from the epoch's running mean the framework reports after each batch (Keras's ``logs["loss"]``)
STEP_LOSS_READOUTS = ("per_batch", "running_mean")


def step_loss_readout_error(step_losses: np.ndarray, epoch_images: Sequence[int], batch_size: int, readout: str) -> np.ndarray:
    """A bound on the relative error of each reported step loss that comes from how it is read out, not
    from training (dimensionless, one per step; float32 arithmetic).

    ``"per_batch"``: 0 (the float32 rounding of the batch's own mean is the comparison's floor).
    ``"running_mean"``: Keras keeps an epoch's running mean as a float32 total over a count, and the
    loss of step k is recovered as ``(T_k - T_{k-1}) / b_k`` from the reported means (``T`` = count x
    mean).  Rounding the batch's weighted loss ``L_k b_k`` (exact for a power-of-two batch), the total's
    last addition and each of the two divisions costs at most half an ulp of ``L_k b_k``, ``T_k``, ``T_k``
    and ``T_{k-1}``: ``|error| <= eps (T_k + T_{k-1} + L_k b_k / 2) / b_k``, which grows with the step's
    place in its epoch (about 1e-5 relative after 100 steps) however exactly the model trained.
    """
    losses = np.asarray(step_losses, np.float64)
    if readout not in STEP_LOSS_READOUTS:
        raise ValueError(f"unknown step-loss readout {readout!r}; known: {', '.join(STEP_LOSS_READOUTS)}")
    if readout == "per_batch":
        return np.zeros_like(losses)
    bounds, start = [], 0
    for n in epoch_images:  # Keras starts each epoch's running mean afresh
        sizes = np.diff(np.minimum(np.arange(0, n + batch_size, batch_size), n)).astype(np.float64)
        epoch = losses[start : start + len(sizes)]
        start += len(sizes)
        totals = np.cumsum(epoch * sizes[: len(epoch)])
        before = np.concatenate([[0.0], totals[:-1]])
        bounds.append(np.finfo(np.float32).eps * (totals + before + epoch * sizes[: len(epoch)] / 2) / sizes[: len(epoch)])
    if start != len(losses):
        raise ValueError(f"{len(losses)} step losses for epochs of {list(epoch_images)} images in batches of {batch_size}")
    bound = np.concatenate(bounds) if bounds else np.zeros(0)
    return bound / np.abs(losses)


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Index arrays of the consecutive batches of one epoch."""
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
