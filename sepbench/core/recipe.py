"""The one training recipe every backend follows, and the seeded batch order.

The study compiled its models with Keras's defaults and left the rest open (SEED_FACTS.md).  The
recipe fixes everything:

* optimizer: RMSprop, learning rate 0.001, rho 0.9, epsilon 1e-7, momentum 0, not centered
  (Keras's default ``keras.optimizers.RMSprop()``);
* update rule (``epsilon_placement``):

  - ``"keras3"`` (default): ``v = rho*v + (1-rho)*g**2;  w -= lr * g / sqrt(v + eps)``, epsilon
    INSIDE the root.  This is Keras 3.15's ``RMSprop.update_step`` (checked in
    ``keras/src/optimizers/rmsprop.py``: ``denominator = velocity + epsilon``, then
    ``lr * g / sqrt(denominator)``) and also TF 2.x's ``ApplyRMSProp`` kernel that the study's
    tf.keras used, so it is the study's rule.
  - ``"keras2"``: ``w -= lr * g / (sqrt(v) + eps)``, epsilon OUTSIDE the root, as standalone
    Keras <= 2.3 (and ``torch.optim.RMSprop``) had it.  A named variant so the difference can be
    shown, not guessed (``sepbench reproduce --variant keras2``).

  ``torch.optim.RMSprop`` is NOT used: its defaults (lr 0.01, alpha 0.99, eps 1e-8 outside the
  root) differ; PyTorch and NumPy apply the rule above by hand.
* loss: categorical cross-entropy computed from the logits of the final softmax (inside ``fit``,
  Keras 3 takes the softmax's ``_keras_logits`` and uses ``softmax_cross_entropy_with_logits``:
  no probability clipping), mean over the batch;
* batch size 32 (Keras's default), pixels scaled to [0, 1], float32;
* initial weights: :func:`sepbench.core.weights.init_weights` (Keras's glorot-uniform / zero bias)
  from the seed;
* batch order: :func:`batch_order` -- one seeded permutation of the training images per epoch,
  computed by the harness and fed to every backend (Keras gets the pre-permuted data and
  ``shuffle=False``), so every backend sees the same batches in the same order.

Epochs: 20, chosen from evidence: test accuracy after each epoch on the full data, both models
converged to within their epoch-to-epoch jitter by then (the table and how it was made:
``docs/training.md``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np

EpsilonPlacement = Literal["keras3", "keras2"]
EPSILON_PLACEMENTS: tuple[str, ...] = ("keras3", "keras2")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides training, apart from the seed and the backend."""

    optimizer: str = "rmsprop"
    learning_rate: float = 0.001
    rho: float = 0.9
    epsilon: float = 1e-7
    momentum: float = 0.0
    epsilon_placement: EpsilonPlacement = "keras3"
    loss: str = "categorical_crossentropy_from_logits"
    batch_size: int = 32
    epochs: int = 20
    pixel_scale: str = "[0,1]"
    init: str = "keras-glorot-uniform/zeros"
    batch_order: str = "pcg64(seed,epoch)-permutation-per-epoch"

    def __post_init__(self) -> None:
        if self.optimizer != "rmsprop":
            raise ValueError(f"recipe optimizer must be 'rmsprop' (the study's Keras default), got {self.optimizer!r}")
        if self.epsilon_placement not in EPSILON_PLACEMENTS:
            raise ValueError(f"epsilon_placement must be one of {EPSILON_PLACEMENTS}, got {self.epsilon_placement!r}")
        if self.momentum != 0.0:
            raise ValueError("momentum other than 0 is not implemented (the study used Keras's default, 0)")
        for name in ("learning_rate", "epsilon"):
            if not getattr(self, name) > 0:
                raise ValueError(f"recipe {name} must be > 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"recipe rho must lie in [0, 1), got {self.rho!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"recipe batch_size must be a positive integer, got {self.batch_size!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"recipe epochs must be a positive integer, got {self.epochs!r}")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (recorded in every result file and in the cache key)."""
        return asdict(self)

    def with_(self, **changes: Any) -> Recipe:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)

    @property
    def name(self) -> str:
        return f"rmsprop-{self.epsilon_placement}-lr{self.learning_rate:g}-bs{self.batch_size}-e{self.epochs}"


DEFAULT_RECIPE = Recipe()
KERAS2_RECIPE = Recipe(epsilon_placement="keras2")
VARIANTS: dict[str, Recipe] = {"keras3": DEFAULT_RECIPE, "keras2": KERAS2_RECIPE}


def batch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order (int64 indices into the ``n`` training images) of epoch ``epoch`` for ``seed``.

    A PCG64 stream seeded with ``(seed, epoch)``: independent of backend, of other epochs, and of
    the weight initializer's stream.
    """
    if n < 1:
        raise ValueError(f"need at least one training image, got n={n}")
    if epoch < 0 or seed < 0:
        raise ValueError(f"seed and epoch must be >= 0, got seed={seed}, epoch={epoch}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(epoch), 0x5E9B])))
    return rng.permutation(n).astype(np.int64)


def rmsprop_step(w: np.ndarray, v: np.ndarray, g: np.ndarray, recipe: Recipe) -> None:
    """One in-place RMSprop update of ``w`` and its velocity ``v`` (NumPy arrays, same dtype).

    ``keras3``: ``v = rho*v + (1-rho)*g^2; w -= lr*g/sqrt(v+eps)``;
    ``keras2``: ``w -= lr*g/(sqrt(v)+eps)``.  Arithmetic is done in ``w``'s dtype, in Keras's order.
    """
    dt = w.dtype.type
    v *= dt(recipe.rho)
    v += dt(1.0 - recipe.rho) * np.square(g)
    if recipe.epsilon_placement == "keras3":
        denom = np.sqrt(v + dt(recipe.epsilon))
    else:
        denom = np.sqrt(v) + dt(recipe.epsilon)
    w -= (dt(recipe.learning_rate) * g) / denom


# "trains faster" is timed on this many optimizer steps of each model per paired round (the first
# WARM_STEPS of each call are not timed: tracing and first-call allocations); equal steps of equal
# batches, so the ratio of step times is the ratio of epoch times
TIMED_TRAIN_STEPS = 40
WARM_STEPS = 8
TRAINERS: tuple[str, ...] = ("numpy", "tensorflow", "torch")  # the backends that train (inference runtimes do not)
