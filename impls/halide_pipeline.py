"""A model of the spec as one Halide pipeline (the algorithm once, two schedules), JIT-compiled by the
``halide`` wheel: no C compiler needed.

The algorithm is written per layer kind from the spec's layers after batch-norm folding
(:func:`impls.fold.inference_layers`), on activations ``a(n, x, y, c)`` (an image) or ``a(n, i)``
(flat), ``n`` the image.  Weights are inputs of the pipeline (Halide buffers of the Keras tensors, whose
axes Halide reads reversed: a conv kernel ``(kh, kw, c_in, f)`` is ``K[f, c, kx, ky]``), so the machine
code depends on the model's shapes only: :func:`compiled` caches it per shape, and new weights need no
compile.

Two schedules (:mod:`impls.halide_schedules`; docs/fast-paths.md gives the layout argument and the
measurements):

* ``lanes`` (batches): **one image per SIMD lane**.  A block of :data:`LANES` images runs through every
  layer before the next block; every value of every layer is a vector of 16 images, so even the first
  layer's one input channel fills the register, and a weight is one broadcast shared by the 16.  Each
  weighted layer keeps a tile of ``x`` output pixels x ``f`` channels in vector registers (at most
  :data:`ACCUMULATORS`, at least :data:`MIN_CHAINS` where the row allows), loops over the taps and input
  channels, and writes the tile once.  The input block is transposed (``n`` innermost) on its way in,
  16 values of 16 images at a time in registers (dense loads, shuffles, dense stores), and scaled there
  if it came as bytes (:data:`PIXELS`).  The pointwise pass of a separable layer on one input channel (an
  outer product, :class:`RankOne`) is not stored where a depthwise, separable or relu layer reads it: a
  depthwise pass sums its taps over the one map and applies the factors once a value
  (:func:`_depthwise_of_rank_one`), a relu computes it as it reads it.
* ``single`` (one image, or the few left over from the blocks): **channels in the lanes**, the layout
  of the NumPy fused kernel, one image after another.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import halide as hl

from impls.halide_schedules import ACCUMULATORS, LANES, MIN_CHAINS, Stage, schedule_lanes, schedule_single
from sepbench.core.spec import LayerSpec, Shape

__all__ = [
    "ACCUMULATORS",
    "LANES",
    "MIN_CHAINS",
    "PIXELS",
    "SCHEDULES",
    "Builder",
    "Compiled",
    "compiled",
    "describe_target",
    "in_blocks",
    "scheduled",
    "weight_names",
]

SCHEDULES = ("lanes", "single")

PIXELS = ("float32", "uint8")  # the input types a pipeline takes: values in [0, 1], or raw 0..255 scaled by 1/255
_PIXEL_TYPES = {"float32": hl.Float(32), "uint8": hl.UInt(8)}
_PIXELS: dict[str, Callable[[hl.Expr], hl.Expr]] = {
    "float32": lambda v: v,
    # as sepbench.core.pixels.scale_pixels: float32(v) / 255, a true division (strict:
    # Halide would otherwise multiply by 1/255, one ulp off for half the byte values)
    "uint8": lambda v: hl.strict_float(hl.f32(v) / hl.f32(255.0)),
}

LayerShapes = tuple[tuple[LayerSpec, Shape], ...]  # (layer, its input shape) of the layers a path runs


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


class Builder:
    """The algorithm of one model: Funcs per layer, the weight inputs, the stages a schedule tiles."""

    def __init__(self, input_shape: Shape, lanes: bool, pixels: str = "float32") -> None:
        self.n, self.x, self.y, self.c = hl.Var("n"), hl.Var("x"), hl.Var("y"), hl.Var("c")
        self.params: list[hl.ImageParam] = []
        self.stages: list[Stage] = []
        self.pointwise: list[hl.Func] = []  # cheap per-value Funcs (relu, softmax parts)
        self.rank_one: list[RankOne] = []  # pointwise passes of one input channel: one FMA a value (see _depthwise)
        self.per_call: list[hl.Func] = []  # functions of the weights alone: computed once a call
        self.stored: list[tuple[hl.Func, int]] = []  # those of them stored (see scheduled), with their channels
        h, w, c = input_shape
        n = self.n
        scaled = _PIXELS[pixels]
        if lanes:  # an image is one row of h*w*c values (a NumPy (N, h*w*c) array): blocks of 16 x 16 transpose
            self.per_task = hl.Param(hl.Int(32), "blocks_per_task")  # blocks of LANES images a parallel task runs
            self.values = h * w * c
            self.images = self._input(hl.ImageParam(_PIXEL_TYPES[pixels], 2, "images"), (self.values,))
            self.p = hl.Var("p")
            self.rows = hl.Func("image_rows")  # a 16 x 16 tile of values x images, in registers
            self.rows[self.p, n] = self.images[self.p, n]
            self.transposed = hl.Func("images_by_lane")  # n innermost: a block's input, scaled, on the stack
            self.transposed[n, self.p] = scaled(self.rows[self.p, n])
            self.source: Callable[..., hl.Expr] = lambda n, x, y, ch: self.transposed[n, (y * w + x) * c + ch]
        else:
            self.images = self._input(hl.ImageParam(_PIXEL_TYPES[pixels], 4, "images"), (c, w, h))
            self.source = lambda n, x, y, ch: scaled(self.images[ch, x, y, n])

    def _input(self, p: hl.ImageParam, extents: tuple[int, ...]) -> hl.ImageParam:
        """Tell Halide the fixed extents and dense strides (the last dimension's too, its extent free), so
        that indexing folds to constants."""
        stride = 1
        for d, e in enumerate(extents):
            p.dim(d).set_bounds(0, e).set_stride(stride)
            stride *= e
        if p.dimensions() > len(extents):
            p.dim(len(extents)).set_stride(stride)
        return p

    def weight(self, name: str, keras_shape: Shape) -> hl.ImageParam:
        p = hl.ImageParam(hl.Float(32), len(keras_shape), name.replace("/", "_"))
        self.params.append(self._input(p, tuple(reversed(keras_shape))))
        return p

    def reduce(
        self,
        name: str,
        shape: Shape,
        init: hl.Expr,
        r: hl.RDom,
        term: Callable[..., hl.Expr],
        shared_taps: bool = False,
        per_channel: bool = False,
        finish: Callable[[hl.Expr], hl.Expr] = lambda total: total,
    ) -> hl.Func:
        """``out = finish(init + sum over r of term)``, as a tiled stage; ``term(*vars, r)``; ``shared_taps``:
        ``r[0]`` is a tap along x (so a tile of pixels shares its inputs once that loop is unrolled);
        ``per_channel``: output channel ``c`` reads input channel ``c`` only; ``finish`` runs once a value,
        as the tile leaves its registers."""
        acc, out = hl.Func(name + "_acc"), hl.Func(name)
        args = [self.n, self.x, self.y, self.c] if len(shape) == 3 else [self.n, self.c]
        acc[args] = init
        acc[args] += term(*args, r)
        out[args] = finish(acc[args])
        self.stages.append(Stage(out, acc, r, shape, shared_taps, per_channel))
        return out


@dataclass(frozen=True)
class RankOne:
    """An activation ``func[n, x, y, c] = offset(c) + scale(c) * single[n, x, y, 0]``: the pointwise pass of a
    separable layer on one input channel (an outer product), with its factors."""

    func: hl.Func
    single: hl.Func  # the one-channel map (the layer's depthwise pass)
    scale: Callable[[hl.Expr], hl.Expr]  # of output channel c: its pointwise weight
    offset: Callable[[hl.Expr], hl.Expr]  # of output channel c: its bias


@dataclass(frozen=True)
class Source:
    """A layer's input as ``get(n, x, y, c)`` (or ``get(n, i)``), and its factors where it is :class:`RankOne`."""

    get: Callable[..., hl.Expr]
    rank_one: RankOne | None = None

    def __call__(self, *idx: hl.Expr) -> hl.Expr:
        return self.get(*idx)


def _read(b: Builder, a: hl.Func | None) -> Source:
    """The activation ``a`` (or, before the first layer, the images, scaled)."""
    if a is None:
        return Source(b.source)
    return Source(lambda *idx: a[list(idx)], next((ro for ro in b.rank_one if ro.func is a), None))


def _conv(b: Builder, layer: LayerSpec, shape: Shape, get: Source, out_shape: Shape) -> hl.Func:
    k, s, f, name = layer.kernel, layer.stride, layer.filters, layer.name
    kern, bias = b.weight(f"{name}/kernel", (k, k, shape[-1], f)), b.weight(f"{name}/bias", (f,))
    r = hl.RDom([(0, shape[-1]), (0, k), (0, k)], name + "_r")

    def term(n, x, y, o, r):
        return get(n, x * s + r[1], y * s + r[2], r[0]) * kern[o, r[0], r[1], r[2]]

    return b.reduce(name, out_shape, bias[b.c], r, term)


def _depthwise(b: Builder, layer: LayerSpec, shape: Shape, get: Source, out_shape: Shape) -> hl.Func:
    """A depthwise conv, or a separable one: its depthwise pass (no bias), then the pointwise pass."""
    k, s, f, name, c_in = layer.kernel, layer.stride, layer.filters, layer.name, shape[-1]
    dk = b.weight(f"{name}/depthwise_kernel", (k, k, c_in, 1))
    pk = b.weight(f"{name}/pointwise_kernel", (1, 1, c_in, f)) if layer.kind == "separable_conv" else None
    bias = b.weight(f"{name}/bias", (f if pk is not None else c_in,))
    r = hl.RDom([(0, k), (0, k)], name + "_dr")
    dw_name, dw_shape = (name, out_shape) if pk is None else (name + "_dw", (out_shape[0], out_shape[1], c_in))
    init = bias[b.c] if pk is None else hl.f32(0.0)  # a separable layer's bias follows its pointwise pass
    if get.rank_one is None:

        def taps(n, x, y, ch, r):
            return get(n, x * s + r[0], y * s + r[1], ch) * dk[0, ch, r[0], r[1]]

        dw = b.reduce(dw_name, dw_shape, init, r, taps, shared_taps=True, per_channel=True)
    else:
        dw = _depthwise_of_rank_one(b, dw_name, dw_shape, get.rank_one, dk, s, k, init)
    if pk is None:
        return dw
    if c_in == 1:  # an outer product, one FMA a value: as cheap to recompute where it is read as to store and load
        pw = hl.Func(name + "_pw")  # (scheduled() inlines it, or stores it where its reader would recompute it)
        pw[b.n, b.x, b.y, b.c] = bias[b.c] + dw[b.n, b.x, b.y, 0] * pk[b.c, 0, 0, 0]
        b.rank_one.append(RankOne(pw, dw, lambda ch: pk[ch, 0, 0, 0], lambda ch: bias[ch]))
        return pw
    rc = hl.RDom([(0, c_in)], name + "_pr")
    return b.reduce(name + "_pw", out_shape, bias[b.c], rc, lambda n, x, y, o, r: dw[n, x, y, r[0]] * pk[o, r[0], 0, 0])


def _depthwise_of_rank_one(b: Builder, name: str, shape: Shape, a: RankOne, dk: hl.ImageParam, s: int, k: int, init: hl.Expr) -> hl.Func:
    """A depthwise pass on a rank-one input: channel c's taps over ``offset(c) + scale(c) * single`` are
    ``offset(c) * (their sum) + scale(c) * (their sum over single)``: a tile's channels share each load of
    the one map, and the factors apply once a value, not once a tap."""
    r, rs = hl.RDom([(0, k), (0, k)], name + "_r"), hl.RDom([(0, k), (0, k)], name + "_sum_r")
    tap_sums = hl.Func(name + "_tap_sums")
    tap_sums[b.c] = hl.sum(dk[0, b.c, rs[0], rs[1]])
    b.per_call.append(tap_sums)

    def taps(n, x, y, ch, r):
        return a.single[n, x * s + r[0], y * s + r[1], 0] * dk[0, ch, r[0], r[1]]

    finish = lambda total: init + a.offset(b.c) * tap_sums[b.c] + a.scale(b.c) * total  # noqa: E731
    return b.reduce(name, shape, hl.f32(0.0), r, taps, shared_taps=True, finish=finish)


def _spatial(b: Builder, layer: LayerSpec, shape: Shape, get: Source, out_shape: Shape) -> hl.Func:
    """A k x 1 pass per channel (rows strided, every column kept), then a 1 x k pass across channels."""
    k, s, f, name, c_in = layer.kernel, layer.stride, layer.filters, layer.name, shape[-1]
    ck = b.weight(f"{name}/column_kernel", (k, 1, c_in, 1))
    rk = b.weight(f"{name}/row_kernel", (1, k, c_in, f))
    bias = b.weight(f"{name}/bias", (f,))
    ry = hl.RDom([(0, k)], name + "_cr")
    col = b.reduce(
        name + "_col",
        (out_shape[0], shape[1], c_in),
        hl.f32(0.0),
        ry,
        lambda n, x, y, ch, r: get(n, x, y * s + r[0], ch) * ck[0, ch, 0, r[0]],
    )
    rx = hl.RDom([(0, k), (0, c_in)], name + "_rr")

    def row(n, x, y, o, r):
        return col[n, x * s + r[0], y, r[1]] * rk[o, r[1], r[0], 0]

    return b.reduce(name + "_row", out_shape, bias[b.c], rx, row, shared_taps=True)


def _pool(b: Builder, layer: LayerSpec, shape: Shape, get: Source, out_shape: Shape) -> hl.Func:
    """The mean of each window (``avg_pool``) or of the whole image (``global_avg_pool``)."""
    whole = layer.kind == "global_avg_pool"
    kh, kw = shape[:2] if whole else (layer.kernel, layer.kernel)
    s, scale = layer.stride, hl.f32(1.0 / (kh * kw))
    r = hl.RDom([(0, kw), (0, kh)], layer.name + "_r")
    if whole:
        return b.reduce(layer.name, out_shape, hl.f32(0.0), r, lambda n, ch, r: get(n, r[0], r[1], ch) * scale)

    def window(n, x, y, ch, r):
        return get(n, x * s + r[0], y * s + r[1], ch) * scale

    return b.reduce(layer.name, out_shape, hl.f32(0.0), r, window, shared_taps=True, per_channel=True)


def _dense(b: Builder, layer: LayerSpec, shape: Shape, get: Source, out_shape: Shape) -> hl.Func:
    kern, bias = b.weight(f"{layer.name}/kernel", (shape[0], layer.filters)), b.weight(f"{layer.name}/bias", (layer.filters,))
    r = hl.RDom([(0, shape[0])], layer.name + "_r")
    return b.reduce(layer.name, out_shape, bias[b.c], r, lambda n, j, r: get(n, r[0]) * kern[j, r[0]])


def _relu(b: Builder, layer: LayerSpec, shape: Shape, get: Source, out_shape: Shape) -> hl.Func:
    out = hl.Func(layer.name)
    args = [b.n, b.x, b.y, b.c] if len(shape) == 3 else [b.n, b.c]
    out[args] = hl.max(get(*args), hl.f32(0.0))
    b.pointwise.append(out)
    return out


_KINDS: dict[str, Callable[[Builder, LayerSpec, Shape, Source, Shape], hl.Func]] = {
    "conv": _conv,
    "depthwise_conv": _depthwise,
    "separable_conv": _depthwise,
    "spatial_separable_conv": _spatial,
    "avg_pool": _pool,
    "global_avg_pool": _pool,
    "dense": _dense,
    "relu": _relu,
}  # every kind a path runs (batch norms are folded into the convolution before them)


# the readers that never need a rank-one pointwise pass stored: a depthwise or separable layer reads its one map
# and factors (4-5 % of the separable study model's time against computing the pass at every tap, itself 10 %
# against storing it: docs/fast-paths.md), a relu computes it as it reads it, one FMA a value; every other
# reader (a conv mixes all channels, the pooling and spatially separable passes were not measured), and a
# model ending on it, gets it stored once
_READ_ONCE = ("depthwise_conv", "separable_conv", "relu")


def _layer(b: Builder, layer: LayerSpec, shape: Shape, a: hl.Func | None) -> tuple[hl.Func, Shape]:
    """The Funcs of one layer on activation ``a`` of ``shape``; returns its output and output shape."""
    out_shape = layer.output_shape(shape)
    return _KINDS[layer.kind](b, layer, shape, _read(b, a), out_shape), out_shape


def _softmax(b: Builder, z: hl.Func, classes: int) -> hl.Func:
    r = hl.RDom([(0, classes)], "classes")
    top, e, total, p = hl.Func("top"), hl.Func("exp"), hl.Func("total"), hl.Func("probs")
    top[b.n] = hl.maximum(z[b.n, r[0]])
    e[b.n, b.c] = hl.exp(z[b.n, b.c] - top[b.n])
    total[b.n] = hl.sum(e[b.n, r[0]])
    p[b.n, b.c] = e[b.n, b.c] / total[b.n]
    b.pointwise += [top, e, total, p]
    return p


def scheduled(
    input_shape: Shape, layers: LayerShapes, softmax: bool, schedule: str, pixels: str = "float32"
) -> tuple[hl.Pipeline, list[hl.ImageParam]]:
    """The pipeline of ``layers`` (batch norms folded away) on images of ``input_shape`` with ``schedule``
    (one of :data:`SCHEDULES`) for input of type ``pixels`` (one of :data:`PIXELS`), not compiled, and its
    arguments (the images, the blocks per parallel task (``lanes`` only), then the weights; e.g. for
    ``print_loop_nest`` or ``compile_to_lowered_stmt``)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    if pixels not in PIXELS:
        raise ValueError(f"unknown pixel type {pixels!r}; known: {', '.join(PIXELS)}")
    b = Builder(input_shape, lanes=schedule == "lanes", pixels=pixels)
    a, shape = None, input_shape
    for i, (layer, in_shape) in enumerate(layers):
        a, shape = _layer(b, layer, in_shape, a)
        reader = layers[i + 1][0].kind if i + 1 < len(layers) else None
        if any(a is ro.func for ro in b.rank_one) and reader not in _READ_ONCE:
            b.stored.append((a, shape[-1]))
    values = math.prod(shape)
    z = _softmax(b, a, values) if softmax else a
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
        out.split(b.n, blocks, inner, LANES, hl.TailStrategy.RoundUp).split(blocks, task, outer, b.per_task, hl.TailStrategy.GuardWithIf)
        out.reorder(j, inner, outer, task).vectorize(inner).unroll(j).parallel(task)
        schedule_lanes(b, out, outer)
    else:
        out.reorder(j, b.n)
        schedule_single(b, out, b.n)
    return hl.Pipeline(out), [b.images, *([b.per_task] if schedule == "lanes" else []), *b.params]


@functools.lru_cache(maxsize=32)
def compiled(input_shape: Shape, layers: LayerShapes, softmax: bool, schedule: str, pixels: str = "float32") -> Compiled:
    """:func:`scheduled`'s pipeline compiled for this CPU; cached per shape: weights are its inputs.  Takes
    images as Halide reads a NumPy array, ``(N, H, W, C)`` for ``single``, ``(N, H * W * C)`` for
    ``lanes`` (the same memory), and writes ``(N, values)``."""
    pipeline, args = scheduled(input_shape, layers, softmax, schedule, pixels)
    start = time.perf_counter()
    run = pipeline.compile_to_callable(args, hl.get_jit_target_from_environment())
    return Compiled(run, weight_names(layers), schedule, pixels, time.perf_counter() - start)


def describe_target() -> str:
    """The CPU Halide compiles for (its ISA features), e.g. ``x86-64-linux-avx512...``."""
    return str(hl.get_jit_target_from_environment())


def in_blocks(n: int) -> int:
    """How many of ``n`` images the ``lanes`` schedule runs (whole blocks of :data:`LANES`); the rest run ``single``."""
    return n - n % LANES
