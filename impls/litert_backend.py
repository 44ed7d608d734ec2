"""The LiteRT backend: a ``.tflite`` flatbuffer built from the spec and the portable weights, run by
``ai-edge-litert``'s interpreter with its default XNNPACK delegate (float32).

The flatbuffer is made by TensorFlow's converter from the same raw ``tf.nn`` graph as the TensorFlow
fast path (``conv`` -> CONV_2D; ``separable_conv`` -> DEPTHWISE_CONV_2D then a 1x1 CONV_2D with the
layer's one bias; mean; FULLY_CONNECTED; SOFTMAX), so this backend needs TensorFlow installed to
*build* a model; without it the registry reports the backend unavailable and says why.  Running the
model needs only ``ai-edge-litert``.

Paths: ``default`` resizes the interpreter's input to ``batch_size`` images and invokes once per
batch; ``fast`` runs in its own chunks, the chunk size chosen by timing on the first call
(:meth:`LiteRTModel.fast_config`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from impls.base import Backend
from impls.file_runtime import FileRuntimeModel
from sepbench.core.weights import PortableWeights
from sepbench.util import tuning
from sepbench.util.timer import fastest

try:  # the converter: building a .tflite needs TensorFlow (running one does not)
    import tensorflow as tf

    from impls.tensorflow_backend import layer_op  # the same raw tf.nn graph as the TensorFlow fast path
except ImportError as exc:  # pragma: no cover - exercised where TensorFlow is absent
    raise ImportError(
        f"the litert backend builds its .tflite files with TensorFlow's converter, which is not importable ({exc}); "
        "install it with `pip install 'sepbench[tf]'`"
    ) from exc

FAST_CHUNKS = (256, 1024, 4096)
TUNE_IMAGES = 4096
_FAST_CHOICES: dict[tuple[str, int | None], dict[str, Any]] = {}  # (model, threads) -> chunk chosen (shape-dependent only)


def build_flatbuffer(weights: PortableWeights, calibration: np.ndarray | None = None) -> bytes:
    """The ``.tflite`` model holding ``weights`` (batch axis dynamic): float32, or with ``calibration``
    images full-integer int8 (TensorFlow's post-training quantization: int8 weights, per output channel
    for convolutions, int8 activations with ranges from ``calibration``; float32 in and out)."""
    spec = weights.spec
    from impls.fold import inference_layers

    ops = [layer_op(layer, w) for layer, w, _ in inference_layers(spec, weights)]

    @tf.function(input_signature=[tf.TensorSpec([None, *spec.input_shape], tf.float32, name="images")])
    def forward(x: tf.Tensor) -> tf.Tensor:
        for op in ops:
            x = op(x)
        return x

    converter = tf.lite.TFLiteConverter.from_concrete_functions([forward.get_concrete_function()], forward)
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calibration[i : i + 1]] for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with warnings.catch_warnings():
        # the model's input and output stay float32 (only the inside is int8), so there are no input
        # statistics to give: TensorFlow's converter warns about them on every int8 conversion
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected", category=UserWarning)
        return bytes(converter.convert())


def _runtime_version() -> str:
    from importlib.metadata import version

    return version("ai-edge-litert")


class LiteRTModel(FileRuntimeModel):
    backend = "litert"
    native_suffixes = (".tflite",)

    def _build_file(self, weights: PortableWeights, calibration: np.ndarray | None) -> bytes:
        return build_flatbuffer(weights, calibration)

    def _forget_runtime(self) -> None:
        self._interpreters: dict[tuple[int, str], Interpreter] = {}

    def _interpreter_for(self, n: int, model: str) -> Interpreter:
        """An interpreter whose input holds ``n`` images (one per batch size, kept: resizing re-plans the graph)."""
        if (n, model) not in self._interpreters:
            if len(self._interpreters) >= 4:  # each holds its activations (800+ MB at 10,000 images): keep few
                self._interpreters.pop(next(iter(self._interpreters)))
            it = Interpreter(model_content=self.model_file(model), num_threads=self._threads)
            it.resize_tensor_input(it.get_input_details()[0]["index"], [n, *self.spec.input_shape], strict=False)
            it.allocate_tensors()
            self._interpreters[n, model] = it
        return self._interpreters[n, model]

    def _run_chunk(self, x: np.ndarray, model: str) -> np.ndarray:
        it = self._interpreter_for(len(x), model)
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"]).copy()

    def fast_config(self) -> dict[str, Any]:
        """The chunk (images per invoke) chosen by timing on this machine; XNNPACK is LiteRT's default delegate."""
        key = (self.spec.name, self._threads)
        if key not in _FAST_CHOICES:

            def choose() -> dict[str, Any]:
                x = np.random.default_rng(0).random((TUNE_IMAGES, *self.spec.input_shape), dtype=np.float32)
                choice = fastest({c: (lambda c=c: self._run(x, c)) for c in FAST_CHUNKS}, rounds=3, warmup=1)
                return {"chunk": choice.winner, "delegate": "xnnpack (default)"}

            # remembered per machine (sepbench.util.tuning): a rerun measures what the first run chose
            tuning_key = {"model": self.spec.name, "layers": repr(self.spec.layers), "threads": self._threads, "litert": _runtime_version()}
            _FAST_CHOICES[key] = tuning.remembered("litert-fast", tuning_key, choose, valid=lambda c: c["chunk"] in FAST_CHUNKS)
        return dict(_FAST_CHOICES[key])

    def _fast_options(self) -> tuple[int, dict[str, Any]]:
        """The chunk alone (XNNPACK plans the rest); ``int8`` runs :func:`build_flatbuffer`'s quantized file in it."""
        return self.fast_config()["chunk"], {}

    def count_params(self) -> int:
        """Parameters of the portable weights the flatbuffer was built from (its buffers also hold
        converter-made constants such as reshape shapes, which are not parameters)."""
        return self._weights.num_params


class LiteRTBackend(Backend):
    def build(self, weights: PortableWeights) -> LiteRTModel:
        return LiteRTModel(weights, self.threads)

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"ai-edge-litert": version("ai-edge-litert"), "tensorflow (converter)": tf.__version__, "numpy": np.__version__}

    def set_threads(self, n: int) -> None:
        """Threads of the interpreters created from now on (XNNPACK's thread pool)."""
        self.threads = n

    def thread_settings(self) -> dict[str, Any]:
        return {"num_threads": self.threads}


BACKEND = LiteRTBackend("litert", "ai_edge_litert", "LiteRT (XNNPACK): a .tflite built from the spec with TensorFlow's converter")
