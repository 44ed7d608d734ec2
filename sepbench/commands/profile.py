"""``sepbench profile``: where the separable and the regular model spend inference time, per layer
and stage (patch extraction, depthwise, pointwise, pooling, dense), on NumPy and PyTorch; and the
NumPy fast path's per-layer lowering choices with every alternative's time, and the fused kernel's
passes with their FLOP/s and bytes/s."""

from __future__ import annotations

import argparse
from typing import Any

from sepbench.commands.arg_types import MAX_CHUNK, MAX_IMAGES, MAX_REPEATS, MAX_THREADS, NameList, int_in
from sepbench.core.spec import ModelSpec
from sepbench.util.console import print_table

PROFILED = ("numpy", "torch")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("profile", help="per-layer time breakdown, separable vs regular (NumPy, PyTorch)")
    p.add_argument(
        "--backends",
        nargs="+",
        action=NameList,
        default=list(PROFILED),
        help=f"backends to profile, comma- or space-separated: {', '.join(PROFILED)} (default: both)",
    )
    p.add_argument("--images", type=int_in(1, MAX_IMAGES), default=10_000, help="test images to push through (default 10,000)")
    p.add_argument("--chunk", type=int_in(1, MAX_CHUNK), default=1024, help="images per call (default 1024)")
    p.add_argument("--reps", type=int_in(1, MAX_REPEATS), default=3, help="repetitions per stage; the best counts (default 3)")
    p.add_argument(
        "--threads", type=int_in(1, MAX_THREADS), default=None, help="compute threads for every backend (default: all usable cores)"
    )
    p.add_argument("--no-fast", action="store_true", help="skip the NumPy fast-path lowering table")
    p.add_argument("--pair", default="study", help="the pair whose two models are profiled: a built-in name or a pair file (default study)")
    return p


def run(args: argparse.Namespace) -> int:
    from sepbench.core.pairs import select_pairs
    from sepbench.machine.threads import configure_threads

    backends = _backends(args.backends)
    configure_threads(args.threads, backends)
    pair = select_pairs([args.pair])[0]
    from sepbench.core.budget import check_batch

    for spec in pair.models:  # before any image is made: all of them are held at once, and one call (--chunk) holds no more
        check_batch(spec, args.images, "--images")
    images = _images(pair, args.images)
    for backend in backends:
        _print_stages(backend, pair.models, images, args.chunk, args.reps)
    if "numpy" in backends:
        _print_gemm_rates(pair.models, args.chunk, args.reps)
    if "numpy" in backends and not args.no_fast:
        _print_fast_choices(pair.models, len(images))
        _print_fused_passes(pair.models, images[0])
    return 0


def _backends(asked: list[str]) -> list[str]:
    """The profiled backends asked for that are installed (each one that is not: a line saying why)."""
    from impls.registry import available_backends, unavailable_reason

    unknown = [b for b in asked if b not in PROFILED]
    if unknown or not asked:
        raise ValueError(f"--backends: {', '.join(unknown) or 'none given'}: profile times {' and '.join(PROFILED)} only")
    backends = [b for b in asked if b in available_backends()]
    for b in asked:
        if b not in backends:
            print(f"skipping {b}: {unavailable_reason(b)}")
    return backends


def _images(pair: Any, n: int) -> Any:
    """``n`` images of the pair's input: MNIST test images, or seeded random ones for a synthetic pair."""
    from sepbench.measure.workloads import synthetic_images, test_images

    if pair.synthetic:
        return synthetic_images(n, pair.baseline.input_shape)
    return test_images(n, files=pair.files)[0]


