"""What the deployment runtimes (ONNX Runtime, LiteRT) share: they run a model *file* built from the
spec and the portable weights, in a float32 and an int8-quantized version.

A subclass supplies :meth:`FileRuntimeModel._build_file` (the file's bytes, quantized when given
calibration images) and :meth:`FileRuntimeModel._run_chunk` (one call of its runtime on a batch of
the float32 or int8 model); this class keeps the files, saves each path's own native file, chunks
the images and holds the weights.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

import numpy as np

from impls.base import InferenceModel
from sepbench.core.weights import PortableWeights

FLOAT32, INT8 = "float32", "int8"
INPUT, OUTPUT = "images", "probabilities"  # the graph's tensor names, in every runtime that builds one from the spec


class FileRuntimeModel(InferenceModel):
    """A model run from a file by a deployment runtime; ``int8`` is its post-training-quantized file."""

    paths = ("default", "fast", INT8)
    batch_free_paths = ("fast", INT8)
    approximate_paths = (INT8,)

    def __init__(self, weights: PortableWeights, threads: int | None) -> None:
        super().__init__(weights)
        self._threads = threads
        self.set_weights(weights)

    @abc.abstractmethod
    def _build_file(self, weights: PortableWeights, calibration: np.ndarray | None) -> Any:
        """The model file holding ``weights`` (bytes, or the runtime's own files): float32, or int8 with
        ranges calibrated on ``calibration``."""

    @abc.abstractmethod
    def _run_chunk(self, x: np.ndarray, model: str) -> np.ndarray:
        """Probabilities of one batch ``x`` by the ``model`` file (:data:`FLOAT32` or :data:`INT8`)."""

    def _forget_runtime(self) -> None:
        """Drop sessions / interpreters made from the old files (after new weights)."""

    def model_file(self, model: str = FLOAT32) -> Any:
        """The float32 or int8 file (its bytes; OpenVINO's: its two files, ``IRFiles``); the int8 one is
        made on first use, calibrated on
        :func:`sepbench.core.data.calibration_images` (MNIST training images, never test images) for
        a model of MNIST's shape (its pair's own training images where it has data files: ``data_files``),
        on seeded uniform images in [0, 1) for any other (a synthetic pair)."""
        if model not in self._files:
            from sepbench.core.data import CALIBRATION_IMAGES, calibration_images

            shape, files = self.spec.input_shape, self.data_files
            if files is not None:  # a pair's own data: its training images, as MNIST's below
                x, _ = files.load("train")
                calibration = x[np.random.default_rng(0).choice(len(x), size=min(CALIBRATION_IMAGES, len(x)), replace=False)]
            elif shape == (28, 28, 1):
                calibration = calibration_images()
            else:
                calibration = np.random.default_rng(0).random((CALIBRATION_IMAGES, *shape), dtype=np.float32)
            self._files[model] = self._built(calibration)
        return self._files[model]

    def _built(self, calibration: np.ndarray | None) -> Any:
        """:meth:`_build_file`'s file, kept between processes (:mod:`sepbench.util.built_files`): every fresh
        process of a job would otherwise convert and quantize the same weights again (seconds each)."""
        import hashlib
        import inspect

        from impls.registry import get_backend
        from sepbench.util.built_files import cached_parts, source_hash

        parts = {
            "backend": self.backend,
            "input_shape": list(self.spec.input_shape),
            "layers": repr(self.spec.layers),
            "weights": self._weights.fingerprint(),
            "calibration": None if calibration is None else hashlib.sha256(np.ascontiguousarray(calibration).tobytes()).hexdigest(),
            "versions": get_backend(self.backend).versions(),
            "builder": source_hash(inspect.getfile(type(self)), __file__),
        }
        return self._from_parts(cached_parts(parts, lambda: self._parts(self._build_file(self._weights, calibration))))

    def _parts(self, file: Any) -> dict[str, bytes]:
        """The file as named byte strings (a runtime whose model is several files overrides this and :meth:`_from_parts`)."""
        return {"model": file}

    def _from_parts(self, parts: dict[str, bytes]) -> Any:
        return parts["model"]

    def _run(self, x: np.ndarray, chunk: int, model: str = FLOAT32, **runtime: Any) -> np.ndarray:
        """Probabilities of ``x`` in chunks of ``chunk`` images; ``runtime`` options go to :meth:`_run_chunk`."""
        outs = [self._run_chunk(x[i : i + chunk], model, **runtime) for i in range(0, len(x), chunk)]
        return np.concatenate(outs, axis=0) if len(outs) > 1 else outs[0]

    @abc.abstractmethod
    def _fast_options(self) -> tuple[int, dict[str, Any]]:
        """The fast path's chunk (images per runtime call) and the options :meth:`_run_chunk` takes, as
        chosen by timing on the first call (:meth:`fast_config` says what was chosen and why)."""

    def _predict_fast(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Same probabilities as ``default``, in the chunks and with the options chosen by timing
        (``batch_size`` is validated but not used).  The first call chooses (a few seconds)."""
        chunk, options = self._fast_options()
        return self._run(x, chunk, **options)

    def _predict_int8(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """The int8-quantized file (calibrated on training images, see :meth:`model_file`) with the fast
        path's choices.  The first call quantizes (needs the training images)."""
        chunk, options = self._fast_options()
        return self._run(x, chunk, INT8, **options)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return self._run_chunk(x, FLOAT32)

    def _save_native(self, path: Path) -> None:
        path.write_bytes(self.model_file(FLOAT32))

    def _save_native_of(self, path: Path, of_path: str) -> None:
        path.write_bytes(self.model_file(INT8 if of_path in self.approximate_paths else FLOAT32))

    def _checked_params(self, in_file: int, what: str) -> int:
        """The spec's parameter count, checked against the ``in_file`` values the float file's weight tensors
        hold: those less the batch norms folded into their convolutions (every backend counts a batch
        norm's four tensors, as Keras does)."""
        folded = sum(r.params for r in self.spec.summary() if r.kind == "batch_norm")
        if in_file != self.spec.params - folded:  # pragma: no cover - a graph builder that lost or added a tensor
            raise AssertionError(f"{what} of {self.spec.name!r} holds {in_file} parameters, the spec {self.spec.params - folded}")
        return in_file + folded

    def get_weights(self) -> PortableWeights:
        return self._weights.copy()

    def set_weights(self, weights: PortableWeights) -> None:
        self._check_model(weights)
        self._weights = weights.copy()
        self._files: dict[str, bytes] = {FLOAT32: self._built(None)}
        self._forget_runtime()
