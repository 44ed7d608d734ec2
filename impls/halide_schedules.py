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

MIN_CHAINS = 8  # accumulators a tile needs where it can: FMA latency (4 cycles) x FMAs a cycle (up to 2)


@dataclass(frozen=True)
class Registers:
    """A target's vector registers as the schedules spend them."""

    lanes: int  # float32 lanes of a vector: images a block (``lanes``), channels a vector (``single``)
    accumulators: int  # vectors a tile keeps as accumulators: 3/4 of the registers, room left for operands
    min_chains: int = MIN_CHAINS


def registers(target: hl.Target | None = None) -> Registers:
    """The registers of ``target`` (default: this machine's JIT target): AVX-512 16 lanes and 32 registers,
    AVX2 8 and 16, SSE 4 and 16, 64-bit ARM (NEON) 4 and 32.  A 16-lane block on AVX2 took 2 of its 16
    registers a value and spilled: 1.5-1.9x slower than 8 lanes (docs/fast-paths.md)."""
    t = target or hl.get_jit_target_from_environment()
    count = 32 if t.has_feature(hl.TargetFeature.AVX512) or (t.arch == hl.TargetArch.ARM and t.bits == 64) else 16
    return Registers(int(t.natural_vector_size(hl.Float(32))), count * 3 // 4)


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


def _pixels(extent: int, chan: int, regs: Registers) -> int:
    """Output pixels of a row per tile of ``chan`` channels: at most ``regs.accumulators`` accumulators and,
    where the row allows, at least ``regs.min_chains`` (independent FMA chains); among those the fewest
    pixels computed in all (a last tile shifted inwards recomputes some), then the most per tile."""
    most = min(extent, max(1, regs.accumulators // chan))
    enough = [p for p in range(1, most + 1) if p * chan >= regs.min_chains] or [most]
    return min(enough, key=lambda p: (-(-extent // p) * p, -p))


def tile_shape(st: Stage, regs: Registers) -> tuple[int, int]:
    """(output pixels along x, channels) of a tile of an image stage.  A stage that mixes channels shares an
    input load among a tile's channels: up to 8 of them, then pixels.  A per-channel stage (depthwise,
    pooling) shares nothing among channels, but its taps along x among pixels: pixels first, then the fewest
    channels that make ``regs.min_chains`` accumulators."""
    width, channels = st.shape[1], st.shape[-1]
    if not st.per_channel:
        chan = _tile(channels, 8)
        return _pixels(width, chan, regs), chan
    px = _pixels(width, 1, regs)
    fits = [d for d in range(1, channels + 1) if channels % d == 0 and px * d <= regs.accumulators]
    return px, next((d for d in fits if px * d >= regs.min_chains), fits[-1])


def schedule_lanes(b: Builder, final: hl.Func, block: hl.Var, regs: Registers) -> None:
    """Images in lanes: every Func of a block of ``regs.lanes`` images at ``block``, vectorised over ``n``."""
    n = b.n
    # the block's input: `lanes` values of `lanes` images (one dense load each) transposed in registers, then stored
    # with the images innermost; a last tile of the values shifted inwards
    po, pi = hl.Var("po"), hl.Var("pi")
    b.transposed.compute_at(final, block).store_in(hl.MemoryType.Stack)
    b.transposed.split(b.p, po, pi, min(regs.lanes, b.values), hl.TailStrategy.ShiftInwards).reorder(n, pi, po).vectorize(n).vectorize(pi)
    b.rows.compute_at(b.transposed, po).store_in(hl.MemoryType.Register).vectorize(b.p).unroll(n)
    for f in [*b.pointwise, *(f for f, _ in b.stored)]:
        f.compute_at(final, block).vectorize(n)
    for st in b.stages:
        xo, xi, co, ci = hl.Var(), hl.Var(), hl.Var(), hl.Var()
        rs = [st.r[i] for i in range(st.r.dimensions())]
        st.out.compute_at(final, block).store_in(hl.MemoryType.Stack)
        if len(st.shape) == 3:
            px, chan = tile_shape(st, regs)
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


def schedule_single(b: Builder, final: hl.Func, image: hl.Var, regs: Registers) -> None:
    """Channels in lanes, one image at a time: every Func at ``image``, vectorised over channels."""
    for f in b.pointwise:
        f.compute_at(final, image)
    for f, chan in b.stored:  # as a stage's output: channels innermost, in the loops and in memory
        f.compute_at(final, image).reorder(b.c, b.x, b.y, b.n).vectorize(b.c, _tile(chan, regs.lanes))
        f.reorder_storage(b.c, b.x, b.y, b.n)
    for st in b.stages:
        chan = st.shape[-1]
        vec = _tile(chan, regs.lanes)
        rs = [st.r[i] for i in range(st.r.dimensions())]
        if len(st.shape) == 3:
            # channels innermost, in the loops and in memory: a vector of channels is one load
            st.out.compute_at(final, image).reorder(b.c, b.x, b.y, b.n).vectorize(b.c, vec)
            st.out.reorder_storage(b.c, b.x, b.y, b.n)
            st.acc.reorder_storage(b.c, b.x, b.y, b.n)
            st.acc.compute_at(st.out, b.y).reorder(b.c, b.x, b.y, b.n).vectorize(b.c, vec)
            st.acc.update().reorder(b.c, b.x, *rs, b.y).vectorize(b.c, vec)
            if st.shape[1] * chan // vec <= regs.accumulators:  # a row of outputs fits the registers: keep it there
                st.acc.store_in(hl.MemoryType.Register).unroll(b.c).unroll(b.x)
                st.acc.update().unroll(b.c).unroll(b.x)
        else:
            st.out.compute_at(final, image).reorder(b.c, b.n).vectorize(b.c, vec)
            st.acc.compute_at(st.out, b.n).reorder(b.c, b.n).vectorize(b.c, vec)
            st.acc.update().reorder(b.c, *rs, b.n).vectorize(b.c, vec)
