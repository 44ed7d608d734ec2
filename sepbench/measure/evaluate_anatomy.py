"""Where the study's measurement goes: Keras's ``model.evaluate`` at batch 32, taken apart.

The study timed ``model.evaluate`` of the 10,000 test images (313 steps of 32).  In Keras that time
is Keras's own per-step loop (data adapter, iterator, step function dispatch, metric updates) plus
the model's compute at batch 32.  Two measurements separate them, on the same machine and thread
settings as the evaluate they explain:

- :func:`keras_graph_forward`: the model's forward pass as one ``tf.function``, called once
  per batch of 32 (313 calls, no Keras loop): the model's compute at the study's batch size;
- :func:`keras_evaluate_floor_seconds`: ``evaluate`` of a 784 -> 10 softmax regression (7,850
  parameters, 7,840 MACs per image: one GEMM per step, 6.7 % of the regular model's MACs) with the
  same data, batch size, loss and metric: what Keras's evaluate loop costs with next to no model.

TensorFlow is imported inside the functions.  All times are wall seconds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from sepbench.core.study import EVAL_BATCH_SIZE as STUDY_BATCH
from sepbench.core.study import evaluate_steps
from sepbench.util.timer import time_calls


def steps(n_images: int, batch_size: int = STUDY_BATCH) -> int:
    """Number of ``evaluate`` steps: ceil(n_images / batch_size) (313 for the study)."""
    return evaluate_steps(n_images, batch_size)


def keras_graph_forward(model: Any, images: np.ndarray, batch_size: int = STUDY_BATCH) -> Callable[[], list[Any]]:
    """A callable that runs the Keras model's forward as one traced ``tf.function`` once per batch.

    The batches are made into tensors beforehand (not timed) and the function is traced here, so
    the callable times the compute and the graph dispatch only.
    """
    import tensorflow as tf

    keras_model = getattr(model, "model", model)  # an impls KerasModel or a keras.Model
    graph = tf.function(lambda t: keras_model(t, training=False))
    batches = [tf.constant(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    for shape in {tuple(b.shape) for b in batches}:  # trace each batch shape (a short last batch) untimed
        graph(next(b for b in batches if tuple(b.shape) == shape))
    return lambda: [graph(b) for b in batches]


@functools.cache
def _softmax_regression(input_shape: tuple[int, ...], classes: int) -> Any:
    import keras

    model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(classes, activation="softmax")])
    model.compile(loss="categorical_crossentropy", metrics=["acc"])
    return model


def keras_evaluate_floor_seconds(
    images: np.ndarray, labels: np.ndarray, batch_size: int = STUDY_BATCH, reps: int = 3, classes: int = 10
) -> float:
    """Best-of-``reps`` wall seconds of Keras ``evaluate`` of a softmax regression on ``images``.

    Compiled as the study compiled its models (categorical cross-entropy, accuracy); one untimed
    evaluate first builds the step function.
    """
    model = _softmax_regression(tuple(images.shape[1:]), classes)
    one_hot = np.eye(classes, dtype=np.float32)[labels]
    return time_calls(lambda: model.evaluate(images, one_hot, batch_size=batch_size, verbose=0), repeat=reps, warmup=1).min
