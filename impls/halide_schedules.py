"""The two schedules of :mod:`impls.halide_algorithm`'s Funcs: where each Func is computed and stored, how its
loops are split, vectorised and unrolled.  ``lanes`` puts one image in each SIMD lane (batches), ``single``
the channels (one image); docs/fast-paths.md gives the layout argument and the measurements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import halide as hl

from sepbench.core.spec import Shape

if TYPE_CHECKING:
    from impls.halide_algorithm import Builder

LANES = 16  # images per vector in the ``lanes`` schedule: 16 float32 lanes of an AVX-512 register
ACCUMULATORS = 24  # vector accumulators per tile: 24 of AVX-512's 32 registers, room left for operands
MIN_CHAINS = 8  # accumulators a tile needs where it can: FMA latency (4 cycles) x FMAs a cycle (up to 2)


@dataclass
class Stage:
    """One weighted or reducing layer: ``out`` (pure) reads the accumulator ``acc`` (its update over ``r``)."""

    out: hl.Func
    acc: hl.Func
    r: hl.RDom
    shape: Shape  # output shape (no batch axis)
    shared_taps: bool = False  # r[0] steps along x: neighbouring output pixels read overlapping inputs
    per_channel: bool = False  # an output channel reads its own input channel only (depthwise, pooling)


def _tile(extent: int, at_most: int) -> int:
    """The largest divisor of ``extent`` up to ``at_most`` (so a tile never needs a guard)."""
    return max(d for d in range(1, min(extent, at_most) + 1) if extent % d == 0)


def _pixels(extent: int, chan: int) -> int:
    """Output pixels of a row per tile of ``chan`` channels: at most :data:`ACCUMULATORS` accumulators and,
    where the row allows, at least :data:`MIN_CHAINS` (independent FMA chains); among those the fewest
    pixels computed in all (a last tile shifted inwards recomputes some), then the most per tile."""
    most = min(extent, max(1, ACCUMULATORS // chan))
    enough = [p for p in range(1, most + 1) if p * chan >= MIN_CHAINS] or [most]
    return min(enough, key=lambda p: (-(-extent // p) * p, -p))


def tile_shape(st: Stage) -> tuple[int, int]:
    """(output pixels along x, channels) of a tile of an image stage.  A stage that mixes channels shares an
    input load among a tile's channels: up to 8 of them, then pixels.  A per-channel stage (depthwise,
    pooling) shares nothing among channels, but its taps along x among pixels: pixels first, then the fewest
    channels that make :data:`MIN_CHAINS` accumulators."""
    width, channels = st.shape[1], st.shape[-1]
    if not st.per_channel:
        chan = _tile(channels, 8)
        return _pixels(width, chan), chan
    px = _pixels(width, 1)
    fits = [d for d in range(1, channels + 1) if channels % d == 0 and px * d <= ACCUMULATORS]
    return px, next((d for d in fits if px * d >= MIN_CHAINS), fits[-1])


def schedule_lanes(b: Builder, final: hl.Func, block: hl.Var) -> None:
    """Images in lanes: every Func of a block of LANES images at ``block``, vectorised over ``n``."""
    n = b.n
    for f in b.per_call:
        f.compute_root()
    # the block's input: 16 values of 16 images (one dense load each) transposed in registers, then stored
    # with the images innermost; a last tile of the values shifted inwards
    po, pi = hl.Var("po"), hl.Var("pi")
    b.transposed.compute_at(final, block).store_in(hl.MemoryType.Stack)
    b.transposed.split(b.p, po, pi, min(LANES, b.values), hl.TailStrategy.ShiftInwards).reorder(n, pi, po).vectorize(n).vectorize(pi)
    b.rows.compute_at(b.transposed, po).store_in(hl.MemoryType.Register).vectorize(b.p).unroll(n)
    for f in [*b.pointwise, *(f for f, _ in b.stored)]:
        f.compute_at(final, block).vectorize(n)
    for st in b.stages:
        xo, xi, co, ci = hl.Var(), hl.Var(), hl.Var(), hl.Var()
        rs = [st.r[i] for i in range(st.r.dimensions())]
        st.out.compute_at(final, block).store_in(hl.MemoryType.Stack)
        if len(st.shape) == 3:
            px, chan = tile_shape(st)
            st.out.split(b.x, xo, xi, px, hl.TailStrategy.ShiftInwards).split(b.c, co, ci, chan)
            st.out.reorder(n, ci, xi, co, xo, b.y).vectorize(n).unroll(ci).unroll(xi)
            st.acc.compute_at(st.out, co).store_in(hl.MemoryType.Register).vectorize(n).unroll(b.c).unroll(b.x)
            update = st.acc.update().reorder(n, b.c, b.x, *rs, b.y).vectorize(n).unroll(b.c).unroll(b.x)
            if st.shared_taps and px > 1:  # neighbouring pixels read the same inputs: one load serves several
                update.unroll(rs[0])
        else:
            chan = _tile(st.shape[-1], 8)
            st.out.split(b.c, co, ci, chan).reorder(n, ci, co).vectorize(n).unroll(ci)
            st.acc.compute_at(st.out, co).store_in(hl.MemoryType.Register).vectorize(n).unroll(b.c)
            st.acc.update().reorder(n, b.c, *rs).vectorize(n).unroll(b.c)


def schedule_single(b: Builder, final: hl.Func, image: hl.Var) -> None:
    """Channels in lanes, one image at a time: every Func at ``image``, vectorised over channels."""
    for f in b.per_call:
        f.compute_root()
    for f in b.pointwise:
        f.compute_at(final, image)
    for f, chan in b.stored:  # as a stage's output: channels innermost, in the loops and in memory
        f.compute_at(final, image).reorder(b.c, b.x, b.y, b.n).vectorize(b.c, _tile(chan, 16))
        f.reorder_storage(b.c, b.x, b.y, b.n)
    for st in b.stages:
        chan = st.shape[-1]
        vec = _tile(chan, 16)
        rs = [st.r[i] for i in range(st.r.dimensions())]
        if len(st.shape) == 3:
            # channels innermost, in the loops and in memory: a vector of channels is one load
            st.out.compute_at(final, image).reorder(b.c, b.x, b.y, b.n).vectorize(b.c, vec)
            st.out.reorder_storage(b.c, b.x, b.y, b.n)
            st.acc.reorder_storage(b.c, b.x, b.y, b.n)
            st.acc.compute_at(st.out, b.y).reorder(b.c, b.x, b.y, b.n).vectorize(b.c, vec)
            st.acc.update().reorder(b.c, b.x, *rs, b.y).vectorize(b.c, vec)
            if st.shape[1] * chan // vec <= ACCUMULATORS:  # a row of outputs fits the registers: keep it there
                st.acc.store_in(hl.MemoryType.Register).unroll(b.c).unroll(b.x)
                st.acc.update().unroll(b.c).unroll(b.x)
        else:
            st.out.compute_at(final, image).reorder(b.c, b.n).vectorize(b.c, vec)
            st.acc.compute_at(st.out, b.n).reorder(b.c, b.n).vectorize(b.c, vec)
            st.acc.update().reorder(b.c, *rs, b.n).vectorize(b.c, vec)