def _print_stages(backend: str, specs: tuple[ModelSpec, ModelSpec], images: Any, chunk: int, reps: int) -> None:
    """Each model's per-layer, per-stage time on ``backend`` (milliseconds per all images) and its share."""
    from sepbench.measure import layer_profile as lp

    profile = {"numpy": lp.profile_numpy, "torch": lp.profile_torch}[backend]
    times = {m.name: profile(m, images, chunk=chunk, reps=reps) for m in specs}
    models = tuple(times)
    rows = []
    for model, stages in times.items():
        total = sum(s.seconds for s in stages)
        for s in stages:
            rows.append((model, s.layer, s.stage, f"{s.macs_per_image:,}", f"{1e3 * s.seconds:.2f}", f"{100 * s.seconds / total:.0f}%"))
        rows.append((model, "total", "", f"{sum(s.macs_per_image for s in stages):,}", f"{1e3 * total:.2f}", "100%"))
    reg, sep = (sum(s.seconds for s in times[m]) for m in models)
    print_table(
        f"{backend}: per-stage time, chunk {chunk}, best of {reps}; {models[1]}/{models[0]} = {sep / reg:.2f}",
        ["model", "layer", "stage", "MACs / image", f"ms per {len(images):,} images", "share"],
        rows,
        right_from=3,
    )


def _print_gemm_rates(models: tuple[ModelSpec, ModelSpec], chunk: int, reps: int) -> None:
    """The float32 GEMM rate (FLOP/s) at each layer's own shape, against the roofline probe's."""
    from sepbench.measure import layer_profile as lp
    from sepbench.measure.extra_info import roofline

    peak = roofline().gemm_flops
    rows = []
    for model in models:
        for g in lp.layer_gemm_rates(model, chunk=chunk, reps=reps):
            shape = f"({g.rows:,} x {g.depth}) @ ({g.depth} x {g.cols})"
            rows.append((model.name, g.layer, shape, f"{g.flops / 1e9:.1f}", f"{100 * g.flops / peak:.0f}%"))
    print_table(
        f"float32 GEMM at the layers' shapes ({chunk} images, operands ready) vs the roofline probe's {peak / 1e9:.1f} GFLOP/s",
        ["model", "layer", "GEMM", "GFLOP/s", "of peak"],
        rows,
        right_from=3,
    )


def _print_fast_choices(models: tuple[ModelSpec, ModelSpec], n: int) -> None:
    """What the NumPy fast path's autotuner chose per layer (milliseconds per ``n`` images), beside the alternatives."""
    from sepbench.measure import layer_profile as lp

    rows = []
    for model in models:
        for r in lp.profile_numpy_fast(model, n):
            alternatives = ", ".join(f"{m} {1e3 * t:.1f}" for m, t in sorted(r["seconds"].items(), key=lambda kv: kv[1]))
            rows.append((model.name, r["group"], r["chosen"], f"{1e3 * r['seconds'][r['chosen']]:.2f}", alternatives))
    print_table(
        f"numpy fast path: autotuned lowering per layer (1-thread CPU ms per {n:,} images, at the chosen chunk)",
        ["model", "layer", "chosen", "ms", "alternatives (ms)"],
        rows,
        right_from=3,
    )


def _print_fused_passes(models: tuple[ModelSpec, ModelSpec], image: Any) -> None:
    """The NumPy fused kernel's passes, each alone on one image in cache: microseconds, GFLOP/s, GB/s."""
    from impls.numpy_fused import FusedForward, numba_available, profile_passes
    from sepbench.core.weights import init_weights

    if not numba_available():
        print("skipping the numpy fused kernel's passes: numba is not installed (pip install 'sepbench[fused]')")
        return
    rows = []
    for spec in models:
        fused = FusedForward(spec, init_weights(spec, 0))
        for r in profile_passes(fused, image):
            rows.append((spec.name, r.name, f"{r.macs:,}", f"{1e6 * r.seconds_per_image:.2f}", f"{r.gflops:.1f}", f"{r.gbs:.1f}"))
    print_table(
        "numpy fused kernel: each pass alone on one image's input in cache, 1 thread, best of 3 x 10,000 runs "
        "(GB/s = activation bytes read + written: cache traffic)",
        ["model", "pass", "MACs / image", "us / image", "GFLOP/s", "GB/s"],
        rows,
        right_from=2,
    )
