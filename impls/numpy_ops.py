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
    """Depthwise convolution, multiplier 1: ``kernel`` ``(k, k, C, 1)``; returns ``(N, oh, ow, C)`` in ``x``'s dtype."""
    k = kernel.shape[0]
    n, h, w, c = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, oh, ow, c), dtype=x.dtype)
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


def spatial_separable_conv2d(x: np.ndarray, column: np.ndarray, row: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """The spec's ``spatial_separable_conv``: a k x 1 kernel per input channel (``column`` ``(k, 1, C, 1)``,
    rows strided, every column kept), then a 1 x k convolution across channels (``row`` ``(1, k, C, F)``,
    columns strided) and the bias; returns ``(N, oh, ow, F)``."""
    return spatial_row_pass(spatial_column_pass(x, column, stride), row, bias, stride)


def spatial_column_pass(x: np.ndarray, column: np.ndarray, stride: int) -> np.ndarray:
    """The k x 1 part: ``k`` multiply-adds of row-strided views, ``(N, H, W, C) -> (N, oh, W, C)``."""
    k = column.shape[0]
    n, h, w, c = x.shape
    oh = (h - k) // stride + 1
    tall = np.zeros((n, oh, w, c), dtype=x.dtype)
    for i in range(k):
        tall += x[:, i : i + stride * (oh - 1) + 1 : stride, :, :] * column[i, 0, :, 0]
    return tall


def spatial_row_pass(tall: np.ndarray, row: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """The 1 x k part across channels, columns strided, one GEMM: ``(N, oh, W, C) -> (N, oh, ow, F)``."""
    k = row.shape[1]
    n, oh, _, c = tall.shape
    windows = sliding_window_view(tall, k, axis=2)[:, :, ::stride]  # (N, oh, ow, C, k)
    ow = windows.shape[2]
    cols = windows.transpose(0, 1, 2, 4, 3).reshape(n * oh * ow, k * c)  # (b, c) order, as row[0] is laid out
    return (cols @ row[0].reshape(k * c, -1) + bias).reshape(n, oh, ow, -1)


def batch_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """A batch norm at inference, as written: ``gamma * (x - mean) / sqrt(variance + eps) + beta`` per channel."""
    from sepbench.core.spec import BN_EPSILON

    return (gamma * (x - mean) / np.sqrt(variance + np.float32(BN_EPSILON)) + beta).astype(x.dtype, copy=False)


def avg_pool(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Mean of each ``kernel x kernel`` window, ``stride`` apart ('valid'): ``(N, H, W, C) -> (N, oh, ow, C)``."""
    windows = sliding_window_view(x, (kernel, kernel), axis=(1, 2))[:, ::stride, ::stride]  # (N, oh, ow, C, k, k)
    return windows.mean(axis=(4, 5), dtype=np.float32)


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0), a new array of ``x``'s dtype."""
    return np.maximum(x, x.dtype.type(0))


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    """Mean over the spatial axes: ``(N, H, W, C) -> (N, C)``."""
    return x.mean(axis=(1, 2), dtype=np.float32)


def dense(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return x @ kernel + bias


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---- lowerings for the fast path (impls.numpy_fast picks among them by measurement) -------------
#
# Every function below computes exactly the layer it replaces (up to float32 summation order); none
# relies on the models having no activations between layers.


def _c_strides(x: np.ndarray) -> tuple[int, ...]:
    """Byte strides of a C-contiguous array computed from its shape (numpy may report any stride
    for an axis of length 1, e.g. the channel axis of MNIST, which would corrupt ``as_strided``)."""
    strides, step = [], x.itemsize
    for size in reversed(x.shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def patches_im2col(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """im2col through strides, copied to GEMM layout ``(N*oh*ow, k*k*C)``.

    NHWC makes each kernel row of a patch ``k*C`` contiguous floats, so the strided view is
    ``(N, oh, ow, k, k*C)`` and the copy moves contiguous runs (faster than a 6-axis transpose).
    """
    x = np.ascontiguousarray(x)
    n, h, w, c = x.shape
    oh, ow = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    sn, sh, sw, sc = _c_strides(x)
    view = np.lib.stride_tricks.as_strided(x, (n, oh, ow, kernel, kernel * c), (sn, stride * sh, stride * sw, sh, sc), writeable=False)
    return view.reshape(n * oh * ow, kernel * kernel * c)


def patches_rows(x: np.ndarray, kernel: int, stride: int, ones_column: bool = False) -> np.ndarray:
    """Row bands for the row-Toeplitz lowering: ``(N*oh, k*W*C)``, each a contiguous ``k``-row band.

    ``ones_column`` appends a column of ones (``(N*oh, k*W*C + 1)``), so that a matrix with the bias
    as its last row adds the bias inside the GEMM instead of in a separate pass over the output.
    """
    x = np.ascontiguousarray(x)
    n, h, w, c = x.shape
    oh = (h - kernel) // stride + 1
    sn, sh, _, sc = _c_strides(x)
    view = np.lib.stride_tricks.as_strided(x, (n, oh, kernel * w * c), (sn, stride * sh, sc), writeable=False)
    if not ones_column:
        return view.reshape(n * oh, kernel * w * c)
    out = np.empty((n, oh, kernel * w * c + 1), np.float32)
    out[:, :, :-1] = view
    out[:, :, -1] = 1.0
    return out.reshape(n * oh, kernel * w * c + 1)


def rows_matrix(kernel: np.ndarray, in_w: int, stride: int) -> np.ndarray:
    """Row-Toeplitz matrix ``(k*W*C, ow*F)`` of a conv kernel ``(k, k, C, F)`` for inputs ``W`` wide.

    ``patches_rows(x) @ rows_matrix(K)`` is the convolution, ``(N*oh, ow*F)``; it does ``W/k``
    times the MACs of im2col but copies ``W/(ow*k)`` as much and runs a wider GEMM.
    """
    k, _, c, f = kernel.shape
    ow = (in_w - k) // stride + 1
    t = np.zeros((k, in_w, c, ow, f), np.float32)
    for j in range(ow):
        t[:, j * stride : j * stride + k, :, j, :] = kernel
    return t.reshape(k * in_w * c, ow * f)


def dense_matrix(kernel: np.ndarray, in_shape: tuple[int, int, int], stride: int) -> np.ndarray:
    """The whole convolution as one matrix ``(H*W*C, oh*ow*F)`` (doubly-block Toeplitz)."""
    k, _, c, f = kernel.shape
    h, w, _ = in_shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    d = np.zeros((h, w, c, oh, ow, f), np.float32)
    for i in range(oh):
        for j in range(ow):
            d[i * stride : i * stride + k, j * stride : j * stride + k, :, i, j, :] = kernel
    return d.reshape(h * w * c, oh * ow * f)


def fold_separable(depthwise: np.ndarray, pointwise: np.ndarray) -> np.ndarray:
    """The dense kernel ``(k, k, C, F)`` equal to depthwise ``(k, k, C, 1)`` then pointwise ``(1, 1, C, F)``."""
    return (depthwise[:, :, :, 0, None] * pointwise[0, 0][None, None]).astype(np.float32)


def fold_spatial_separable(column: np.ndarray, row: np.ndarray) -> np.ndarray:
    """The dense kernel ``(k, k, C, F)`` equal to a spatially separable layer: column ``(k, 1, C, 1)``
    then row ``(1, k, C, F)``; each channel pair's k x k kernel is the outer product (rank 1).  The
    layer's row and column strides become the dense kernel's one stride."""
    return (column[:, 0, :, 0][:, None, :, None] * row[0][None]).astype(np.float32)


def folded_kernel(kind: str, w: dict[str, np.ndarray]) -> np.ndarray:
    """The dense kernel ``(k, k, C, F)`` computing a separable layer of either kind in one convolution."""
    if kind == "separable_conv":
        return fold_separable(w["depthwise_kernel"], w["pointwise_kernel"])
    if kind == "spatial_separable_conv":
        return fold_spatial_separable(w["column_kernel"], w["row_kernel"])
    raise ValueError(f"a {kind!r} layer has no folded kernel")


def depthwise_as_dense_kernel(depthwise: np.ndarray) -> np.ndarray:
    """A depthwise kernel ``(k, k, C, 1)`` as the block-diagonal dense kernel ``(k, k, C, C)``."""
    c = depthwise.shape[2]
    return (depthwise[:, :, :, 0, None] * np.eye(c, dtype=np.float32)).astype(np.float32)


def depthwise_shift(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Depthwise convolution as ``k*k`` in-place multiply-adds of shifted strided views (no patch copy)."""
    k = kernel.shape[0]
    n, h, w, c = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.empty((n, oh, ow, c), np.float32)
    tmp = np.empty_like(out)
    first = True
    for i in range(k):
        for j in range(k):
            view = x[:, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride, :]
            if first:
                np.multiply(view, kernel[i, j, :, 0], out=out)
                first = False
            else:
                np.multiply(view, kernel[i, j, :, 0], out=tmp)
                out += tmp
    return out


def depthwise_im2col(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Depthwise convolution from im2col patches: a per-channel weighted sum over the ``k*k`` taps."""
    k, _, c, _ = kernel.shape
    n, h, w, _ = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    cols = patches_im2col(x, k, stride).reshape(n * oh * ow, k * k, c)
    out = np.einsum("ptc,tc->pc", cols, kernel.reshape(k * k, c), optimize=False)
    return out.reshape(n, oh, ow, c)


def block_starts(out_w: int, block: int) -> list[int]:
    """Start columns of output blocks ``block`` wide covering ``out_w`` columns (the last may overlap)."""
    if block >= out_w:
        return [0]
    starts = list(range(0, out_w - block + 1, block))
    if starts[-1] + block < out_w:
        starts.append(out_w - block)
    return starts


def patches_rows_block(x: np.ndarray, kernel: int, stride: int, start: int, block: int) -> np.ndarray:
    """Row bands restricted to the input columns that output columns ``start .. start+block-1`` read:
    ``(N*oh, k * bw * C)`` with ``bw = stride*(block-1) + k``."""
    x = np.ascontiguousarray(x)
    n, h, w, c = x.shape
    oh = (h - kernel) // stride + 1
    bw = stride * (block - 1) + kernel
    sn, sh, sw, sc = _c_strides(x)
    base = x[:, :, start * stride :]  # a view starting at the block's first input column
    view = np.lib.stride_tricks.as_strided(base, (n, oh, kernel, bw * c), (sn, stride * sh, sh, sc), writeable=False)
    return view.reshape(n * oh, kernel * bw * c)
