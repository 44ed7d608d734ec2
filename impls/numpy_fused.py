"""The NumPy backend's ``fused`` path: every layer of an image computed while its activations stay in
cache, by a numba kernel generated from the spec (:mod:`impls.fused_codegen`).

The layer-by-layer paths move each activation (and, with im2col, a patch matrix many times larger)
through memory between layers; this one reads an image and writes its class scores, nothing else
(the ``fused`` way of :mod:`sepbench.core.traffic`).  The images are cut into tasks of at least
:data:`MICRO_BATCH` images, run on the backend's threads (a thread pool; the kernel releases the GIL):
numba's ``parallel=True`` ran no faster here and tripled the compile time.

Compilation is apart from running: the kernel's source is written once per spec into
``<cache>/fused/`` (named by the hash of its text) and numba caches its machine code beside it, so
:attr:`FusedForward.compile_seconds` is the first call's cost in this process (tens of seconds the
first time on a machine, under a second from numba's cache), recorded with each result.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from impls.fused_codegen import layer_ops, module_source
from sepbench.core.spec import ModelSpec
from sepbench.core.weights import PortableWeights
from sepbench.util.atomic import atomic_write_text
from sepbench.util.paths import cache_dir
from sepbench.util.timer import time_calls

MICRO_BATCH = 16  # fewest images per task: a task's start costs about a microsecond
FIRST_CALL_SECONDS: dict[Path, float] = {}  # kernel file -> seconds its first call took in this process
TASKS_PER_THREAD = 4  # a thread slowed by another process's load leaves a quarter of its share to the others


def default_threads() -> int:
    """The fused path's threads when the backend's are not set: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def numba_available() -> bool:
    """Whether numba imports (the fused path needs it; the other NumPy paths do not)."""
    try:
        import numba  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken llvmlite fails in many ways; the path is then absent
        return False
    return True


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="sepbench-fused")


def _kernel_module(source: str) -> tuple[ModuleType, Path]:
    """The generated module, written (atomically, once) under the cache folder and imported."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    folder = cache_dir() / "fused"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"kernel_{digest}.py"
    if not path.exists() or path.read_text() != source:
        atomic_write_text(path, source)
    spec = importlib.util.spec_from_file_location(f"sepbench_fused_{digest}", path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise ImportError(f"cannot load the fused kernel {path}")
    if spec.name in sys.modules:  # this process loaded it already
        return sys.modules[spec.name], path
    module = importlib.util.module_from_spec(spec)
    # registered before it runs: numba's cached code names its module and imports it by that name on load
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module, path


def _fresh_module(source: str, path: Path) -> ModuleType:
    """The kernel with numba's cached code for it removed, so that it compiles from its source."""
    for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.nb[ic]"):
        cached.unlink(missing_ok=True)
    sys.modules.pop(f"sepbench_fused_{path.stem.removeprefix('kernel_')}", None)
    return _kernel_module(source)[0]


class FusedForward:
    """``spec`` with ``weights`` as one generated kernel: ``self(x)`` gives the probabilities (or the
    last layer's outputs) of validated float32 NHWC images."""

    def __init__(self, spec: ModelSpec, weights: PortableWeights) -> None:
        ops = layer_ops(spec, weights)
        self.ops = ops
        self.spec = spec
        self.out_shape = tuple(spec.output_shape)
        self.arrays = tuple(a for op in ops for a in op.arrays)
        self.passes = [op.name for op in ops]
        source = module_source(spec, ops, softmax=spec.layers[-1].activation == "softmax")
        self.module, self.source_path = _kernel_module(source)
        if self.source_path not in FIRST_CALL_SECONDS:
            start = time.perf_counter()
            try:
                self(np.zeros((1, *spec.input_shape), np.float32))  # compiles (or loads numba's cache)
            except Exception:  # noqa: BLE001 - numba's cache unreadable (another numba, a damaged file): compile afresh
                self.module = _fresh_module(source, self.source_path)
                self(np.zeros((1, *spec.input_shape), np.float32))
            FIRST_CALL_SECONDS[self.source_path] = time.perf_counter() - start
        # the process's first call of this kernel: its compile (or cache load), whichever model made it
        self.compile_seconds = FIRST_CALL_SECONDS[self.source_path]

    def __call__(self, x: np.ndarray, threads: int = 1) -> np.ndarray:
        """Outputs of ``x`` (float32 NHWC, validated), on ``threads`` threads."""
        n = len(x)
        flat = x.reshape(n, -1)
        out = np.empty((n, math.prod(self.out_shape)), np.float32)
        step = max(MICRO_BATCH, -(-n // (threads * TASKS_PER_THREAD)))
        tasks = [(i, min(n, i + step)) for i in range(0, n, step)]
        if threads <= 1 or len(tasks) == 1:
            self.module.run(flat, out, 0, n, *self.arrays)
        else:
            list(_pool(threads).map(lambda t: self.module.run(flat, out, t[0], t[1], *self.arrays), tasks))
        self.threads = threads
        return out.reshape(n, *self.out_shape)

    threads = 1

    def config(self) -> dict[str, Any]:
        """What the path runs, for the results: its passes, micro-batch, compile time (s), kernel file."""
        import numba

        return {
            "chunk": MICRO_BATCH,  # images per parallel task
            "layers": {name: "in cache" for name in self.passes},
            "kernel": f"numba {numba.__version__}, {self.source_path.name}",
            "compile_seconds": round(self.compile_seconds, 3),
            "threads": self.threads,  # of the last call
        }


@dataclass(frozen=True)
class PassTime:
    """One pass of the fused kernel, timed alone on one image's real input in cache, one thread."""

    name: str
    macs: int  # multiply-accumulates per image
    seconds_per_image: float
    gflops: float  # 2 x MACs / seconds, 1e9 FLOP/s
    gbs: float  # activation values read and written (float32) / seconds, 1e9 B/s: cache traffic, not DRAM

    @staticmethod
    def of(op: Any, seconds: float) -> PassTime:
        moved = 4 * (op.in_values + op.out_values)
        return PassTime(op.name, op.macs, seconds, 2 * op.macs / seconds / 1e9, moved / seconds / 1e9)


def profile_passes(fused: FusedForward, image: np.ndarray, reps: int = 10_000) -> list[PassTime]:
    """Each pass of ``fused`` run ``reps`` times on its real input for ``image`` (float32, one image,
    validated), best of 3: where the kernel's time goes and how close each pass comes to the machine."""
    x = np.ascontiguousarray(image, np.float32).reshape(-1)
    start = 0
    rows = []
    for op in fused.ops:
        args = fused.arrays[start : start + len(op.arrays)]
        start += len(op.arrays)
        repeat = getattr(fused.module, f"repeat_{op.name}")
        y = np.empty(op.out_values, np.float32)
        repeat(x, y, 1, *args)  # compiles; y = this pass's output, the next one's input
        best = time_calls(functools.partial(repeat, x, y, reps, *args), repeat=3).min
        rows.append(PassTime.of(op, best / reps))
        x = y
    return rows
