"""The algorithm of a model as Halide Funcs (:mod:`impls.halide_pipeline` assembles and compiles it,
:mod:`impls.halide_schedules` schedules it): written per layer kind from the spec's layers after batch-norm
folding (:func:`impls.fold.inference_layers`), on activations ``a(n, x, y, c)`` (an image) or ``a(n, i)``
(flat), ``n`` the image.  Weights are inputs (Halide buffers of the Keras tensors, whose axes Halide reads
reversed: a conv kernel ``(kh, kw, c_in, f)`` is ``K[f, c, kx, ky]``).

Two rewrites keep work out of the blocks (docs/fast-paths.md measures both):

* the pointwise pass of a separable layer on one input channel (an outer product, :class:`RankOne`) is not
  stored where a depthwise, separable or relu layer reads it: a depthwise pass sums its taps over the one
  map and applies the factors once a value (:func:`_depthwise_of_rank_one`), a relu computes it as it reads it;
* bytes in a block stay bytes, converted where read, where the first layer is linear in its input: its input
  weights take the 1/255 instead, once a call (:meth:`Builder.weight`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import halide as hl

from impls.halide_schedules import Stage
from sepbench.core.spec import LayerSpec, Shape

PIXELS = ("float32", "uint8")  # the input types a pipeline takes: values in [0, 1], or raw 0..255 scaled by 1/255
_PIXEL_TYPES = {"float32": hl.Float(32), "uint8": hl.UInt(8)}
_PIXELS: dict[str, Callable[[hl.Expr], hl.Expr]] = {
    "float32": lambda v: v,
    # as sepbench.core.pixels.scale_pixels: float32(v) / 255, a true division (strict:
    # Halide would otherwise multiply by 1/255, one ulp off for half the byte values)
    "uint8": lambda v: hl.strict_float(hl.f32(v) / hl.f32(255.0)),
}

LayerShapes = tuple[tuple[LayerSpec, Shape], ...]  # (layer, its input shape) of the layers a path runs


class Builder:
    """The algorithm of one model: Funcs per layer, the weight inputs, the stages a schedule tiles."""

    def __init__(self, input_shape: Shape, lanes: bool, pixels: str = "float32", fold_scale: bool = False) -> None:
        self.n, self.x, self.y, self.c = hl.Var("n"), hl.Var("x"), hl.Var("y"), hl.Var("c")
        self.params: list[hl.ImageParam] = []
        self.stages: list[Stage] = []
        self.pointwise: list[hl.Func] = []  # cheap per-value Funcs (relu, softmax parts)
        self.rank_one: list[RankOne] = []  # pointwise passes of one input channel: one FMA a value (see _depthwise)
        self.per_call: list[hl.Func] = []  # functions of the weights alone: computed once a call
        self.input_scale: Callable[[hl.Expr], hl.Expr] | None = None  # the source's scaling, where left to the weights
        self.scaled_weights: list[hl.Func] = []  # the weights that took it
        self.stored: list[tuple[hl.Func, int]] = []  # those of them stored (see algorithm), with their channels
        h, w, c = input_shape
        n = self.n
        scaled = _PIXELS[pixels]
        if lanes:  # an image is one row of h*w*c values (a NumPy (N, h*w*c) array): transposed a square at a time
            self.per_task = hl.Param(hl.Int(32), "blocks_per_task")  # blocks of images a parallel task runs
            self.values = h * w * c
            self.images = self._input(hl.ImageParam(_PIXEL_TYPES[pixels], 2, "images"), (self.values,))
            self.p = hl.Var("p")
            self.rows = hl.Func("image_rows")  # a square tile of values x images, in registers
            self.rows[self.p, n] = self.images[self.p, n]
            self.transposed = hl.Func("images_by_lane")  # n innermost: a block's input, on the stack
            self.source: Callable[..., hl.Expr] = lambda n, x, y, ch: self.transposed[n, (y * w + x) * c + ch]
            if fold_scale:  # kept as bytes (a quarter of the stack, in L1), converted where read
                self.transposed[n, self.p] = self.rows[self.p, n]
                self.source, self.input_scale = lambda *idx, raw=self.source: hl.f32(raw(*idx)), scaled
            else:
                self.transposed[n, self.p] = scaled(self.rows[self.p, n])
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

    def weight(self, name: str, keras_shape: Shape, get: Source | None = None) -> hl.ImageParam | hl.Func:
        """The weight input ``name``; where it multiplies ``get`` and ``get`` left its scaling to the weights
        (raw bytes), the weight scaled instead, once a call."""
        p = hl.ImageParam(hl.Float(32), len(keras_shape), name.replace("/", "_"))
        self.params.append(self._input(p, tuple(reversed(keras_shape))))
        if get is None or get.input_scale is None:
            return p
        scaled, idx = hl.Func(p.name() + "_scaled"), [hl.Var() for _ in keras_shape]
        scaled[idx] = get.input_scale(p[idx])
        self.per_call.append(scaled)
        self.scaled_weights.append(scaled)
        return scaled

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
    input_scale: Callable[[hl.Expr], hl.Expr] | None = None  # left to the weights that multiply it (Builder.weight)

    def __call__(self, *idx: hl.Expr) -> hl.Expr:
        return self.get(*idx)


def _read(b: Builder, a: hl.Func | None) -> Source:
    """The activation ``a`` (or, before the first layer, the images: scaled, or raw with the scaling left to the
    weights that multiply them, ``input_scale``)."""
    if a is None:
        return Source(b.source, input_scale=b.input_scale)
    return Source(lambda *idx: a[list(idx)], next((ro for ro in b.rank_one if ro.func is a), None))


def _conv(b: Builder, layer: LayerSpec, shape: Shape, get: Source, out_shape: Shape) -> hl.Func:
    k, s, f, name = layer.kernel, layer.stride, layer.filters, layer.name
    kern, bias = b.weight(f"{name}/kernel", (k, k, shape[-1], f), get), b.weight(f"{name}/bias", (f,))
    r = hl.RDom([(0, shape[-1]), (0, k), (0, k)], name + "_r")

    def term(n, x, y, o, r):
        return get(n, x * s + r[1], y * s + r[2], r[0]) * kern[o, r[0], r[1], r[2]]

    return b.reduce(name, out_shape, bias[b.c], r, term)


def _depthwise(b: Builder, layer: LayerSpec, shape: Shape, get: Source, out_shape: Shape) -> hl.Func:
    """A depthwise conv, or a separable one: its depthwise pass (no bias), then the pointwise pass."""
    k, s, f, name, c_in = layer.kernel, layer.stride, layer.filters, layer.name, shape[-1]
    dk = b.weight(f"{name}/depthwise_kernel", (k, k, c_in, 1), get)
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
        pw = hl.Func(name + "_pw")  # (algorithm() stores it where its reader would recompute it)
        pw[b.n, b.x, b.y, b.c] = bias[b.c] + dw[b.n, b.x, b.y, 0] * pk[b.c, 0, 0, 0]
        b.rank_one.append(RankOne(pw, dw, lambda ch: pk[ch, 0, 0, 0], lambda ch: bias[ch]))
        return pw
    rc = hl.RDom([(0, c_in)], name + "_pr")
    return b.reduce(name + "_pw", out_shape, bias[b.c], rc, lambda n, x, y, o, r: dw[n, x, y, r[0]] * pk[o, r[0], 0, 0])


def _depthwise_of_rank_one(
    b: Builder, name: str, shape: Shape, a: RankOne, dk: hl.ImageParam | hl.Func, s: int, k: int, init: hl.Expr
) -> hl.Func:
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
    ck = b.weight(f"{name}/column_kernel", (k, 1, c_in, 1), get)
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


_SCALES_WEIGHTS = ("conv", "depthwise_conv", "separable_conv", "spatial_separable_conv")  # linear in the input

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


def algorithm(input_shape: Shape, layers: LayerShapes, softmax: bool, lanes: bool, pixels: str) -> tuple[Builder, hl.Func, Shape]:
    """The Funcs of ``layers`` (batch norms folded away) on images of ``input_shape`` for the ``lanes``
    schedule or not, input of type ``pixels``: the builder (its stages and lists, for a schedule), the last
    Func (the probabilities if ``softmax``) and its shape."""
    b = Builder(input_shape, lanes, pixels, fold_scale=lanes and pixels == "uint8" and layers[0][0].kind in _SCALES_WEIGHTS)
    a, shape = None, input_shape
    for i, (layer, in_shape) in enumerate(layers):
        a, shape = _layer(b, layer, in_shape, a)
        if i == 0 and b.input_scale is not None and not b.scaled_weights:  # raw bytes would reach the model unscaled
            raise RuntimeError(f"{layer.kind} is in _SCALES_WEIGHTS but gave Builder.weight no tensor of its input")
        reader = layers[i + 1][0].kind if i + 1 < len(layers) else None
        if any(a is ro.func for ro in b.rank_one) and reader not in _READ_ONCE:
            b.stored.append((a, shape[-1]))
    return b, _softmax(b, a, math.prod(shape)) if softmax else a, shape
