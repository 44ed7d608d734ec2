"""Where inference time goes, layer by layer and stage by stage (patch extraction, depthwise,
pointwise, pooling, dense), for the NumPy and PyTorch backends.

Each stage is timed on its own, on the real output of the stage before it, chunk by chunk:
``seconds`` is the best of ``reps`` summed over the chunks of ``n_images``.  Frameworks are imported
only inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sepbench.core.spec import ModelSpec, get_model_spec
from sepbench.core.weights import PortableWeights, init_weights
from sepbench.util.timer import time_calls

BN_TENSORS = ("gamma", "beta", "moving_mean", "moving_variance")  # ops.batch_norm's arguments, in order


@dataclass(frozen=True)
class StageTime:
    """One stage of one layer: wall seconds for all ``n_images`` (best of the repetitions)."""

    backend: str
    model: str
    layer: str
    stage: str
    seconds: float
    macs_per_image: int  # multiply-accumulates this stage does per image (0 for copies)


def _run_stages(chunks: list, stages: list[tuple[str, str, int, Callable]], reps: int, backend: str, model: str) -> list[StageTime]:
    totals = [0.0] * len(stages)
    for x in chunks:
        for i, (_, _, _, fn) in enumerate(stages):
            timing = time_calls(lambda fn=fn, x=x: fn(x), repeat=reps, warmup=1)
            totals[i] += timing.min
            x = timing.result  # the next stage's input
    return [StageTime(backend, model, layer, stage, t, macs) for (layer, stage, macs, _), t in zip(stages, totals)]


def _conv_stages(layer: Any, row: Any, w: dict[str, np.ndarray], c: int) -> list[tuple[str, str, int, Callable[[np.ndarray], np.ndarray]]]:
    """A regular or depthwise-separable convolution: im2col, then one GEMM (or the tap sum and the pointwise GEMM)."""
    from impls import numpy_ops as ops

    stages: list[tuple[str, str, int, Callable[[np.ndarray], np.ndarray]]] = []
    k, s = layer.kernel, layer.stride
    oh, ow, f = row.output_shape

    def patches(x: np.ndarray, k: int = k, s: int = s, c: int = c) -> np.ndarray:
        return ops.patches_im2col(x, k, s).reshape(len(x), -1, k * k, c)

    stages.append((layer.name, "patch extraction (im2col copy)", 0, patches))
    if layer.kind == "conv":
        kmat = w["kernel"].reshape(k * k * c, f)

        def conv(p: np.ndarray, kmat: np.ndarray = kmat, b: np.ndarray = w["bias"], shape: tuple = (oh, ow, f)) -> np.ndarray:
            return (p.reshape(-1, kmat.shape[0]) @ kmat + b).reshape(len(p), *shape)

        stages.append((layer.name, "conv GEMM", oh * ow * k * k * c * f, conv))
    else:
        dw = w["depthwise_kernel"].reshape(k * k, c)
        pw = w["pointwise_kernel"][0, 0]

        def depthwise(p: np.ndarray, dw: np.ndarray = dw, shape: tuple = (oh, ow, c)) -> np.ndarray:
            return np.einsum("nptc,tc->npc", p, dw).reshape(len(p), *shape)

        def pointwise(y: np.ndarray, pw: np.ndarray = pw, b: np.ndarray = w["bias"]) -> np.ndarray:
            return (y.reshape(-1, pw.shape[0]) @ pw + b).reshape(*y.shape[:3], pw.shape[1])

        stages.append((layer.name, "depthwise (tap sum)", oh * ow * k * k * c, depthwise))
        stages.append((layer.name, "pointwise GEMM", oh * ow * c * f, pointwise))
    return stages


def _spatial_stages(
    layer: Any, row: Any, w: dict[str, np.ndarray], c: int, wd: int
) -> list[tuple[str, str, int, Callable[[np.ndarray], np.ndarray]]]:
    """A spatially separable convolution: the k x 1 column pass per channel, then the 1 x k row GEMM."""
    from impls import numpy_ops as ops

    stages: list[tuple[str, str, int, Callable[[np.ndarray], np.ndarray]]] = []
    k, s = layer.kernel, layer.stride
    oh, ow, f = row.output_shape

    def column(x: np.ndarray, col: np.ndarray = w["column_kernel"], s: int = s) -> np.ndarray:
        return ops.spatial_column_pass(x, col, s)

    def across(t: np.ndarray, r: np.ndarray = w["row_kernel"], b: np.ndarray = w["bias"], s: int = s) -> np.ndarray:
        return ops.spatial_row_pass(t, r, b, s)

    stages.append((layer.name, "column pass (k x 1 per channel)", oh * wd * c * k, column))
    stages.append((layer.name, "row GEMM (1 x k across channels)", oh * ow * c * f * k, across))
    return stages


def numpy_stages(spec: ModelSpec, weights: PortableWeights) -> list[tuple[str, str, int, Callable[[np.ndarray], np.ndarray]]]:
    """The model as explicit NumPy stages (im2col lowering): ``(layer, stage, MACs per image, fn)``."""
    from impls import numpy_ops as ops

    stages: list[tuple[str, str, int, Callable[[np.ndarray], np.ndarray]]] = []
    for row, layer in zip(spec.summary(), spec.layers):
        w = weights.layer(layer.name)
        h, wd, c = row.input_shape if len(row.input_shape) == 3 else (0, 0, row.input_shape[0])
        if layer.kind in ("conv", "separable_conv"):
            stages += _conv_stages(layer, row, w, c)
        elif layer.kind == "spatial_separable_conv":
            stages += _spatial_stages(layer, row, w, c, wd)
        elif layer.kind == "depthwise_conv":

            def depthwise_only(
                x: np.ndarray, dw: np.ndarray = w["depthwise_kernel"], b: np.ndarray = w["bias"], s: int = layer.stride
            ) -> np.ndarray:
                return ops.depthwise_conv2d(x, dw, s) + b

            stages.append((layer.name, "depthwise (tap sum)", row.macs, depthwise_only))
        elif layer.kind == "batch_norm":
            stages.append((layer.name, "batch norm (not folded)", 0, lambda x, w=w: ops.batch_norm(x, *(w[t] for t in BN_TENSORS))))
        elif layer.kind == "avg_pool":
            stages.append((layer.name, "average pool", 0, lambda x, k=layer.kernel, s=layer.stride: ops.avg_pool(x, k, s)))
        elif layer.kind == "global_avg_pool":
            stages.append((layer.name, "global average pool", 0, ops.global_avg_pool))
        elif layer.kind == "relu":
            stages.append((layer.name, "relu", 0, ops.relu))
        elif layer.kind == "dense":
            stages.append((layer.name, "dense GEMM", c * layer.filters, lambda x, w=w: ops.dense(x, w["kernel"], w["bias"])))
            if layer.activation == "softmax":
                stages.append((layer.name, "softmax", 0, ops.softmax))
    return stages


def profile_numpy(
    model: str | ModelSpec, images: np.ndarray, chunk: int = 1024, reps: int = 3, weights: PortableWeights | None = None
) -> list[StageTime]:
    """Stage times of the NumPy im2col lowering (BLAS threads as configured)."""
    spec = get_model_spec(model)
    weights = weights or init_weights(spec, 0)
    chunks = [images[i : i + chunk] for i in range(0, len(images), chunk)]
    return _run_stages(chunks, numpy_stages(spec, weights), reps, "numpy", spec.name)


def profile_numpy_fast(model: str | ModelSpec, n_images: int, weights: PortableWeights | None = None) -> list[dict[str, object]]:
    """The NumPy fast path's autotuning record scaled to ``n_images``: per layer group, the chosen
    lowering and every alternative's seconds (single-threaded CPU seconds, at the chosen chunk)."""
    from impls.numpy_fast import autotune

    spec = get_model_spec(model)
    plan = autotune(spec, weights or init_weights(spec, 0))
    rows: list[dict[str, object]] = []
    for group, times in plan.timings[plan.chunk].items():
        seconds = {m: t * n_images for m, t in times.items()}
        rows.append({"model": spec.name, "group": group, "chosen": plan.methods[group], "chunk": plan.chunk, "seconds": seconds})
    return rows


