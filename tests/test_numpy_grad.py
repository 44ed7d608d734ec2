"""NumPy backward pass: against central finite differences (float64) and PyTorch autograd."""

from __future__ import annotations

import numpy as np
import pytest

from impls.numpy_grad import forward, loss_and_grads, softmax_cross_entropy
from sepbench.core.spec import get_model_spec
from sepbench.core.weights import random_weights
from tests.conftest import MNIST_MODELS, backend_or_skip


def _batch(seed: int, n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(n, 28, 28, 1)), rng.integers(0, 10, size=n)


def _params64(model: str, seed: int) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float64) for k, v in random_weights(model, seed).tensors.items()}


@pytest.mark.parametrize("model", MNIST_MODELS)
def test_gradients_match_finite_differences_float64(model):
    spec = get_model_spec(model)
    params = _params64(model, 7)
    x, y = _batch(3)
    _, grads = loss_and_grads(spec, params, x, y)
    trained = {k for k in params if not k.endswith(("/moving_mean", "/moving_variance"))}  # a batch norm's statistics are not trained
    assert grads.keys() == trained
    rng = np.random.default_rng(0)
    h = 1e-6
    for name in [k for k in params if k in trained]:
        value = params[name]
        assert grads[name].shape == value.shape and grads[name].dtype == np.float64
        flat = value.reshape(-1)
        for i in rng.choice(flat.size, size=min(8, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            up, _ = softmax_cross_entropy(forward(spec, params, x, {})[0], y)  # training mode, as the gradients
            flat[i] = old - h
            down, _ = softmax_cross_entropy(forward(spec, params, x, {})[0], y)
            flat[i] = old
            numeric = (up - down) / (2 * h)
            analytic = grads[name].reshape(-1)[i]
            assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-8), f"{model} {name}[{i}]"


def test_softmax_cross_entropy_value_and_gradient():
    logits = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
    loss, grad = softmax_cross_entropy(logits, np.array([0, 2]))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert loss == pytest.approx(-(np.log(p[0, 0]) + np.log(p[1, 2])) / 2, rel=1e-12)
    expected = p.copy()
    expected[0, 0] -= 1
    expected[1, 2] -= 1
    np.testing.assert_allclose(grad, expected / 2, rtol=1e-12)


@pytest.mark.parametrize("model", MNIST_MODELS)
def test_gradients_match_pytorch_autograd(model):
    backend_or_skip("torch")
    import torch
    import torch.nn.functional as F

    from impls.torch_backend import TorchModel

    spec = get_model_spec(model)
    weights = random_weights(model, 11)
    x, y = _batch(5, n=16)
    _, grads = loss_and_grads(spec, {k: v.astype(np.float64) for k, v in weights.tensors.items()}, x, y)

    tm = TorchModel(weights)
    module = tm.module.double().train()  # training mode: a batch norm on the batch's statistics, as the NumPy gradients
    loss = F.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y))
    tgrads = torch.autograd.grad(loss, list(module.parameters()))
    # export the torch gradients to the portable layout through the backend's own weight mapping
    twin = TorchModel(weights)
    with torch.no_grad():
        for p, g in zip(twin.module.parameters(), tgrads):
            p.copy_(g.float())
    exported = twin.get_weights()
    for name, g in grads.items():
        np.testing.assert_allclose(exported[name], g.astype(np.float32), rtol=1e-4, atol=1e-7, err_msg=f"{model} {name}")
