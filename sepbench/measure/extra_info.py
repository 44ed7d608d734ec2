"""The measurement API shared by pytest-benchmark (``tests/bench``) and ASV (``benchmarks/``).

- :func:`roofline`: a short probe of this machine's float32 GEMM throughput (FLOP/s) and memory
  bandwidth (bytes/s), run once per process and thread count (about 1-2 s).
- :func:`compute_limit_seconds`: the time the model's arithmetic needs at that throughput.
- :func:`workload_extra_info`: the agreed ``extra_info`` of one measured workload (see the keys
  in :data:`EXTRA_INFO_KEYS`), from the workload, its median time and its output.

Nothing here imports a framework at module level.
"""

from __future__ import annotations

import functools
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sepbench.core.traffic import compute_limit_seconds
from sepbench.util.timer import Timer, time_budgeted

if TYPE_CHECKING:  # pragma: no cover
    from sepbench.core.pair_data import FileData
    from sepbench.core.weights import PortableWeights
    from sepbench.measure.workloads import PredictWorkload

EXTRA_INFO_KEYS = (
    "workload", "backend", "model", "batch_size", "n_images", "path", "params", "macs_per_image",
    "images_per_s", "accuracy", "weights_source", "native_bytes", "native_format",
    "compute_limit_seconds", "compute_limit_fraction",
)  # fmt: skip

GEMM_SIZE = 1024  # n for an n x n x n float32 matmul: 2.1 GFLOP, 4 MiB per operand
STREAM_BYTES = 128 * 2**20  # per array for the copy probe: well beyond any cache


@dataclass(frozen=True)
class Roofline:
    """What this machine can do, measured: float32 GEMM FLOP/s and memory bandwidth in bytes/s.

    ``gemm_flops`` is the best of several ``GEMM_SIZE``-cubed ``numpy.matmul`` calls (2 n^3 FLOP
    each) with the BLAS threads in force; ``copy_bytes_per_s`` counts the bytes read plus written by
    ``numpy.copyto`` of a 128 MiB float32 array (one thread); ``read_bytes_per_s`` the bytes read by
    ``numpy.sum`` of it.  ``mem_bandwidth`` is the larger of the two.
    """

    gemm_flops: float  # FLOP/s: the best source's (``compute``), else this process's NumPy
    copy_bytes_per_s: float  # bytes/s, read + write
    read_bytes_per_s: float  # bytes/s
    blas_threads: int | None
    gemm_size: int
    stream_bytes: int
    seconds: float  # how long the probe took
    compute: dict[str, Any] | None = None  # every GEMM source and the theoretical peak (sepbench.measure.compute_probe)

    @property
    def mem_bandwidth(self) -> float:
        """Bytes/s: the better of the copy and read-only probes."""
        return max(self.copy_bytes_per_s, self.read_bytes_per_s)

    def as_machine_info(self) -> dict[str, Any]:
        """The agreed ``machine_info["roofline"]`` entry (GFLOP/s, GB/s with GB = 1e9 bytes), plus details."""
        return {
            "gemm_gflops": round(self.gemm_flops / 1e9, 2),
            "mem_bandwidth_gbs": round(self.mem_bandwidth / 1e9, 2),
            **{k: v for k, v in asdict(self).items()},
        }


