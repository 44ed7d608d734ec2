"""``reproduce --seeds N``: each model trained with N seeds in the fastest trainer, for accuracy with an interval."""

from __future__ import annotations

from typing import Any

import numpy as np

from sepbench.core.recipe import Recipe
from sepbench.core.spec import get_model_spec
from sepbench.training.reproduce_options import ReproduceOptions
from sepbench.training.train_or_load import train_or_load


def seed_spread(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, opts: ReproduceOptions, recipe: Recipe) -> dict[str, Any]:
    """Each model trained with ``opts.seeds`` seeds in the fastest trainer (cached on the full data),
    evaluated on the test images: per-seed rows and :func:`sepbench.core.seed_stats.summarize_seeds`."""
    from impls.registry import get_backend
    from sepbench.core.claims import decide, not_comparable
    from sepbench.core.seed_stats import summarize_seeds
    from sepbench.core.study import STUDY
    from sepbench.training.trainers import shared_trainer

    trainer = shared_trainer()
    per_seed = []
    for seed in range(opts.seed, opts.seed + opts.seeds):
        for model in opts.models:
            t = train_or_load(trainer, get_model_spec(model).name, x, y, _with_seed(opts, seed), recipe)
            ev = get_backend("numpy").build(t["weights"]).evaluate(xt, yt, batch_size=1000)
            per_seed.append(
                {
                    "seed": seed,
                    "model": model,
                    "trainer": trainer,
                    "test_accuracy": ev.accuracy,
                    "test_loss": ev.loss,
                    "weights_source": t["source"],
                    "weights_sha256": t["weights"].fingerprint(),
                }
            )
    summary = summarize_seeds(per_seed, STUDY)
    subset = not_comparable(len(x), len(xt)).get("small_accuracy_cost")
    if subset and "claim" in summary:
        summary["claim"] = decide("small_accuracy_cost", None, not_comparable=subset).as_dict()
    return {"trainer": trainer, "seeds": list(range(opts.seed, opts.seed + opts.seeds)), "per_seed": per_seed, "summary": summary}


def _with_seed(opts: ReproduceOptions, seed: int) -> ReproduceOptions:
    from dataclasses import replace

    return replace(opts, seed=seed)
