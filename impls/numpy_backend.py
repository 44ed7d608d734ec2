"""The NumPy backend: the models in pure NumPy, straight from the spec and portable weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl

from impls import numpy_ops as ops
from impls.base import Backend, InferenceModel
from impls.numpy_fast import FastForward, Plan, cached_plan
from impls.numpy_fused import FusedForward, default_threads, numba_available
from impls.numpy_halide import HalideForward, halide_unavailable_reason
from sepbench.core.weights import PortableWeights


class NumpyModel(InferenceModel):
    backend = "numpy"
    native_suffixes = (".npz",)
    # ``fused`` where numba imports, ``halide`` where Halide does (optional extras): the others need NumPy alone
    paths = ("default", "fast", *(("fused",) if numba_available() else ()), *(("halide",) if halide_unavailable_reason() is None else ()))
    batch_free_paths = ("fast", "fused", "halide")
    uint8_paths = ("halide",)  # the pipeline reads bytes and scales them itself: a quarter of the input traffic

    @classmethod
    def path_unavailable_reason(cls, path: str) -> str | None:
        if path == "halide":
            return halide_unavailable_reason()
        if path == "fused" and not numba_available():
            return "the fused path needs the 'numba' package: install it with `pip install 'sepbench[fused]'`"
        return None

    def __init__(self, weights: PortableWeights) -> None:
        super().__init__(weights)
        self._weights = weights.copy()
        self._fast: FastForward | None = None
        self._fused: FusedForward | None = None
        self._halide: HalideForward | None = None
        self._forced_plan: Plan | None = None

    # ---- the fast path -----------------------------------------------------------------------
    def fast_plan(self) -> Plan:
        """The fast path's plan: lowering per layer and chunk size (autotuned once per process)."""
        return self._fast_forward().plan

    def set_fast_plan(self, plan: Plan | None) -> None:
        """Force a plan (e.g. to test one lowering); ``None`` returns to the autotuned one."""
        self._forced_plan = plan
        self._fast = None

    def _fast_forward(self) -> FastForward:
        if self._fast is None:
            plan = self._forced_plan or cached_plan(self.spec, self._weights)
            self._fast = FastForward(self.spec, self._weights, plan)
        return self._fast

    def fast_config(self) -> dict[str, Any]:
        """The autotuned plan: chunk (images) and the lowering of each layer group."""
        plan = self.fast_plan()
        return {"chunk": plan.chunk, "layers": dict(plan.methods)}

    def _fused_forward(self) -> FusedForward:
        if self._fused is None:
            self._fused = FusedForward(self.spec, self._weights)
        return self._fused

    def _halide_forward(self) -> HalideForward:
        if self._halide is None:
            self._halide = HalideForward(self.spec, self._weights)
        return self._halide

    def path_config(self, path: str) -> dict[str, Any]:
        """The fast path's plan, the fused kernel's passes, or the Halide pipeline's schedules; each compiled
        path with its compile seconds."""
        if path == "fused":
            return self._fused_forward().config()
        if path == "halide":
            return self._halide_forward().config()
        return super().path_config(path)

    def _predict_halide(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Same probabilities as ``default`` (float32 summation order aside), one Halide pipeline with an
        image per SIMD lane (:mod:`impls.numpy_halide`); ``batch_size`` is validated, not used.  uint8 images
        reach it as they are (a pipeline of its own scales them by 1/255).  The first call per process, model
        shape and pixel type compiles (about a second per schedule); warm up before timing."""
        return self._halide_forward()(x, BACKEND.threads or default_threads())

    def _predict_fused(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Same probabilities as ``default`` (float32 summation order aside), all layers per image in cache
        (:mod:`impls.numpy_fused`); ``batch_size`` is validated, not used.  The first call per process
        compiles or loads the kernel; warm up before timing."""
        return self._fused_forward()(x, BACKEND.threads or default_threads())

    def _predict_fast(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Same probabilities as ``default``, computed by the autotuned lowering in its own chunks.

        ``batch_size`` is accepted (and validated) but not used: the result for all ``N`` images does
        not depend on it.  The first call per process autotunes (about a second); warm up before timing.
        """
        return self._fast_forward()(x)

    def forward_logits(self, x: np.ndarray) -> np.ndarray:
        """Pre-softmax outputs for a validated float32 batch."""
        for layer in self.spec.layers:
            w = self._weights.layer(layer.name)
            if layer.kind == "conv":
                x = ops.conv2d(x, w["kernel"], w["bias"], layer.stride)
            elif layer.kind == "separable_conv":
                x = ops.separable_conv2d(x, w["depthwise_kernel"], w["pointwise_kernel"], w["bias"], layer.stride)
            elif layer.kind == "spatial_separable_conv":
                x = ops.spatial_separable_conv2d(x, w["column_kernel"], w["row_kernel"], w["bias"], layer.stride)
            elif layer.kind == "depthwise_conv":
                x = ops.depthwise_conv2d(x, w["depthwise_kernel"], layer.stride) + w["bias"]
            elif layer.kind == "batch_norm":  # as written, not folded: the reference the folded paths are checked against
                x = ops.batch_norm(x, w["gamma"], w["beta"], w["moving_mean"], w["moving_variance"])
            elif layer.kind == "avg_pool":
                x = ops.avg_pool(x, layer.kernel, layer.stride)
            elif layer.kind == "global_avg_pool":
                x = ops.global_avg_pool(x)
            elif layer.kind == "relu":
                x = ops.relu(x)
            elif layer.kind == "dense":
                x = ops.dense(x, w["kernel"], w["bias"])
            else:  # pragma: no cover - the spec validates kinds
                raise NotImplementedError(layer.kind)
        return x

    def _forward(self, x: np.ndarray) -> np.ndarray:
        z = self.forward_logits(x)
        if self.spec.layers[-1].activation == "softmax":
            z = ops.softmax(z)
        return z.astype(np.float32, copy=False)

    def get_weights(self) -> PortableWeights:
        return self._weights.copy()

    def set_weights(self, weights: PortableWeights) -> None:
        self._check_model(weights)
        self._weights = weights.copy()
        self._fast = None
        self._fused = None
        self._halide = None

    def count_params(self) -> int:
        return self._weights.num_params

    def _save_native(self, path: Path) -> None:
        self._weights.save(path)


class NumpyBackend(Backend):
    def build(self, weights: PortableWeights) -> NumpyModel:
        return NumpyModel(weights)

    def versions(self) -> dict[str, str]:
        out = {"numpy": np.__version__}
        if numba_available():
            import numba

            out["numba"] = numba.__version__
        if halide_unavailable_reason() is None:
            from importlib.metadata import version

            out["halide"] = version("halide")
        return out

    def set_threads(self, n: int) -> None:
        self.threads = n
        threadpoolctl.threadpool_limits(limits=n, user_api="blas")

    def thread_settings(self) -> dict[str, Any]:
        return {
            "fused": self.threads or default_threads(),  # the fused path's thread pool
            # the halide path's: its blocks' parallel tasks on Halide's pool (one worker a core), one per thread
            # below the core count, else 4 a thread (impls/numpy_halide.py)
            "halide": self.threads or default_threads(),
            "blas": [
                {"library": p["internal_api"], "num_threads": p["num_threads"], "version": p.get("version")}
                for p in threadpoolctl.threadpool_info()
                if p.get("user_api") == "blas"
            ],
        }


BACKEND = NumpyBackend("numpy", "numpy", "pure NumPy: im2col + GEMM convolutions")