def _blas_threads() -> int | None:
    import threadpoolctl

    counts = [p.get("num_threads") for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    return max(counts) if counts else None


@functools.cache
def _probe(blas_threads: int | None, gemm_size: int, stream_bytes: int, budget_s: float, all_sources: bool = False) -> Roofline:
    with Timer() as probe:  # the whole probe, set-up included
        rng = np.random.default_rng(0)
        a = rng.standard_normal((gemm_size, gemm_size), dtype=np.float32)
        b = rng.standard_normal((gemm_size, gemm_size), dtype=np.float32)
        out = np.empty_like(a)
        np.matmul(a, b, out=out)  # BLAS thread pool start-up, page faults
        t_gemm = time_budgeted(lambda: np.matmul(a, b, out=out), budget_s * 0.5).min

        src = np.ones(stream_bytes // 4, dtype=np.float32)
        dst = np.empty_like(src)
        np.copyto(dst, src)  # fault the pages in
        t_copy = time_budgeted(lambda: np.copyto(dst, src), budget_s * 0.25, min_calls=3, max_calls=10).min
        t_read = time_budgeted(lambda: src.sum(), budget_s * 0.25, min_calls=3, max_calls=10).min
        gemm = 2.0 * gemm_size**3 / t_gemm
        compute = None
        if all_sources:  # the floor from the machine, not from one BLAS build (sepbench.measure.compute_probe)
            from sepbench.machine.threads import usable_cores
            from sepbench.measure.compute_probe import probe_compute

            found = probe_compute(gemm, gemm_size, blas_threads or 1, usable_cores())
            gemm, compute = found.best_flops, found.as_machine_info()
    return Roofline(
        gemm_flops=gemm,
        copy_bytes_per_s=2.0 * src.nbytes / t_copy,
        read_bytes_per_s=src.nbytes / t_read,
        blas_threads=blas_threads,
        gemm_size=gemm_size,
        stream_bytes=int(src.nbytes),
        seconds=probe.seconds,
        compute=compute,
    )


def roofline(gemm_size: int = GEMM_SIZE, stream_bytes: int = STREAM_BYTES, budget_s: float = 1.5, all_sources: bool = False) -> Roofline:
    """Measure (once per process and BLAS thread count) float32 GEMM FLOP/s and memory bandwidth.

    Takes about ``budget_s`` seconds (a little more on a slow machine: each probe runs at least
    3 times).  Call it after the thread settings of the run are in force.  ``all_sources``: the GEMM
    figure is the best of NumPy here, NumPy in a fresh process without ``OPENBLAS_CORETYPE`` and PyTorch
    (a few seconds more; :mod:`sepbench.measure.compute_probe`), each recorded in ``compute``.
    """
    if gemm_size < 16 or stream_bytes < 2**20 or budget_s <= 0:
        raise ValueError("roofline: gemm_size >= 16, stream_bytes >= 1 MiB and budget_s > 0 are needed")
    return _probe(_blas_threads(), int(gemm_size), int(stream_bytes), float(budget_s), bool(all_sources))


REFERENCE_GEMM = 192  # n of the reference matmul timed before every round: ~0.1-0.5 ms on one core
# what ``reference_s`` holds (the gate divides by it only between runs of the same kind). One BLAS
# thread: a multi-threaded matmul leaves BLAS worker threads spinning for a while after it returns,
# and they took the cores from the next round (PyTorch's batch-1 predict: 0.17 ms alone, 9-14 ms
# right after a 2-thread reference; its 10,000 images at batch 32: 0.10 s alone, 0.19 s after one).
REFERENCE_KIND = f"matmul-{REFERENCE_GEMM}-float32-1-blas-thread"


@functools.cache
def _blas_controller() -> Any:
    import threadpoolctl

    return threadpoolctl.ThreadpoolController()


@functools.cache
def _reference_operands(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)


def reference_seconds(n: int = REFERENCE_GEMM, repeat: int = 3) -> float:
    """The machine's speed right now: the fastest of ``repeat`` float32 ``n x n x n`` matmuls in one
    BLAS thread (seconds; see :data:`REFERENCE_KIND`).

    Timed before every benchmark round (untimed itself), so a run records how fast the machine was
    while each sample was taken; the gate divides by it, which cancels a slow spell of a shared
    machine (another tenant, a lower clock) that slows the case and this matmul alike."""
    a, b = _reference_operands(n)
    best = math.inf
    with _blas_controller().limit(limits=1, user_api="blas"):
        for _ in range(repeat):
            with Timer() as t:
                a @ b
            best = min(best, t.seconds)
    return best


_NATIVE_SIZES: dict[tuple[str, str, str, str | None], tuple[int, str]] = {}


def native_file_size(backend: str, weights: PortableWeights, path: str = "default", data_files: FileData | None = None) -> tuple[int, str]:
    """Bytes of the native file that ``path`` of the backend runs for ``weights``, and its format (e.g. ``"h5"``).

    Saved from a fresh model (so compiling for ``evaluate`` does not change the figure) in the
    backend's first native format, into a temporary directory.  ``data_files``: the model's pair's own
    data where it has some (an int8 file is calibrated on its training images, as the path that runs it is).
    Cached per backend, weights, path and data (an int8 path runs a file of its own; the others run the
    float model's).
    """
    key = (backend, weights.fingerprint(), path, None if data_files is None else data_files.key())
    if key not in _NATIVE_SIZES:
        from impls.registry import get_backend

        instance = get_backend(backend).build(weights)
        instance.data_files = data_files
        suffix = type(instance).native_suffixes[0]
        of_path = path if path in type(instance).approximate_paths else "default"
        with tempfile.TemporaryDirectory(prefix="sepbench-native-") as tmp:
            saved = instance.save_native(Path(tmp) / f"{weights.model}{suffix}", of_path=of_path)
            formats = "+".join(f.suffix.lstrip(".") for f in instance.native_files(saved))  # OpenVINO: xml+bin
            _NATIVE_SIZES[key] = (instance.native_bytes(saved), formats)
    return _NATIVE_SIZES[key]


def accuracy_of(output: Any, labels: np.ndarray | None) -> float | None:
    """Fraction of ``labels`` the output gets right: an ``Evaluation`` or a probability array; ``None`` if neither."""
    if hasattr(output, "accuracy"):
        return float(output.accuracy)
    if labels is None:  # synthetic input: nothing to be right about
        return None
    probs = np.asarray(output)
    if probs.ndim != 2 or len(probs) != len(labels):
        return None
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def workload_extra_info(workload: PredictWorkload, median_s: float | None, output: Any, flops: float | None) -> dict[str, Any]:
    """The agreed pytest-benchmark ``extra_info`` for a measured workload.

    ``median_s`` is the median wall time of ``workload.run()`` in seconds (``None`` when benchmarks
    are disabled), ``output`` the value ``run()`` returned, ``flops`` the probe's FLOP/s.
    """
    info: dict[str, Any] = {"workload": workload.kind, **workload.info}
    n = int(info["n_images"])
    info["images_per_s"] = n / median_s if median_s else None
    info["accuracy"] = accuracy_of(output, workload.labels)
    if hasattr(output, "loss"):
        info["loss"] = float(output.loss)
    info["native_bytes"], info["native_format"] = native_file_size(
        workload.backend, workload.weights, workload.path, None if workload.pair is None else workload.pair.files
    )
    if flops:
        limit = compute_limit_seconds(int(info["macs_per_image"]), n, flops)
        info["compute_limit_seconds"] = limit
        info["compute_limit_fraction"] = limit / median_s if median_s else None
    else:
        info["compute_limit_seconds"] = info["compute_limit_fraction"] = None
    return info
