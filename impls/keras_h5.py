"""The study's file-size figure: a Keras ``model.save("model.h5")`` that includes optimizer state.

Any backend's trained weights are loaded into the Keras model, which is compiled as the study did
(RMSprop from the recipe, categorical cross-entropy, 'acc').  The optimizer is built
(``optimizer.build(trainable_variables)``) and its state set to the backend's own RMSprop state
after training -- the velocities the trainer returned and the iteration count -- so the file holds
what the study's file held: weights plus optimizer weights.  (File size does not depend on the
values, only on the variables; the values are real anyway.)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from impls.tensorflow_backend import KerasModel, variable_name
from impls.train_tensorflow import compile_like_study
from sepbench.core.recipe import Recipe
from sepbench.core.weights import PortableWeights
from sepbench.util.atomic import atomic_path


def save_h5_with_optimizer(
    weights: PortableWeights, velocities: PortableWeights | None, iterations: int, recipe: Recipe, path: str | os.PathLike[str]
) -> int:
    """Write the Keras ``.h5`` (weights + RMSprop state) atomically; returns its size in bytes."""
    path = Path(path)
    if path.suffix != ".h5":
        raise ValueError(f"the study's file is HDF5 (.h5); got {path.name!r}")
    km = KerasModel(weights)
    model = km.model
    compile_like_study(model, recipe)
    opt = model.optimizer
    opt.build(model.trainable_variables)
    if velocities is not None:
        for layer in model.layers:
            for var in layer.trainable_weights:
                key = f"{layer.name}/{variable_name(layer, var)}"
                opt._velocities[opt._get_variable_index(var)].assign(np.asarray(velocities[key], np.float32))
    opt.iterations.assign(int(iterations))
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # the study's format is HDF5 on purpose: hush Keras's "legacy format" warning
    try:
        with atomic_path(path) as tmp:
            model.save(tmp)
    finally:
        absl.setLevel(level)
    return path.stat().st_size
