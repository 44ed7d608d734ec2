"""An FMA microkernel, JIT-compiled by Halide where the ``halide`` wheel imports: the machine's float32 FMA
rate with nothing but registers in the way (no library's build, no memory), and its clock.

* **Throughput:** :data:`CHAINS` independent chains of full-width vector FMAs per thread (enough to cover an
  FMA's latency on two FMA units), ``threads`` parallel tasks: 2 FLOP per lane per FMA.
* **Clock:** one dependent chain of vector FMAs on one thread runs at one FMA per :data:`FMA_LATENCY_CYCLES`
  cycles, so its rate times that latency is the clock the cores ran at (a measured clock, where
  ``/proc/cpuinfo`` reports a base or a stale one).

Both are the best of a few timed calls (seconds each, about :data:`CALL_SECONDS`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

CHAINS = 12  # independent accumulators a thread: >= latency (4) x FMA units (2), within AVX2's 16 registers
FMA_LATENCY_CYCLES = 4  # a vector FMA's latency on x86 cores since Skylake and Zen 2
CALL_SECONDS = 0.05  # each timed call's length, seconds


@dataclass(frozen=True)
class FmaRates:
    """``flops``: float32 FLOP/s of the throughput kernel on ``threads`` threads; ``clock_hz``: the clock a
    dependent chain implies (Hz); ``lanes``: float32 lanes of the vectors compiled for."""

    flops: float
    clock_hz: float
    lanes: int
    threads: int


def _kernel(hl: Any, lanes: int, chains: int) -> Any:
    """``out(lane, chain, task)``: ``iters`` multiply-adds per lane and chain, chains unrolled in registers,
    tasks in parallel."""
    lane, chain, task = hl.Var("lane"), hl.Var("chain"), hl.Var("task")
    iters = hl.Param(hl.Int(32), "iters")
    r = hl.RDom([(0, iters)], "step")
    acc, out = hl.Func("acc"), hl.Func("out")
    acc[lane, chain, task] = hl.f32(lane + chain + task) * hl.f32(1e-3)
    # a contraction that stays finite (it converges to 1); ``0 * r`` only names the step loop
    acc[lane, chain, task] = acc[lane, chain, task] * hl.f32(0.999) + (hl.f32(1e-3) + hl.f32(0.0) * hl.f32(r.x))
    out[lane, chain, task] = acc[lane, chain, task]
    out.bound(lane, 0, lanes).bound(chain, 0, chains)
    out.reorder(lane, chain, task).vectorize(lane).unroll(chain).parallel(task)
    acc.compute_at(out, task).store_in(hl.MemoryType.Register).vectorize(lane).unroll(chain)
    acc.update().reorder(lane, chain, r.x).vectorize(lane).unroll(chain)
    return hl.Pipeline(out).compile_to_callable([iters], hl.get_jit_target_from_environment())


def _best_rate(run: Any, out: Any, fmas_per_iter: int, repeats: int) -> float:
    """Vector FMAs per second: the best of ``repeats`` calls of about :data:`CALL_SECONDS` each."""
    iters = 1000
    while True:  # grow the call until it takes a measurable while
        start = time.perf_counter()
        run(iters, out)
        took = time.perf_counter() - start
        if took >= CALL_SECONDS / 4 or iters >= 1 << 30:
            break
        iters *= 4
    iters = max(1000, min(1 << 30, int(iters * CALL_SECONDS / max(took, 1e-9))))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(iters, out)
        best = min(best, time.perf_counter() - start)
    return fmas_per_iter * iters / best


def fma_rates(threads: int, repeats: int = 5) -> FmaRates | None:
    """The FMA microkernel's FLOP/s on ``threads`` threads and the clock it implies; ``None`` where Halide
    does not import (the optional ``halide`` extra)."""
    try:
        import halide as hl
    except ImportError:
        return None
    import numpy as np

    lanes = int(hl.get_jit_target_from_environment().natural_vector_size(hl.Float(32)))
    threads = max(1, int(threads))
    wide = _kernel(hl, lanes, CHAINS)
    out = hl.Buffer(np.empty((threads, CHAINS, lanes), np.float32))
    fmas = _best_rate(wide, out, CHAINS * threads, repeats)  # vector FMAs a second, all threads
    chain = _kernel(hl, lanes, 1)
    one = hl.Buffer(np.empty((1, 1, lanes), np.float32))
    clock = _best_rate(chain, one, 1, repeats) * FMA_LATENCY_CYCLES
    return FmaRates(flops=2.0 * lanes * fmas, clock_hz=clock, lanes=lanes, threads=threads)
