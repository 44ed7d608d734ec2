"""One-run measurement behind the fast-path figures (issue 7): every backend x model x path on the
10,000 MNIST test images, a float32 GEMM throughput probe, and the ratios, from one process.

    SEPBENCH_MNIST_DIR=... python tools/measure_fast_paths.py --threads 2 --reps 7 [--json out.json]

Times are wall seconds (or process CPU seconds with ``--clock cpu``), best of ``--reps`` after two warm-up calls; the models are interleaved
(each repetition runs every variant once) so that load from other processes hits them alike.
Weights: seeded Keras-style init (latency does not depend on the values).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def gemm_gflops(n: int = 2048, reps: int = 5, clock=None) -> float:
    """Best float32 ``n x n`` GEMM throughput of NumPy's BLAS, GFLOP/s (2*n^3 FLOP per product)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    a @ b
    best = min((clock or _wall)(lambda: a @ b) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _wall(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _cpu(fn) -> float:
    """Process CPU seconds (all threads): robust to time spent descheduled on a shared machine."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--backends", nargs="+", default=["numpy", "torch", "tensorflow"])
    p.add_argument("--default-batch", type=int, nargs="+", default=[32, 256])
    p.add_argument("--json", default=None)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: process CPU seconds (use with --threads 1 on a shared machine)")
    args = p.parse_args()

    from sepbench.machine.threads import configure_threads

    settings = configure_threads(args.threads, args.backends)
    from impls.registry import get_backend
    from sepbench.core.spec import MODELS
    from sepbench.measure.workloads import test_images

    x, y = test_images(10_000)
    variants = {}
    for backend in args.backends:
        for model in ("regular", "separable"):
            m = get_backend(backend).build_model(model, seed=0)
            for path in type(m).paths:
                for bs in args.default_batch if path == "default" else [256]:
                    key = (backend, model, path, bs)
                    fn = (lambda m=m, path=path, bs=bs: m.predict(x, bs, path=path))
                    for _ in range(2):
                        fn()
                    variants[key] = (fn, [])
            if backend == "tensorflow":  # the study's measurement: compiled model.evaluate, batch 32
                fn = (lambda m=m: m.evaluate(x, y, 32))
                fn()
                variants[(backend, model, "evaluate", 32)] = (fn, [])
    for _ in range(args.reps):
        for fn, times in variants.values():
            times.append(_wall(fn) if args.clock == "wall" else _cpu(fn))
    gflops = gemm_gflops(clock=_wall if args.clock == "wall" else _cpu)
    best = {k: min(t) for k, (_, t) in variants.items()}
    print(f"clock: {args.clock} seconds (best of {args.reps})")
    print(f"threads: {settings.get('requested')}  GEMM 2048^3 float32: {gflops:.1f} GFLOP/s")
    limit = {m: 2 * MODELS[m].macs * 10_000 / (gflops * 1e9) for m in MODELS}
    print(f"compute limit (2*MACs*10,000 / GEMM FLOP/s): regular {limit['regular'] * 1e3:.1f} ms, separable {limit['separable'] * 1e3:.1f} ms")
    for (backend, model, path, bs), t in sorted(best.items()):
        print(f"{backend:10s} {model:9s} {path:8s} batch {bs:4d}: {t:.4f} s  (median {np.median(variants[(backend, model, path, bs)][1]):.4f})")
    fastest = {}
    for backend in args.backends:
        for model in MODELS:
            cands = {k: v for k, v in best.items() if k[0] == backend and k[1] == model and k[2] != "evaluate"}
            k = min(cands, key=cands.__getitem__)
            fastest[(backend, model)] = (k, cands[k])
        (kr, tr), (ks, ts) = fastest[(backend, "regular")], fastest[(backend, "separable")]
        print(f"{backend}: fastest regular {kr[2]}@{kr[3]} {tr:.4f} s, separable {ks[2]}@{ks[3]} {ts:.4f} s, separable/regular {ts / tr:.2f}")
    if "numpy" in args.backends:
        for model in MODELS:
            frameworks = [v[1] for (b, m), v in fastest.items() if m == model and b != "numpy"]
            if frameworks:
                print(f"numpy fast / fastest framework, {model}: {best[('numpy', model, 'fast', 256)] / min(frameworks):.2f}")
    reg = min(v[1] for (b, m), v in fastest.items() if m == "regular")
    print(f"fastest regular path / compute limit: {reg / limit['regular']:.2f}x")
    if args.json:
        out = {"threads": settings, "gemm_gflops": gflops, "best_s": {"|".join(map(str, k)): v for k, v in best.items()}, "all_s": {"|".join(map(str, k)): v[1] for k, v in variants.items()}}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
