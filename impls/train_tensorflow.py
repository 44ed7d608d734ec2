"""Training in Keras 3 (TensorFlow), the study's way: ``compile`` with RMSprop, categorical
cross-entropy and accuracy, then ``fit``.

* The optimizer is ``keras.optimizers.RMSprop(learning_rate, rho, momentum=0, epsilon,
  centered=False)`` from the recipe (Keras 3.15's rule: epsilon inside the root).  The ``keras2``
  variant (epsilon outside the root) uses :class:`RMSpropEpsilonOutside`, a subclass that changes
  only the denominator.
* The loss is ``"categorical_crossentropy"`` on the softmax output with one-hot labels; inside
  ``fit`` Keras 3 takes the softmax's logits (``_keras_logits``), so no probability clipping.
* Batch order: for each epoch the harness's permutation is applied to the data here and
  ``fit(..., epochs=1, shuffle=False, batch_size=recipe.batch_size)`` runs over it.
* Determinism: ``keras.utils.set_random_seed(seed)`` and
  ``tf.config.experimental.enable_op_determinism()`` (process-wide; it also turns XLA off, and we
  pass ``jit_compile=False`` anyway, as TF 2.x tf.keras did by default).
* Per-step losses: Keras reports the running mean of the epoch in ``on_train_batch_end``, weighted
  by batch size; the per-step loss is recovered as ``(S_k*mean_k - S_{k-1}*mean_{k-1}) / b_k``
  (``S_k`` images seen, ``b_k`` this batch's size; float64 arithmetic on float32 means: relative
  error about 1e-7 * k, bounded by :func:`impls.train_common.step_loss_readout_error`).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from collections.abc import Sequence  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from impls.tensorflow_backend import KerasModel, variable_name  # noqa: E402
from impls.train_common import StepCallback, TrainerOutput  # noqa: E402
from sepbench.core.recipe import Recipe  # noqa: E402
from sepbench.core.spec import ModelSpec  # noqa: E402
from sepbench.core.weights import PortableWeights  # noqa: E402


class RMSpropEpsilonOutside(keras.optimizers.RMSprop):
    """RMSprop with standalone Keras <= 2.3's rule: ``w -= lr * g / (sqrt(v) + eps)`` (no momentum, not centered)."""

    def update_step(self, gradient, variable, learning_rate):  # type: ignore[override]
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        velocity = self._velocities[self._get_variable_index(variable)]
        rho = self.rho
        self.assign(velocity, ops.add(ops.multiply(rho, velocity), ops.multiply(1 - rho, ops.square(gradient))))
        increment = ops.divide(ops.multiply(lr, gradient), ops.add(ops.sqrt(velocity), self.epsilon))
        self.assign_sub(variable, increment)


def make_optimizer(recipe: Recipe) -> keras.optimizers.Optimizer:
    """The recipe's RMSprop as a Keras optimizer."""
    cls = keras.optimizers.RMSprop if recipe.epsilon_placement == "keras3" else RMSpropEpsilonOutside
    return cls(
        learning_rate=recipe.learning_rate, rho=recipe.rho, momentum=recipe.momentum, epsilon=recipe.epsilon, centered=False, name="rmsprop"
    )


def compile_like_study(model: keras.Model, recipe: Recipe) -> None:
    """The study's ``compile`` (loss, metric 'acc') with the recipe's optimizer."""
    model.compile(optimizer=make_optimizer(recipe), loss="categorical_crossentropy", metrics=["acc"], jit_compile=False)


def velocities_of(model: keras.Model, spec: ModelSpec) -> PortableWeights:
    """The optimizer's velocity for every trainable variable, in portable layout."""
    opt = model.optimizer
    tensors: dict[str, np.ndarray] = {}
    for layer in model.layers:
        for var in layer.trainable_weights:
            vel = opt._velocities[opt._get_variable_index(var)]
            tensors[f"{layer.name}/{variable_name(layer, var)}"] = np.asarray(vel.numpy(), np.float32)
    for name, shape in spec.tensor_shapes().items():  # a batch norm's moving statistics: not trained
        tensors.setdefault(name, np.zeros(shape, np.float32))
    return PortableWeights(spec, tensors, {"kind": "rmsprop-velocity"})


STEP_LOSS_READOUT = "running_mean"  # see the module docstring


class _StepLosses(keras.callbacks.Callback):
    def __init__(self, on_step: StepCallback | None, batch_size: int) -> None:
        super().__init__()
        self.on_step = on_step
        self.batch_size = batch_size
        self.epoch_images = 0
        self.losses: list[float] = []
        self._prev_total = 0.0

    def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001
        self._prev_total = 0.0

    def on_train_batch_end(self, batch, logs=None):  # noqa: ANN001
        seen = min((batch + 1) * self.batch_size, self.epoch_images)
        size = seen - batch * self.batch_size
        total = float(logs["loss"]) * seen
        loss = (total - self._prev_total) / size
        self._prev_total = total
        self.losses.append(loss)
        if self.on_step is not None:
            self.on_step(loss)


def train_model(
    init: PortableWeights,
    x: np.ndarray,
    y: np.ndarray,
    recipe: Recipe,
    orders: Sequence[np.ndarray],
    on_step: StepCallback | None = None,
    seed: int = 0,
) -> TrainerOutput:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    km = KerasModel(init)
    model = km.model
    compile_like_study(model, recipe)
    one_hot = np.eye(init.spec.num_classes, dtype=np.float32)[np.asarray(y)]
    cb = _StepLosses(on_step, recipe.batch_size)
    for order in orders:
        cb.epoch_images = len(order)
        model.fit(x[order], one_hot[order], batch_size=recipe.batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    weights = km.get_weights()
    return TrainerOutput(
        weights, np.asarray(cb.losses, np.float64), velocities_of(model, init.spec), int(model.optimizer.iterations.numpy())
    )
