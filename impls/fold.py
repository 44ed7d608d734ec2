"""Batch norm folded into the convolution before it: the layers a deployment path runs.

At inference a batch norm is a per-channel affine map, ``y = scale * x + shift`` with ``scale = gamma /
sqrt(moving_variance + eps)`` and ``shift = beta - moving_mean * scale``.  After a convolution whose
output channel ``f`` is ``K_f * x + b_f``, that is the convolution with kernel ``scale_f * K_f`` and
bias ``scale_f * b_f + shift_f``: no extra pass over the activations.  The output channels' kernel is
the pointwise kernel of a separable layer, the row kernel of a spatially separable one, the one
kernel of a depthwise one.  The reference NumPy path runs the batch norm as written (so the parity
tests check the fold); ONNX Runtime, LiteRT, TensorFlow's graph and NumPy's fast path run the folded
layers.
"""

from __future__ import annotations

import numpy as np

from sepbench.core.spec import BN_EPSILON, LayerSpec, ModelSpec, Shape
from sepbench.core.weights import PortableWeights

OUTPUT_KERNEL: dict[str, str] = {  # the tensor whose last axis is a layer's output channels
    "conv": "kernel",
    "separable_conv": "pointwise_kernel",
    "spatial_separable_conv": "row_kernel",
    "depthwise_conv": "depthwise_kernel",
}


def batch_norm_affine(bn: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, shift)`` per channel of a batch norm at inference, float32."""
    scale = (bn["gamma"].astype(np.float64) / np.sqrt(bn["moving_variance"].astype(np.float64) + BN_EPSILON)).astype(np.float32)
    shift = (bn["beta"] - bn["moving_mean"] * scale).astype(np.float32)
    return scale, shift


def fold_batch_norm(kind: str, w: dict[str, np.ndarray], bn: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A convolution's tensors with the batch norm after it folded in (new arrays; ``w`` is not changed)."""
    scale, shift = batch_norm_affine(bn)
    out = dict(w)
    key = OUTPUT_KERNEL[kind]
    if kind == "depthwise_conv":  # (k, k, C, 1): the channels are axis 2
        out[key] = (w[key] * scale[None, None, :, None]).astype(np.float32)
    else:
        out[key] = (w[key] * scale).astype(np.float32)
    out["bias"] = (w["bias"] * scale + shift).astype(np.float32)
    return out


def inference_layers(spec: ModelSpec, weights: PortableWeights) -> list[tuple[LayerSpec, dict[str, np.ndarray], Shape]]:
    """``(layer, its tensors, its input shape)`` of every layer a deployment path runs: each batch norm
    folded into the convolution before it (the spec puts one only there) and dropped."""
    out: list[tuple[LayerSpec, dict[str, np.ndarray], Shape]] = []
    for layer, row in zip(spec.layers, spec.summary()):
        w = weights.layer(layer.name)
        if layer.kind == "batch_norm":
            conv, conv_w, shape = out[-1]
            out[-1] = (conv, fold_batch_norm(conv.kind, conv_w, w), shape)
        else:
            out.append((layer, w, tuple(row.input_shape)))
    return out
