"""Forward with caches and backward passes in NumPy, for training (any float dtype: float32 to
train, float64 to check against finite differences).

Layouts as in :mod:`impls.numpy_ops` (NHWC, Keras kernels, 'valid' padding, no activations).
The model's last layer is a softmax dense layer; training works on its logits, and
:func:`softmax_cross_entropy` gives the mean loss over the batch and its gradient with respect to
the logits (Keras 3 computes the cross-entropy from the logits inside ``fit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sepbench.core.spec import ModelSpec

Params = dict[str, np.ndarray]


# ---- single operations ---------------------------------------------------------------------
# Kernels may be rectangular ``(kh, kw, ...)`` and strides a pair ``(rows, columns)``: a spatially
# separable layer is a k x 1 depthwise pass strided along rows, then a 1 x k convolution strided
# along columns.
Stride = int | tuple[int, int]


def _pair(stride: Stride) -> tuple[int, int]:
    return (stride, stride) if isinstance(stride, int) else (int(stride[0]), int(stride[1]))


def _window(h: int, k: int, stride: int, i: int) -> slice:
    out = (h - k) // stride + 1
    return slice(i, i + stride * (out - 1) + 1, stride)


def conv_forward(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: Stride) -> tuple[np.ndarray, Any]:
    """Regular convolution ``(N,H,W,C) * (kh,kw,C,F) + b``; returns output and cache."""
    kh, kw, c, f = kernel.shape
    sh, sw = _pair(stride)
    patches = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (N, oh, ow, C, kh, kw)
    n, oh, ow = patches.shape[:3]
    cols = patches.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * c)
    out = cols @ kernel.reshape(kh * kw * c, f) + bias
    return out.reshape(n, oh, ow, f), (x.shape, cols, (sh, sw))


def conv_backward(
    dout: np.ndarray, kernel: np.ndarray, cache: Any, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dkernel, dbias)`` of a regular convolution."""
    x_shape, cols, (sh, sw) = cache
    kh, kw, c, f = kernel.shape
    n, oh, ow, _ = dout.shape
    d2 = dout.reshape(n * oh * ow, f)
    dkernel = (cols.T @ d2).reshape(kernel.shape)
    dbias = d2.sum(axis=0)
    if not need_dx:
        return None, dkernel, dbias
    dcols = (d2 @ kernel.reshape(kh * kw * c, f).T).reshape(n, oh, ow, kh, kw, c)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    h, w = x_shape[1], x_shape[2]
    for i in range(kh):
        for j in range(kw):
            dx[:, _window(h, kh, sh, i), _window(w, kw, sw, j), :] += dcols[:, :, :, i, j, :]
    return dx, dkernel, dbias


