"""A model of the spec as one Halide pipeline (the algorithm once, two schedules), JIT-compiled by the
``halide`` wheel: no C compiler needed.

The algorithm (:mod:`impls.halide_algorithm`) is written per layer kind from the spec's layers after
batch-norm folding.  Weights are inputs of the pipeline, so the machine code depends on the model's shapes
only: :func:`compiled` caches it per shape, and new weights need no compile.

Two schedules (:mod:`impls.halide_schedules`; docs/fast-paths.md gives the layout argument and the
measurements):

* ``lanes`` (batches): **one image per SIMD lane**.  A block of as many images as a vector has float32
  lanes (:func:`registers`: 16 on AVX-512, 8 on AVX2) runs through every layer before the next block; every
  value of every layer is a vector of a block's images, so even the first layer's one input channel fills
  the register, and a weight is one broadcast shared by them.  Each weighted layer keeps a tile of ``x``
  output pixels x ``f`` channels in vector registers (at most 3/4 of the registers, at least
  8 independent FMA chains where the row allows), loops over the taps and input channels, and writes the tile
  once.  The input block is transposed (``n`` innermost) on its way in, a square of values x images at a
  time in registers (dense loads, shuffles, dense stores); bytes
  (:data:`PIXELS`) stay bytes where the first layer's weights can take the 1/255, else are scaled there.
* ``single`` (one image, or the few left over from the blocks): **channels in the lanes**, the layout
  of the NumPy fused kernel, one image after another.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Any

import halide as hl

from impls.halide_algorithm import PIXELS, Builder, LayerShapes, algorithm
from impls.halide_schedules import Registers, registers, schedule_lanes, schedule_single
from sepbench.core.spec import Shape

__all__ = [
    "PIXELS",
    "SCHEDULES",
    "Builder",
    "Compiled",
    "Registers",
    "compiled",
    "describe_target",
    "in_blocks",
    "registers",
    "scheduled",
    "weight_names",
]

SCHEDULES = ("lanes", "single")


@dataclass(frozen=True)
class Compiled:
    """A JIT-compiled pipeline: call it with the input, the weights (:func:`weight_names` order) and the output."""

    run: Any  # halide.Callable: (images, [blocks per task: lanes only], *weights, out) -> None
    weight_names: tuple[str, ...]  # "layer/tensor" of each weight input, in argument order
    schedule: str
    pixels: str  # the input's type (:data:`PIXELS`)
    compile_seconds: float  # wall seconds of Halide's JIT compile


def weight_names(layers: LayerShapes) -> tuple[str, ...]:
    """The tensors the pipeline takes, ``"layer/tensor"``, in argument order."""
    names = []
    for layer, _ in layers:
        tensors = {
            "conv": ("kernel", "bias"),
            "depthwise_conv": ("depthwise_kernel", "bias"),
            "separable_conv": ("depthwise_kernel", "pointwise_kernel", "bias"),
            "spatial_separable_conv": ("column_kernel", "row_kernel", "bias"),
            "dense": ("kernel", "bias"),
        }.get(layer.kind, ())
        names += [f"{layer.name}/{t}" for t in tensors]
    return tuple(names)


def scheduled(
    input_shape: Shape, layers: LayerShapes, softmax: bool, schedule: str, pixels: str = "float32", regs: Registers | None = None
) -> tuple[hl.Pipeline, list[hl.ImageParam]]:
    """The pipeline of ``layers`` (batch norms folded away) on images of ``input_shape`` with ``schedule``
    (one of :data:`SCHEDULES`) for input of type ``pixels`` (one of :data:`PIXELS`) and the vector registers
    ``regs`` (default: this machine's, :func:`registers`), not compiled, and its arguments (the images, the
    blocks per parallel task (``lanes`` only), then the weights; e.g. for ``print_loop_nest`` or
    ``compile_to_lowered_stmt``)."""
    regs = regs or registers()
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    if pixels not in PIXELS:
        raise ValueError(f"unknown pixel type {pixels!r}; known: {', '.join(PIXELS)}")
    b, z, shape = algorithm(input_shape, layers, softmax, schedule == "lanes", pixels)
    for f in b.per_call:  # functions of the weights alone (scaled weights, tap sums): once a call, before any block
        f.compute_root()
    values = math.prod(shape)
    out = hl.Func("out")  # (value, image): the NumPy (N, values) array as Halide reads it
    j = hl.Var("j")
    if len(shape) == 3:  # a model that ends on an image: its values in NHWC order
        h_, w_, c_ = shape
        out[j, b.n] = z[b.n, (j // c_) % w_, j // (c_ * w_), j % c_]
    else:
        out[j, b.n] = z[b.n, j]
    out.bound(j, 0, values)
    outer = hl.Var("block")
    if schedule == "lanes":
        inner, blocks, task = hl.Var("lane"), hl.Var("blocks"), hl.Var("task")
        # blocks in tasks of `blocks_per_task` on Halide's thread pool (the Python binding's call holds the GIL,
        # so Python threads calling it ran one at a time)
        out.split(b.n, blocks, inner, regs.lanes, hl.TailStrategy.RoundUp)
        out.split(blocks, task, outer, b.per_task, hl.TailStrategy.GuardWithIf)
        out.reorder(j, inner, outer, task).vectorize(inner).unroll(j).parallel(task)
        schedule_lanes(b, out, outer, regs)
    else:
        out.reorder(j, b.n)
        schedule_single(b, out, b.n, regs)
    return hl.Pipeline(out), [b.images, *([b.per_task] if schedule == "lanes" else []), *b.params]


@functools.lru_cache(maxsize=32)
def compiled(input_shape: Shape, layers: LayerShapes, softmax: bool, schedule: str, pixels: str = "float32") -> Compiled:
    """:func:`scheduled`'s pipeline compiled for this CPU (its JIT target, ``HL_JIT_TARGET`` where set), cached
    per shape: weights are its inputs.  Takes images as Halide reads a NumPy array, ``(N, H, W, C)`` for
    ``single``, ``(N, H * W * C)`` for ``lanes`` (the same memory), and writes ``(N, values)``."""
    pipeline, args = scheduled(input_shape, layers, softmax, schedule, pixels)
    start = time.perf_counter()
    run = pipeline.compile_to_callable(args, hl.get_jit_target_from_environment())
    return Compiled(run, weight_names(layers), schedule, pixels, time.perf_counter() - start)


def describe_target() -> str:
    """The CPU Halide compiles for (its ISA features), e.g. ``x86-64-linux-avx512...``."""
    return str(hl.get_jit_target_from_environment())


def in_blocks(n: int, lanes: int) -> int:
    """How many of ``n`` images the ``lanes`` schedule runs (whole blocks of ``lanes``, :func:`registers`'s);
    the rest run ``single``."""
    return n - n % lanes
