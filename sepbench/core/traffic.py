"""The second roof: the bytes a way of computing a model must move through memory, and the floor of a path.

A path cannot beat either roof: its arithmetic at the machine's GEMM rate (2 FLOP per MAC) and its
memory traffic at the machine's bandwidth.  The bytes depend on *how* the layers are computed, not only
on the model (float32, 4 bytes a value, per image):

* ``im2col``: layer by layer, each convolution through a patch matrix (written, then read by the GEMM),
  as NumPy's default path and the GEMM-based runtimes do;
* ``direct``: layer by layer, each layer reading its input and writing its output (and a two-stage
  layer its intermediate: the depthwise output of a separable convolution, the column pass of a
  spatially separable one);
* ``fused``: all layers of a micro-batch while its activations stay in cache: the input image in and
  the class scores out.

The weights are read once per call (``params x 4`` bytes), whatever the way.  A path that reads the images as
bytes (MNIST's pixels are uint8; the ``halide`` path scales them in registers) moves ``input_bytes`` = 1 a
value of the first layer's input instead of 4.  A batch norm is counted as
a layer of its own (on the deployment paths it folds into its convolution: the model is a ceiling there).
"""

from __future__ import annotations

import math

from sepbench.core.spec import LayerSpec, LayerSummary, ModelSpec

BYTES_PER_VALUE = 4  # float32
WAYS = ("im2col", "direct", "fused")
INPUT_BYTES = {"float32": 4, "uint8": 1}  # bytes a pixel of each input type a path can read


def _values(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _intermediate_values(layer: LayerSpec, row: LayerSummary) -> int:
    """Values a two-stage layer writes between its stages (and reads back): per image."""
    if layer.kind == "separable_conv":
        oh, ow, _ = row.output_shape
        return oh * ow * row.input_shape[2]  # the depthwise output, before the pointwise GEMM
    if layer.kind == "spatial_separable_conv":
        oh, _, _ = row.output_shape
        return oh * row.input_shape[1] * row.input_shape[2]  # the k x 1 column pass, before the 1 x k rows
    return 0


def _patch_values(layer: LayerSpec, row: LayerSummary) -> int:
    """Values of a convolution's patch matrix (im2col), per image: one row of k x k x C per output pixel."""
    if layer.kind in ("conv", "separable_conv", "depthwise_conv"):
        oh, ow, _ = row.output_shape
        return oh * ow * layer.kernel * layer.kernel * row.input_shape[2]
    if layer.kind == "spatial_separable_conv":  # k x 1 patches for the column pass, 1 x k for the rows
        oh, ow, _ = row.output_shape
        c, w, k = row.input_shape[2], row.input_shape[1], layer.kernel
        return oh * w * k * c + oh * ow * k * c
    return 0


def layer_bytes(layer: LayerSpec, row: LayerSummary, way: str) -> int:
    """Bytes per image one layer moves when computed layer by layer (``im2col`` or ``direct``)."""
    if way not in ("im2col", "direct"):
        raise ValueError(f"layer_bytes: a layer-by-layer way (im2col, direct), not {way!r}")
    values = _values(row.input_shape) + _values(row.output_shape) + 2 * _intermediate_values(layer, row)
    if way == "im2col":
        values += 2 * _patch_values(layer, row)
    return BYTES_PER_VALUE * values


def bytes_per_image(spec: ModelSpec, way: str, input_bytes: int = BYTES_PER_VALUE) -> int:
    """Bytes per image the model moves through memory computed ``way`` (one of :data:`WAYS`), weights not
    included; the images read at ``input_bytes`` a value (:data:`INPUT_BYTES`: 4 for float32, 1 for bytes)."""
    if way not in WAYS:
        raise ValueError(f"unknown way of computing {way!r}; known: {', '.join(WAYS)}")
    if input_bytes not in INPUT_BYTES.values():
        raise ValueError(f"input_bytes must be one of {sorted(set(INPUT_BYTES.values()))} (a pixel type's size), got {input_bytes!r}")
    rows = spec.summary()
    saved = (BYTES_PER_VALUE - input_bytes) * _values(spec.input_shape)  # the first layer reads the images once
    if way == "fused":
        return BYTES_PER_VALUE * (_values(spec.input_shape) + _values(rows[-1].output_shape)) - saved
    return sum(layer_bytes(layer, row, way) for layer, row in zip(spec.layers, rows)) - saved


def floor_seconds(
    spec: ModelSpec, way: str, n_images: int, gemm_gflops: float, mem_gbs: float, input_bytes: int = BYTES_PER_VALUE
) -> tuple[float, float, float]:
    """``(floor, compute, memory)`` seconds for ``n_images``: the compute roof (2 x MACs x images at
    ``gemm_gflops`` GFLOP/s), the memory roof (bytes moved ``way``, the images at ``input_bytes`` a value,
    plus the weights once, at ``mem_gbs`` GB/s) and the floor, the larger of the two.  NaN where a rate is
    missing or not positive."""
    if not (gemm_gflops and gemm_gflops > 0 and mem_gbs and mem_gbs > 0):
        return math.nan, math.nan, math.nan
    params = sum(row.params for row in spec.summary())
    compute = 2.0 * spec.macs * n_images / (gemm_gflops * 1e9)
    memory = (bytes_per_image(spec, way, input_bytes) * n_images + BYTES_PER_VALUE * params) / (mem_gbs * 1e9)
    return max(compute, memory), compute, memory


def compute_limit_seconds(macs_per_image: int, n_images: int, flops: float) -> float:
    """Seconds the arithmetic alone needs: 2 FLOP per MAC x ``macs_per_image`` x ``n_images`` / ``flops`` (FLOP/s)."""
    if flops <= 0 or not math.isfinite(flops):
        raise ValueError(f"flops must be a positive FLOP/s figure, got {flops!r}")
    if macs_per_image < 0 or n_images < 0:
        raise ValueError("macs_per_image and n_images must be >= 0")
    return 2.0 * macs_per_image * n_images / flops