def profile_torch(
    model: str | ModelSpec, images: np.ndarray, chunk: int = 1024, reps: int = 3, weights: PortableWeights | None = None
) -> list[StageTime]:
    """Stage times of the PyTorch eager modules (threads as configured), under ``inference_mode``.

    PyTorch's convolutions extract patches internally, so a conv is one stage here.
    """
    import torch

    from impls.registry import get_backend

    spec = get_model_spec(model)
    m = get_backend("torch").build(weights or init_weights(spec, 0))
    stages: list[tuple[str, str, int, Callable]] = [("input", "NHWC -> NCHW", 0, lambda x: x.permute(0, 3, 1, 2).contiguous())]
    for row, layer in zip(spec.summary(), spec.layers):
        parts = m.layer_parts(layer.name)
        module = parts[0]
        if layer.kind == "separable_conv":
            oh, ow, f = row.output_shape
            c, k = row.input_shape[-1], layer.kernel
            depthwise, pointwise = parts
            stages.append((layer.name, "depthwise conv (groups=C)", oh * ow * k * k * c, depthwise))
            stages.append((layer.name, "pointwise conv (1x1)", oh * ow * c * f, pointwise))
        elif layer.kind == "spatial_separable_conv":
            oh, ow, f = row.output_shape
            w_in, c, k = row.input_shape[1], row.input_shape[-1], layer.kernel
            column, across = parts
            stages.append((layer.name, "column conv (k x 1, groups=C)", oh * w_in * c * k, column))
            stages.append((layer.name, "row conv (1 x k)", oh * ow * c * f * k, across))
        elif layer.kind in ("conv", "depthwise_conv"):
            stages.append((layer.name, "conv" if layer.kind == "conv" else "depthwise conv (groups=C)", row.macs, module))
        elif layer.kind in ("global_avg_pool", "relu", "batch_norm", "avg_pool"):
            stages.append((layer.name, layer.kind.replace("_", " "), 0, module))
        else:
            stages.append((layer.name, "dense (Linear)", row.macs, module))
            if layer.activation == "softmax":
                stages.append((layer.name, "softmax", 0, lambda z: torch.softmax(z, dim=1)))
    xt = torch.from_numpy(images)
    with torch.inference_mode():
        return _run_stages([xt[i : i + chunk] for i in range(0, len(xt), chunk)], stages, reps, "torch", spec.name)


