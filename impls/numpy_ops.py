"""Layer operations in pure NumPy (float32, NHWC, Keras kernel layouts, 'valid' padding).

Forward functions take and return float32 arrays; no Python loop runs over images.  Regular
convolutions use im2col through strides (``sliding_window_view``) and one GEMM; depthwise
convolutions sum ``k*k`` shifted, strided views of the input (memory-bound, no patch copy).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def im2col(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Patches ``(N, oh, ow, kh, kw, C)`` of ``x`` ``(N, H, W, C)`` as a strided view (no copy)."""
    windows = sliding_window_view(x, (kernel, kernel), axis=(1, 2))  # (N, H', W', C, kh, kw)
    return windows[:, ::stride, ::stride].transpose(0, 1, 2, 4, 5, 3)


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, stride: int) -> np.ndarray:
    """Regular convolution: ``kernel`` ``(k, k, C, F)``; returns ``(N, oh, ow, F)``."""
    k, _, c, f = kernel.shape
    patches = im2col(x, k, stride)
    n, oh, ow = patches.shape[:3]
    cols = patches.reshape(n * oh * ow, k * k * c)  # copies into GEMM layout
    out = cols @ kernel.reshape(k * k * c, f)
    if bias is not None:
        out += bias
    return out.reshape(n, oh, ow, f)


def depthwise_conv2d(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Depthwise convolution, multiplier 1: ``kernel`` ``(k, k, C, 1)``; returns ``(N, oh, ow, C)``."""
    k = kernel.shape[0]
    n, h, w, c = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, oh, ow, c), dtype=np.float32)
    for i in range(k):
        for j in range(k):
            out += x[:, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride, :] * kernel[i, j, :, 0]
    return out


def pointwise_conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """1x1 convolution: ``kernel`` ``(1, 1, C, F)``; returns ``(N, H, W, F)``."""
    out = x @ kernel[0, 0]
    if bias is not None:
        out += bias
    return out


def separable_conv2d(x: np.ndarray, depthwise: np.ndarray, pointwise: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """Keras ``SeparableConv2D``: depthwise, then pointwise, then one bias."""
    return pointwise_conv2d(depthwise_conv2d(x, depthwise, stride), pointwise, bias)


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    """Mean over the spatial axes: ``(N, H, W, C) -> (N, C)``."""
    return x.mean(axis=(1, 2), dtype=np.float32)


def dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return x @ kernel + bias


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
