"""The memory budget of a model's tensors, computed from its spec before anything is built.

A pair file can ask for any shape its schema allows: a 4096x4096x4096 input, 65,536 filters.  Nothing
about such a model is allocated until these checks pass: each weight tensor, all the weights, one
image's largest activation, and a batch of images (float32 throughout, bytes).  Every refusal is one
line naming the model (and layer or option), the bytes asked and the budget (docs/threat-model.md).
"""

from __future__ import annotations

import math

from sepbench.core.spec import WINDOW_KINDS, ModelSpec

MAX_TENSOR_BYTES = 64 * 2**20  # one weight tensor: far above any model here (the regular one holds 34 KB in all)
MAX_WEIGHT_BYTES = 256 * 2**20  # all of a model's weights
MAX_ACTIVATION_BYTES = 64 * 2**20  # one image's largest activation (a layer's input or output, or a convolution's patches)
MAX_BATCH_BYTES = 4 * 2**30  # a batch's largest activation: images per call x the per-image figure
# the counts of a model within these budgets, which a result row's may not pass (sepbench/results/tidy.py): float32
# parameters; MACs per image, each multiplying one of an image's activation values (a convolution's patches included)
# by one weight, so at most the largest activation x the parameters, layer by layer
MAX_PARAMS = MAX_WEIGHT_BYTES // 4
MAX_MACS = MAX_ACTIVATION_BYTES // 4 * MAX_PARAMS


def activation_bytes(spec: ModelSpec) -> int:
    """Bytes of one image's largest float32 activation: the input, a layer's output, or a windowed layer's
    patches (``out_h x out_w x kernel^2 x c_in``: what a convolution lowered to a GEMM holds)."""
    sizes = [math.prod(spec.input_shape)]
    for layer, row in zip(spec.layers, spec.summary()):
        sizes.append(math.prod(row.output_shape))
        if layer.kind in WINDOW_KINDS:
            sizes.append(row.output_shape[0] * row.output_shape[1] * layer.kernel**2 * row.input_shape[-1])
    return 4 * max(sizes)


def check_model(spec: ModelSpec) -> None:
    """Refuse a model whose tensors would pass a budget: one weight tensor (:data:`MAX_TENSOR_BYTES`), all
    weights (:data:`MAX_WEIGHT_BYTES`), one image's largest activation (:data:`MAX_ACTIVATION_BYTES`)."""
    for name, shape in spec.tensor_shapes().items():
        need = 4 * math.prod(shape)
        if need > MAX_TENSOR_BYTES:
            raise ValueError(f"model {spec.name!r}: tensor {name} {shape} needs {size(need)}; the budget is {size(MAX_TENSOR_BYTES)}")
    if spec.float32_bytes > MAX_WEIGHT_BYTES:
        raise ValueError(f"model {spec.name!r}: its weights need {size(spec.float32_bytes)}; the budget is {size(MAX_WEIGHT_BYTES)}")
    need = activation_bytes(spec)
    if need > MAX_ACTIVATION_BYTES:
        raise ValueError(
            f"model {spec.name!r} on a {'x'.join(map(str, spec.input_shape))} input: one image's largest activation needs "
            f"{size(need)}; the budget is {size(MAX_ACTIVATION_BYTES)}"
        )


def check_batch(spec: ModelSpec, images: int, what: str) -> None:
    """Refuse ``images`` at once (``what``: the option or field that asked) whose largest activation would pass
    :data:`MAX_BATCH_BYTES`."""
    one = activation_bytes(spec)
    if images * one > MAX_BATCH_BYTES:
        raise ValueError(
            f"{what}: {images:,} images of model {spec.name!r} need {size(images * one)} at once; the budget is "
            f"{size(MAX_BATCH_BYTES)} (at most {MAX_BATCH_BYTES // one:,} images)"
        )


def size(n: int) -> str:
    """Bytes for a message: ``1,234 bytes`` or ``3.2 GiB``."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} bytes"