@dataclass(frozen=True)
class GemmRate:
    """``numpy.matmul`` throughput at one layer's im2col GEMM shape: ``(rows, depth) @ (depth, cols)``."""

    model: str
    layer: str
    rows: int  # chunk x output positions
    depth: int  # k x k x C_in (1 x 1 x C_in for a pointwise GEMM)
    cols: int  # output channels
    seconds: float  # best wall seconds of one matmul
    flops: float  # FLOP/s: 2 x rows x depth x cols / seconds


def layer_gemm_rates(model: str | ModelSpec, chunk: int = 1024, reps: int = 5) -> list[GemmRate]:
    """FLOP/s of one float32 ``matmul`` shaped like each conv layer's GEMM for ``chunk`` images, on
    ready contiguous operands (no patch copy): what a GEMM lowering can reach at the model's shapes,
    beside the roofline probe's square GEMM.  BLAS threads as configured."""
    spec = get_model_spec(model)
    rng = np.random.default_rng(0)
    out = []
    for row, layer in zip(spec.summary(), spec.layers):
        if layer.kind not in ("conv", "separable_conv"):
            continue
        oh, ow, f = row.output_shape
        c, k = row.input_shape[-1], layer.kernel
        shapes = [("", k * k * c)] if layer.kind == "conv" else [(" pointwise", c)]
        for suffix, depth in shapes:
            a = rng.random((chunk * oh * ow, depth), dtype=np.float32)
            b = rng.random((depth, f), dtype=np.float32)
            dest = np.empty((a.shape[0], f), dtype=np.float32)
            seconds = time_calls(lambda a=a, b=b, dest=dest: np.matmul(a, b, out=dest), repeat=reps).min
            out.append(GemmRate(spec.name, layer.name + suffix, a.shape[0], depth, f, seconds, 2.0 * a.shape[0] * depth * f / seconds))
    return out
