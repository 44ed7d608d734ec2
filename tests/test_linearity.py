"""A model without a nonlinearity between its layers is one affine map (sepbench/core/linearity.py): the
counts, and the map itself recovered from the NumPy reference path, which then predicts like the model."""

from __future__ import annotations

import numpy as np
import pytest

from sepbench.commands.spec import linearity_note
from sepbench.core.linearity import affine_collapse
from sepbench.core.spec import get_model_spec
from sepbench.core.weights import random_weights
from tests.conftest import EVERY_KIND_MODEL


@pytest.mark.parametrize("model", ["regular", "separable", "spatial"])
def test_study_models_collapse_to_784_by_10(model):
    flat = affine_collapse(get_model_spec(model))
    assert flat is not None
    assert (flat.inputs, flat.outputs, flat.params, flat.macs) == (784, 10, 7850, 7840)  # 28*28*1 -> 10, by hand
    assert "one affine map 784 -> 10 before its softmax (7,850 parameters, 7,840 MACs" in linearity_note(get_model_spec(model))


def test_a_relu_between_layers_keeps_a_model_nonlinear():
    spec = get_model_spec(EVERY_KIND_MODEL)
    assert affine_collapse(spec) is None
    assert "has a nonlinearity (relu)" in linearity_note(spec)


def test_the_reports_explanation_of_speed_shows_what_each_model_collapses_to():
    """Issue 38: section 2c's note (the MAC ratio's sentence) carries the affine-map analysis of the pairs' models."""
    from sepbench.report.sections.speed import RATIOS, affine_note

    for model, params, macs, fraction in (
        ("regular", 8586, 117_384, 0.067),
        ("separable", 1427, 15_089, 0.520),
        ("spatial", 2713, 27_780, 0.282),
    ):
        layers = f"{model} ({params:,} parameters, {macs:,} MACs per image in its layers)"
        assert f"{layers} is one affine map 784 -> 10: 7,850 parameters, 7,840 MACs ({fraction:.3f}x)" in RATIOS.note
    assert "computed as that map, regular, separable, spatial would do fewer MACs per image than its layers do" in RATIOS.note
    nonlinear = affine_note([EVERY_KIND_MODEL])
    assert f"{EVERY_KIND_MODEL} has a nonlinearity (relu) between its layers: it is no single affine map" in nonlinear
    assert "would do fewer MACs" not in nonlinear


@pytest.mark.parametrize("model", ["regular", "separable"])
def test_the_collapsed_map_predicts_as_the_model_does(model):
    """b = logits(0); column i of A = logits(e_i) - b; then A x + b is the model's logits for any x."""
    from impls.registry import get_backend

    m = get_backend("numpy").build(random_weights(model, 11))
    probes = np.concatenate([np.zeros((1, 784), np.float32), np.eye(784, dtype=np.float32)]).reshape(-1, 28, 28, 1)
    z = m.forward_logits(probes).astype(np.float64)
    b, a = z[0], (z[1:] - z[0]).T  # (10,), (10, 784)
    x = np.random.default_rng(0).random((50, 784))
    got = x @ a.T + b
    want = m.forward_logits(x.reshape(-1, 28, 28, 1).astype(np.float32))
    # the path computes in float32: each of the 784 recovered columns carries a rounding of about eps * |z|,
    # and x sums up to 784 of them (x in [0, 1]); 4x that for the rounding inside each forward pass
    tol = 4 * 784 * np.finfo(np.float32).eps * np.abs(z).max()
    np.testing.assert_allclose(got, want, atol=tol)
    with_relu = get_backend("numpy").build(random_weights(EVERY_KIND_MODEL, 11))  # the same probe fails for a nonlinear model
    zr = with_relu.forward_logits(probes).astype(np.float64)
    ar, br = (zr[1:] - zr[0]).T, zr[0]
    off = np.abs(x @ ar.T + br - with_relu.forward_logits(x.reshape(-1, 28, 28, 1).astype(np.float32))).max()
    assert off > 10 * 4 * 784 * np.finfo(np.float32).eps * np.abs(zr).max()
