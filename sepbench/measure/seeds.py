"""Accuracy over the training seeds that are cached (``sepbench reproduce --seeds N`` trains and caches
them): each seed's trained weights of both models evaluated on the 10,000 test images in NumPy, so the
main job can decide "a little accuracy" on the seeds' interval instead of one seed.
"""

from __future__ import annotations

from typing import Any

SEEDS_LOOKED_FOR = 50  # seeds looked for: 0 .. SEEDS_LOOKED_FOR - 1
MIN_SEEDS = 2  # an interval needs two


def cached_seeds() -> tuple[str, list[int]]:
    """The shared trainer and the seeds whose trained weights of every model it has cached (no loading)."""
    from sepbench.core.pairs import STUDY_PAIR
    from sepbench.training.trainers import shared_trainer
    from sepbench.training.weights_cache import cache_path

    trainer = shared_trainer()
    return trainer, [s for s in range(SEEDS_LOOKED_FOR) if all(cache_path(m, trainer, s).exists() for m in STUDY_PAIR.model_names)]


def cached_seed_accuracies(data_dir: str | None = None, batch_size: int = 1000) -> dict[str, Any]:
    """``{"trainer", "per_seed": [{seed, model, test_accuracy, test_loss, weights_sha256}]}`` for every seed
    whose trained weights of every model are in the cache (the shared trainer's, the default recipe)."""
    from impls.registry import get_backend
    from sepbench.core.data import load_mnist
    from sepbench.core.pairs import STUDY_PAIR
    from sepbench.training.trainers import shared_trainer
    from sepbench.training.weights_cache import load_trained_weights

    trainer = shared_trainer()
    models = list(STUDY_PAIR.model_names)
    x, y = load_mnist("test", data_dir)
    per_seed = []
    for seed in range(SEEDS_LOOKED_FOR):
        weights = {m: load_trained_weights(m, trainer, seed=seed) for m in models}
        if any(w is None for w in weights.values()):
            continue
        for model, w in weights.items():
            ev = get_backend("numpy").build(w).evaluate(x, y, batch_size=batch_size)
            per_seed.append(
                {"seed": seed, "model": model, "test_accuracy": ev.accuracy, "test_loss": ev.loss, "weights_sha256": w.fingerprint()}
            )
    return {"trainer": trainer, "per_seed": per_seed}
