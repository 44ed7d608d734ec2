"""``sepbench profile``: the stages it times compose to the model itself, and the command runs."""

from __future__ import annotations

import numpy as np
import pytest

from sepbench.core.spec import get_model_spec
from sepbench.core.weights import random_weights
from tests.conftest import MNIST_MODELS, backend_or_skip


@pytest.mark.parametrize("model", MNIST_MODELS)
def test_numpy_stages_compose_to_the_model(model, test_subset):
    from impls.registry import get_backend
    from sepbench.measure.layer_profile import numpy_stages

    x = test_subset[0][:200]
    w = random_weights(model, 1234)
    stages = numpy_stages(get_model_spec(model), w)
    out = x
    for _, _, _, fn in stages:
        out = fn(out)
    np.testing.assert_allclose(out, get_backend("numpy").build(w).predict(x), atol=1e-5)
    assert sum(macs for _, _, macs, _ in stages) == get_model_spec(model).macs
    if model == "separable":
        assert {"depthwise (tap sum)", "pointwise GEMM", "patch extraction (im2col copy)"} <= {s for _, s, _, _ in stages}


@pytest.mark.parametrize("model", MNIST_MODELS)
def test_torch_stages_cover_every_layer(model, test_subset):
    backend_or_skip("torch")
    from sepbench.measure.layer_profile import profile_torch

    times = profile_torch(model, test_subset[0][:64], chunk=32, reps=1)
    assert {t.layer for t in times} >= {layer.name for layer in get_model_spec(model).layers}
    assert all(t.seconds > 0 for t in times)
    assert sum(t.macs_per_image for t in times) == get_model_spec(model).macs


def test_torch_model_lists_the_modules_of_a_layer():
    backend_or_skip("torch")
    from torch import nn

    from impls.registry import get_backend

    m = get_backend("torch").build(random_weights("separable", 1234))
    depthwise, pointwise = m.layer_parts("conv1")
    assert isinstance(depthwise, nn.Conv2d) and depthwise.groups == depthwise.in_channels and pointwise.kernel_size == (1, 1)
    assert len(m.layer_parts("dense")) == 1 and isinstance(m.layer_parts("dense")[0], nn.Linear)
    with pytest.raises(KeyError, match="no layer 'conv9'"):
        m.layer_parts("conv9")


def test_profile_command_prints_the_breakdown(mnist_dir, monkeypatch, capsys):
    monkeypatch.setenv("SEPBENCH_MNIST_DIR", str(mnist_dir))
    from sepbench.cli import main

    assert main(["profile", "--backends", "numpy", "--images", "64", "--chunk", "32", "--reps", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    texts = ("patch extraction", "depthwise", "pointwise", "global average pool", "separable/regular", "autotuned lowering", "fused kernel")
    for text in texts:
        assert text in out
    with pytest.raises(SystemExit) as refused:  # argparse refuses it while parsing: usage and one line
        main(["profile", "--images", "0"])
    assert refused.value.code == 2 and "argument --images: must be >= 1, got 0" in capsys.readouterr().err


def test_layer_gemm_rates_have_the_layers_shapes() -> None:
    from sepbench.measure.layer_profile import layer_gemm_rates

    reg = {g.layer: g for g in layer_gemm_rates("regular", chunk=16, reps=1)}
    assert (reg["conv1"].rows, reg["conv1"].depth, reg["conv1"].cols) == (16 * 121, 49, 8)
    assert (reg["conv2"].rows, reg["conv2"].depth, reg["conv2"].cols) == (16 * 16, 200, 16)
    sep = {g.layer: g for g in layer_gemm_rates("separable", chunk=16, reps=1)}
    assert (sep["conv3 pointwise"].rows, sep["conv3 pointwise"].depth, sep["conv3 pointwise"].cols) == (16 * 4, 16, 32)
    assert all(g.flops > 0 and g.seconds > 0 for g in [*reg.values(), *sep.values()])
