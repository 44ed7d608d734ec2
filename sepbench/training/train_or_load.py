"""One model's trained weights for a reproduce run: from the trained-weight cache on the full data, else trained now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sepbench.core.recipe import Recipe
from sepbench.training.reproduce_options import ReproduceOptions


def train_or_load(backend: str, model: str, x: np.ndarray, y: np.ndarray, opts: ReproduceOptions, recipe: Recipe) -> dict[str, Any]:
    from sepbench.training import weights_cache as trained
    from sepbench.training.trainers import train, trainer_for

    backend = trainer_for(backend)

    full = opts.limit is None
    if full and opts.use_cache:
        weights = trained.load_trained_weights(model, backend, opts.seed, recipe)
        if weights is not None:
            return {
                "weights": weights,
                "velocities": trained.load_trained_velocities(model, backend, opts.seed, recipe),
                "iterations": int(weights.meta.get("iterations", 0) or 0),
                "train_seconds": weights.meta.get("train_seconds"),
                "source": "cache",
                "trained_by": backend,
                "final_loss": weights.meta.get("final_loss"),
            }
    if full:
        trained.check_storable(model, backend, opts.seed, recipe)
    result = train(backend, model, x, y, recipe, seed=opts.seed, progress=opts.progress)
    if full:
        trained.store(result)
    return {
        "weights": result.weights,
        "velocities": result.velocities,
        "iterations": result.iterations,
        "train_seconds": result.seconds,
        "source": "trained",
        "trained_by": backend,
        "final_loss": float(result.step_losses[-1]) if len(result.step_losses) else None,
    }


def hdf5_bytes(trained_: dict[str, Any], recipe: Recipe, workdir: Path) -> int | None:
    from impls.registry import unavailable_reason

    if unavailable_reason("tensorflow") is not None:
        return None
    from impls.keras_h5 import save_h5_with_optimizer

    return save_h5_with_optimizer(trained_["weights"], trained_["velocities"], trained_["iterations"], recipe, workdir / "model.h5")