def depthwise_forward(x: np.ndarray, kernel: np.ndarray, stride: Stride) -> tuple[np.ndarray, Any]:
    """Depthwise convolution, multiplier 1, kernel ``(kh,kw,C,1)``, no bias, and what backward needs."""
    kh, kw = kernel.shape[:2]
    sh, sw = _pair(stride)
    h, w = x.shape[1], x.shape[2]
    out = np.zeros((x.shape[0], (h - kh) // sh + 1, (w - kw) // sw + 1, x.shape[3]), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += x[:, _window(h, kh, sh, i), _window(w, kw, sw, j), :] * kernel[i, j, :, 0]
    return out, (x, (sh, sw))


def depthwise_backward(dout: np.ndarray, kernel: np.ndarray, cache: Any, need_dx: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    x, (sh, sw) = cache
    kh, kw = kernel.shape[:2]
    h, w = x.shape[1], x.shape[2]
    dkernel = np.zeros_like(kernel)
    dx = np.zeros_like(x) if need_dx else None
    for i in range(kh):
        for j in range(kw):
            si, sj = _window(h, kh, sh, i), _window(w, kw, sw, j)
            dkernel[i, j, :, 0] = np.einsum("nhwc,nhwc->c", x[:, si, sj, :], dout)
            if dx is not None:
                dx[:, si, sj, :] += dout * kernel[i, j, :, 0]
    return dx, dkernel


def pointwise_forward(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, Any]:
    return x @ kernel[0, 0] + bias, x


def pointwise_backward(
    dout: np.ndarray, kernel: np.ndarray, cache: Any, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    x = cache
    c, f = kernel.shape[2], kernel.shape[3]
    d2 = dout.reshape(-1, f)
    dkernel = (x.reshape(-1, c).T @ d2).reshape(kernel.shape)
    dbias = d2.sum(axis=0)
    dx = dout @ kernel[0, 0].T if need_dx else None
    return dx, dkernel, dbias


def avg_pool_forward(x: np.ndarray, kernel: int, stride: int) -> tuple[np.ndarray, Any]:
    """Mean of each ``kernel x kernel`` window, ``stride`` apart ('valid')."""
    windows = sliding_window_view(x, (kernel, kernel), axis=(1, 2))[:, ::stride, ::stride]  # (N, oh, ow, C, k, k)
    return windows.mean(axis=(4, 5)), (x.shape, kernel, stride)


def avg_pool_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    x_shape, k, s = cache
    h, w = x_shape[1], x_shape[2]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    share = dout / dout.dtype.type(k * k)
    for i in range(k):
        for j in range(k):
            dx[:, _window(h, k, s, i), _window(w, k, s, j), :] += share
    return dx


def batch_norm_forward(x: np.ndarray, p: Params, prefix: str, updates: Params | None) -> tuple[np.ndarray, Any]:
    """Training (``updates`` given): the batch's mean and (biased) variance per channel, as Keras's
    ``BatchNormalization`` in ``fit``; the new moving statistics go into ``updates``.  Inference: the
    moving statistics."""
    from sepbench.core.spec import BN_EPSILON, BN_MOMENTUM

    gamma, beta = p[prefix + "gamma"], p[prefix + "beta"]
    eps = x.dtype.type(BN_EPSILON)
    if updates is None:
        xhat = (x - p[prefix + "moving_mean"]) / np.sqrt(p[prefix + "moving_variance"] + eps)
        return gamma * xhat + beta, None
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    m = x.dtype.type(BN_MOMENTUM)
    updates[prefix + "moving_mean"] = (p[prefix + "moving_mean"] * m + mean * (1 - m)).astype(np.float32)
    updates[prefix + "moving_variance"] = (p[prefix + "moving_variance"] * m + var * (1 - m)).astype(np.float32)
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    return gamma * xhat + beta, (xhat, inv)


def batch_norm_backward(dout: np.ndarray, gamma: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dgamma, dbeta)`` of a training-mode batch norm (the batch statistics depend on ``x`` too)."""
    xhat, inv = cache
    m = dout.dtype.type(dout.shape[0] * dout.shape[1] * dout.shape[2])
    dbeta = dout.sum(axis=(0, 1, 2))
    dgamma = (dout * xhat).sum(axis=(0, 1, 2))
    dx = (gamma * inv / m) * (m * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def gap_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    return x.mean(axis=(1, 2)), x.shape


def gap_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    n, h, w, c = cache
    return np.broadcast_to((dout / dout.dtype.type(h * w))[:, None, None, :], cache).copy()


def dense_forward(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, Any]:
    return x @ kernel + bias, x


def dense_backward(
    dout: np.ndarray, kernel: np.ndarray, cache: Any, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    x = cache
    return (dout @ kernel.T if need_dx else None), x.T @ dout, dout.sum(axis=0)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean categorical cross-entropy from logits (nats) and its gradient w.r.t. the logits."""
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    logp = z - np.log(s)
    loss = -logp[np.arange(n), labels].mean()
    grad = e / s
    grad[np.arange(n), labels] -= 1
    grad /= logits.dtype.type(n)
    return float(loss), grad


# ---- whole model ---------------------------------------------------------------------------
def forward(spec: ModelSpec, params: Params, x: np.ndarray, updates: Params | None = None) -> tuple[np.ndarray, list[Any]]:
    """Logits (pre-softmax output of the last layer) and the caches for :func:`backward`.  ``updates``
    given: training mode (a batch norm uses the batch's statistics and puts its new moving ones there)."""
    caches: list[Any] = []
    for layer in spec.layers:
        p = f"{layer.name}/"
        if layer.kind == "conv":
            x, c = conv_forward(x, params[p + "kernel"], params[p + "bias"], layer.stride)
        elif layer.kind == "separable_conv":
            x, c1 = depthwise_forward(x, params[p + "depthwise_kernel"], layer.stride)
            x, c2 = pointwise_forward(x, params[p + "pointwise_kernel"], params[p + "bias"])
            c = (c1, c2)
        elif layer.kind == "spatial_separable_conv":
            x, c1 = depthwise_forward(x, params[p + "column_kernel"], (layer.stride, 1))
            x, c2 = conv_forward(x, params[p + "row_kernel"], params[p + "bias"], (1, layer.stride))
            c = (c1, c2)
        elif layer.kind == "depthwise_conv":
            x, c = depthwise_forward(x, params[p + "depthwise_kernel"], layer.stride)
            x = x + params[p + "bias"]
        elif layer.kind == "batch_norm":
            x, c = batch_norm_forward(x, params, p, updates)
        elif layer.kind == "avg_pool":
            x, c = avg_pool_forward(x, layer.kernel, layer.stride)
        elif layer.kind == "global_avg_pool":
            x, c = gap_forward(x)
        elif layer.kind == "relu":
            c = x > 0
            x = x * c
        elif layer.kind == "dense":
            x, c = dense_forward(x, params[p + "kernel"], params[p + "bias"])
        else:  # pragma: no cover - spec validates kinds
            raise NotImplementedError(layer.kind)
        caches.append(c)
    return x, caches


def backward(spec: ModelSpec, params: Params, caches: list[Any], dlogits: np.ndarray) -> Params:
    """Gradients of every parameter, given the gradient of the loss w.r.t. the logits."""
    grads: Params = {}
    d = dlogits
    for index in range(len(spec.layers) - 1, -1, -1):
        layer, cache = spec.layers[index], caches[index]
        p = f"{layer.name}/"
        need_dx = index > 0
        if layer.kind == "conv":
            d, grads[p + "kernel"], grads[p + "bias"] = conv_backward(d, params[p + "kernel"], cache, need_dx)
        elif layer.kind == "separable_conv":
            d, grads[p + "pointwise_kernel"], grads[p + "bias"] = pointwise_backward(d, params[p + "pointwise_kernel"], cache[1], True)
            d, grads[p + "depthwise_kernel"] = depthwise_backward(d, params[p + "depthwise_kernel"], cache[0], need_dx)
        elif layer.kind == "spatial_separable_conv":
            d, grads[p + "row_kernel"], grads[p + "bias"] = conv_backward(d, params[p + "row_kernel"], cache[1], True)
            d, grads[p + "column_kernel"] = depthwise_backward(d, params[p + "column_kernel"], cache[0], need_dx)
        elif layer.kind == "depthwise_conv":
            grads[p + "bias"] = d.sum(axis=(0, 1, 2))
            d, grads[p + "depthwise_kernel"] = depthwise_backward(d, params[p + "depthwise_kernel"], cache, need_dx)
        elif layer.kind == "batch_norm":
            d, grads[p + "gamma"], grads[p + "beta"] = batch_norm_backward(d, params[p + "gamma"], cache)
        elif layer.kind == "avg_pool":
            d = avg_pool_backward(d, cache)
        elif layer.kind == "global_avg_pool":
            d = gap_backward(d, cache)
        elif layer.kind == "relu":
            d = d * cache
        elif layer.kind == "dense":
            d, grads[p + "kernel"], grads[p + "bias"] = dense_backward(d, params[p + "kernel"], cache, need_dx)
    return grads


def loss_and_grads(
    spec: ModelSpec, params: Params, x: np.ndarray, labels: np.ndarray, updates: Params | None = None
) -> tuple[float, Params]:
    """Mean softmax cross-entropy of a batch and the gradient of every trainable parameter (training
    mode: a batch norm's new moving statistics go into ``updates``, a fresh dict when not given)."""
    logits, caches = forward(spec, params, x, {} if updates is None else updates)
    loss, dlogits = softmax_cross_entropy(logits, labels)
    return loss, backward(spec, params, caches, dlogits)
