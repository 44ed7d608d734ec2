"""The NumPy backend's ``halide`` path: the model as one Halide pipeline (:mod:`impls.halide_pipeline`),
JIT-compiled from the spec by the ``halide`` wheel (pinned, extra ``halide``).

Whole blocks of images (16 on AVX-512, 8 on AVX2: a vector's float32 lanes) run the ``lanes`` schedule (an
image per SIMD lane), cut into parallel tasks on Halide's own thread pool (the Python binding's call holds
the GIL, so ranges handed to Python threads ran one after another); the few images left over, and a single
image, run the ``single`` schedule
(channels in lanes).  Both pipelines are compiled once per model shape and process
(:func:`impls.halide_pipeline.compiled`, cached) on the first call, which the workloads' untimed warm-up
makes; :attr:`HalideForward.compile_seconds` records it apart.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any

import numpy as np

from impls.numpy_fused import TASKS_PER_THREAD  # as the fused path: a slowed thread leaves a quarter of its share
from sepbench.core.spec import ModelSpec
from sepbench.core.weights import PortableWeights

# the instruction sets a JIT target may ask for; one the CPU lacks would end the process on an illegal instruction
_ISA_FEATURES = (
    *("SSE41", "AVX", "AVX2", "AVXVNNI", "FMA", "FMA4", "F16C", "AVX10_1"),
    *("AVX512", "AVX512_KNL", "AVX512_Skylake", "AVX512_Cannonlake", "AVX512_SapphireRapids", "AVX512_Zen4", "AVX512_Zen5"),
    *("SVE", "SVE2", "ARMDotProd", "ARMFp16"),
)


def halide_unavailable_reason() -> str | None:
    """``None`` if Halide imports and can compile for this CPU (the ``halide`` path needs both), else why not:
    the install hint, or what is wrong with ``HL_JIT_TARGET`` (Halide's JIT target, read from the environment)."""
    try:
        import halide as hl
    except Exception as exc:  # noqa: BLE001 - a wheel can fail to import in many ways (a missing .so: OSError)
        return f"the halide path needs the 'halide' package ({type(exc).__name__}: {exc}; install it with `pip install 'sepbench[halide]'`)"
    asked = f"HL_JIT_TARGET={os.environ.get('HL_JIT_TARGET', '')!r}"  # repr: no control character reaches a terminal
    try:
        jit, host = hl.get_jit_target_from_environment(), hl.get_host_target()
    except Exception as exc:  # noqa: BLE001 - Halide raises its own HalideError for a target it cannot parse
        return f"the halide path cannot compile: Halide refuses {asked} ({str(exc).splitlines()[0][:200]!r})"
    features = [getattr(hl.TargetFeature, f) for f in _ISA_FEATURES]  # (Halide itself refuses another arch or OS)
    lacking = [f.name for f in features if jit.has_feature(f) and not host.has_feature(f)]
    if lacking:
        return f"the halide path cannot run here: {asked} asks for {', '.join(lacking)}, which this CPU ({host}) lacks"
    return None


class HalideForward:
    """``spec`` with ``weights`` as compiled Halide pipelines: ``self(x, threads)`` gives the probabilities
    (or the last layer's outputs) of validated float32 NHWC images."""

    def __init__(self, spec: ModelSpec, weights: PortableWeights) -> None:
        import halide as hl

        from impls import halide_pipeline as hp
        from impls.fold import inference_layers

        folded = inference_layers(spec, weights)
        layers = tuple((layer, shape) for layer, _, shape in folded)
        softmax = spec.layers[-1].activation == "softmax"
        # each schedule compiled on its first use (seconds each, in every fresh process): a batch of whole
        # blocks never needs the single-image one, a single image never the lanes one
        self._compile = lambda schedule, pixels: hp.compiled(tuple(spec.input_shape), layers, softmax, schedule, pixels)
        self.pipelines: dict[tuple[str, str], Any] = {}  # (schedule, pixel type): compiled pipeline
        tensors = {f"{layer.name}/{t}": a for layer, w, _ in folded for t, a in w.items()}
        names = hp.weight_names(layers)
        self._arrays = [np.ascontiguousarray(tensors[n], np.float32) for n in names]  # Halide buffers alias these
        self._weights = [hl.Buffer(a) for a in self._arrays]
        self._hl = hl
        self._lanes = hp.registers().lanes  # images a block: float32 lanes of this CPU's vectors
        self._in_blocks = functools.partial(hp.in_blocks, lanes=self._lanes)
        self._pixels = {np.dtype(p): p for p in hp.PIXELS}  # by dtype: a dtype's name costs microseconds a call
        self.spec = spec
        self.out_shape = tuple(spec.output_shape)  # once: the spec computes it by walking its layers
        self.out_values = math.prod(self.out_shape)
        self.target = hp.describe_target()
        self.threads = 1

    @property
    def compile_seconds(self) -> float:
        """Seconds this model's pipelines took to compile (0 for one another model of its shape compiled first)."""
        return sum(p.compile_seconds for p in self.pipelines.values())

    def _pipeline(self, schedule: str, pixels: str) -> Any:
        if (schedule, pixels) not in self.pipelines:
            self.pipelines[schedule, pixels] = self._compile(schedule, pixels)
        return self.pipelines[schedule, pixels]

    def _run(self, schedule: str, pixels: str, x: np.ndarray, out: np.ndarray, threads: int = 1) -> None:
        hl = self._hl
        pipeline = self._pipeline(schedule, pixels)
        if schedule == "single":
            pipeline.run(hl.Buffer(x), *self._weights, hl.Buffer(out))
            return
        # an image is one row of values: the same memory, seen as (N, H * W * C); the blocks run as parallel
        # tasks on Halide's thread pool (one worker a core): one task for one thread, else TASKS_PER_THREAD a
        # thread where the pool has no more workers than threads (so `threads` bounds the cores used)
        blocks = len(x) // self._lanes
        tasks = 1 if threads <= 1 else threads if threads < (os.cpu_count() or 1) else threads * TASKS_PER_THREAD
        per_task = max(1, -(-blocks // tasks))
        pipeline.run(hl.Buffer(x.reshape(len(x), -1)), per_task, *self._weights, hl.Buffer(out))

    def __call__(self, x: np.ndarray, threads: int = 1) -> np.ndarray:
        """Outputs of ``x`` (NHWC, C-contiguous: validated float32, or uint8 pixels 0..255, which the
        pipeline scales by 1/255 as it reads them, as :func:`impls.base.validate_images` does), on
        ``threads`` threads."""
        pixels = self._pixels.get(x.dtype)
        if pixels is None:
            raise ValueError(f"the halide path takes {' or '.join(self._pixels.values())} images, not {x.dtype}")
        if not x.flags.writeable:  # a Halide buffer wraps only writable memory (MNIST's bytes are read-only)
            x = x.copy()
        n = len(x)
        out = np.empty((n, self.out_values), np.float32)
        blocks = self._in_blocks(n)
        if blocks:
            self._run("lanes", pixels, x[:blocks], out[:blocks], threads)
        if blocks < n:
            self._run("single", pixels, x[blocks:], out[blocks:])
        self.threads = threads
        return out.reshape(n, *self.out_shape)

    def config(self) -> dict[str, Any]:
        """What the path runs, for the results: schedules, block (images), compile time (s), target, threads."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            wheel = version("halide")  # the module has no __version__
        except PackageNotFoundError:  # imported from elsewhere than an installed wheel
            wheel = "?"
        return {
            "chunk": self._lanes,  # images per vector (the lanes schedule's block)
            "layers": {"all": f"one Halide pipeline: {self._lanes} images in lanes, else channels"},
            "kernel": f"halide {wheel}, {self.target}",
            "compile_seconds": round(self.compile_seconds, 3),
            "threads": self.threads,  # of the last call
        }
