"""The ``sepbench`` section at the end of a benchmark session: threads, roofline, what was skipped,
and whether the weights were trained (an accuracy from seeded-init weights means nothing)."""

from __future__ import annotations

from sepbench.bench.options import BenchOptions


def summary_lines(opts: BenchOptions) -> list[str]:
    """The lines of the closing note, in order."""
    lines = [f"threads: {opts.threads} for every backend" + (" (quick run)" if opts.quick else "")]
    free = opts.free_cores
    if free is not None and free.others_cores is not None:
        lines[0] += (
            f": other processes kept {free.others_cores:.1f} of {free.cores} cores busy when the session started, {free.free} free"
            + (" (no core free: the speed verdicts will say 'busy')" if free.free == 0 else "")
        )
    if opts.short_of_cores and not (opts.full or opts.quick):
        lines.append(
            "short of cores: the single-process 10,000-image predicts were not timed (beside other processes their times "
            "are the load's); the time went to more fresh processes of the paired cases. --full times them"
        )
    if opts.roofline is not None:
        r = opts.roofline
        lines.append(
            f"roofline: float32 GEMM {r.gemm_flops / 1e9:.1f} GFLOP/s, memory {r.mem_bandwidth / 1e9:.1f} GB/s "
            f"(probe took {r.seconds:.1f} s)"
        )
    lines += [f"skipped backend {backend}: {why}" for backend, why in opts.unavailable.items()]
    seeded = sorted({f"{b}/{m}" for (b, m), s in opts.weights_sources.items() if s != "trained"})
    if seeded:
        lines.append(
            f"weights: seeded init (untrained) for {', '.join(seeded)}: latency is valid, accuracy is not "
            "(`nox -s bench` trains what is missing unless --no-train; with pytest directly, pass --train-missing)"
        )
    if opts.inject_delay:
        lines.append(f"TEST ONLY: every timed call was slowed by {opts.inject_delay} s (--inject-delay)")
    return lines
