"""``sepbench profile``: where the separable and the regular model spend inference time, per layer
and stage (patch extraction, depthwise, pointwise, pooling, dense), on NumPy and PyTorch; and the
NumPy fast path's per-layer lowering choices with every alternative's time."""

from __future__ import annotations

import argparse

from sepbench.commands.arg_types import NameList
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
    p.add_argument("--images", type=int, default=10_000, help="test images to push through (default 10,000)")
    p.add_argument("--chunk", type=int, default=1024, help="images per call (default 1024)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per stage; the best counts (default 3)")
    p.add_argument("--threads", type=int, default=None, help="compute threads for every backend (default: all usable cores)")
    p.add_argument("--no-fast", action="store_true", help="skip the NumPy fast-path lowering table")
    p.add_argument("--pair", default="study", help="the pair whose two models are profiled: a built-in name or a pair file (default study)")
    return p


def run(args: argparse.Namespace) -> int:
    from sepbench.machine.threads import configure_threads
    from sepbench.measure import layer_profile as lp
    from sepbench.measure.workloads import test_images

    if args.images < 1 or args.chunk < 1 or args.reps < 1:
        raise ValueError("--images, --chunk and --reps must be positive")
    from impls.registry import available_backends, unavailable_reason

    unknown = [b for b in args.backends if b not in PROFILED]
    if unknown or not args.backends:
        raise ValueError(f"--backends: {', '.join(unknown) or 'none given'}: profile times {' and '.join(PROFILED)} only")
    backends = [b for b in args.backends if b in available_backends()]
    for b in args.backends:
        if b not in backends:
            print(f"skipping {b}: {unavailable_reason(b)}")
    configure_threads(args.threads, backends)
    from sepbench.core.pairs import select_pairs

    pair = select_pairs([args.pair])[0]
    models = pair.model_names
    if pair.synthetic:
        from sepbench.measure.workloads import synthetic_images

        images = synthetic_images(args.images, pair.baseline.input_shape)
    else:
        images, _ = test_images(args.images, model=pair.baseline.name)
    n = len(images)
    per = f"ms per {n:,} images"
    for backend in backends:
        profile = {"numpy": lp.profile_numpy, "torch": lp.profile_torch}[backend]
        times = {m: profile(m, images, chunk=args.chunk, reps=args.reps) for m in models}
        rows = []
        for model, stages in times.items():
            total = sum(s.seconds for s in stages)
            for s in stages:
                rows.append((model, s.layer, s.stage, f"{s.macs_per_image:,}", f"{1e3 * s.seconds:.2f}", f"{100 * s.seconds / total:.0f}%"))
            rows.append((model, "total", "", f"{sum(s.macs_per_image for s in stages):,}", f"{1e3 * total:.2f}", "100%"))
        reg, sep = (sum(s.seconds for s in times[m]) for m in models)
        print_table(
            f"{backend}: per-stage time, chunk {args.chunk}, best of {args.reps}; {models[1]}/{models[0]} = {sep / reg:.2f}",
            ["model", "layer", "stage", "MACs / image", per, "share"],
            rows,
            right_from=3,
        )
    if "numpy" in backends:
        from sepbench.measure.extra_info import roofline

        peak = roofline().gemm_flops
        rows = []
        for model in models:
            for g in lp.layer_gemm_rates(model, chunk=args.chunk, reps=args.reps):
                rows.append(
                    (
                        model,
                        g.layer,
                        f"({g.rows:,} x {g.depth}) @ ({g.depth} x {g.cols})",
                        f"{g.flops / 1e9:.1f}",
                        f"{100 * g.flops / peak:.0f}%",
                    )
                )
        print_table(
            f"float32 GEMM at the layers' shapes ({args.chunk} images, operands ready) vs the roofline probe's {peak / 1e9:.1f} GFLOP/s",
            ["model", "layer", "GEMM", "GFLOP/s", "of peak"],
            rows,
            right_from=3,
        )
    if "numpy" in backends and not args.no_fast:
        rows = []
        for model in models:
            for r in lp.profile_numpy_fast(model, n):
                alternatives = ", ".join(f"{m} {1e3 * t:.1f}" for m, t in sorted(r["seconds"].items(), key=lambda kv: kv[1]))
                rows.append((model, r["group"], r["chosen"], f"{1e3 * r['seconds'][r['chosen']]:.2f}", alternatives))
        print_table(
            f"numpy fast path: autotuned lowering per layer (1-thread CPU {per}, at the chosen chunk)",
            ["model", "layer", "chosen", "ms", "alternatives (ms)"],
            rows,
            right_from=3,
        )
    return 0
