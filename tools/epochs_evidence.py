"""Evidence for the recipe's epoch count: test accuracy and loss after each epoch (NumPy trainer,
full 60,000 / 10,000 MNIST, the default recipe, seed 0).  Output: one line per epoch and model,
and a JSON file (argv[2], default epochs_evidence.json).

    PYTHONPATH=. python tools/epochs_evidence.py 20
"""

from __future__ import annotations

import json
import sys

import numpy as np

from impls.numpy_backend import BACKEND
from impls.numpy_grad import loss_and_grads
from sepbench.core.data import load_mnist
from sepbench.core.recipe import DEFAULT_RECIPE, batch_order, rmsprop_step
from sepbench.core.weights import PortableWeights, init_weights


def main(max_epochs: int, out: str, seed: int = 0) -> None:
    x, y = load_mnist("train")
    xt, yt = load_mnist("test")
    recipe = DEFAULT_RECIPE
    results: dict[str, list[dict[str, float]]] = {}
    for model in ("regular", "separable"):
        init = init_weights(model, seed)
        params = {k: v.copy() for k, v in init.tensors.items()}
        vel = {k: np.zeros_like(v) for k, v in params.items()}
        rows = []
        for epoch in range(max_epochs):
            order = batch_order(seed, epoch, len(x))
            for i in range(0, len(order), recipe.batch_size):
                idx = order[i : i + recipe.batch_size]
                _, grads = loss_and_grads(init.spec, params, x[idx], y[idx])
                for k, g in grads.items():
                    rmsprop_step(params[k], vel[k], g, recipe)
            ev = BACKEND.build(PortableWeights(model, params)).evaluate(xt, yt, 32)
            rows.append({"epoch": epoch + 1, "test_accuracy": ev.accuracy, "test_loss": ev.loss})
            print(f"{model} epoch {epoch + 1}: acc {ev.accuracy:.4f} loss {ev.loss:.4f}", flush=True)
        results[model] = rows
    with open(out, "w") as fh:
        json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20, sys.argv[2] if len(sys.argv) > 2 else "epochs_evidence.json")
