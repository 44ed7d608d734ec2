"""The OpenVINO backend: an OpenVINO model built from the spec with its own op set and the portable
weights, compiled for the CPU plugin (oneDNN's JIT kernels).  Needs neither TensorFlow nor PyTorch.

Graph (opset 16, AvgPool from opset 1; NCHW inside): the NHWC input is transposed once; ``conv`` -> ``Convolution`` + bias;
``separable_conv`` -> a ``GroupConvolution`` with one group per input channel (depthwise) then a 1x1
``Convolution`` with the layer's one bias (the Keras layout); ``spatial_separable_conv`` -> a grouped
k x 1 then a 1 x k ``Convolution``; ``depthwise_conv`` -> a ``GroupConvolution`` + bias; ``avg_pool``
-> ``AvgPool``; ``global_avg_pool`` -> ``ReduceMean`` over the pixels; ``dense`` -> ``MatMul`` + bias;
softmax last.  Batch norms are folded into their convolutions (:mod:`impls.fold`).  The batch axis is
dynamic, so one compiled model serves every batch size.

Precision: the CPU plugin computes in bfloat16 by default on a CPU that has it (AVX-512 BF16, AMX);
every compiled model here asks for f32 (``INFERENCE_PRECISION_HINT``), so its probabilities match
NumPy's to 1e-5 like every other float path, and the hint in force is recorded.

Native files: OpenVINO's IR, an ``.xml`` graph with its weights in a ``.bin`` file of the same stem
beside it (float32, uncompressed); a model's size is the two together.

Paths: ``default`` runs one synchronous request per ``batch_size`` images under the latency hint;
``fast`` chooses by interleaved timing between the latency hint (one stream, one request per chunk)
and the throughput hint (the plugin's streams fed by an asynchronous request queue), and the chunk;
``int8`` runs the model quantized by NNCF's post-training quantization (``nncf.quantize``, ranges
calibrated on MNIST training images) with the fast path's choice.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import openvino.opset1 as opset1
import openvino.opset16 as ops

from impls.base import Backend
from impls.file_runtime import FLOAT32, INPUT, INT8, OUTPUT, FileRuntimeModel
from sepbench.core.spec import LayerSpec, ModelSpec
from sepbench.core.weights import PortableWeights
from sepbench.util import tuning
from sepbench.util.atomic import atomic_write_bytes
from sepbench.util.timer import fastest

OPSET = "opset16"
HINTS = ("latency", "throughput")  # the fast path's candidates: the plugin's performance hints x chunks
FAST_CHUNKS = (256, 1024, 4096)  # images per request
# images timed per candidate: more than the largest chunk, so that every candidate runs as it will on
# 10,000 images (a throughput candidate of one request would run on the latency compile)
TUNE_IMAGES = 8192
PRECISION = "f32"  # asked of every compiled model: the plugin's default is bf16 where the CPU has it
# (model, threads) -> the fast path's choice: shapes and threads decide it, not weight values
_FAST_CHOICES: dict[tuple[str, int | None], dict[str, Any]] = {}
_CORE: ov.Core | None = None


def core() -> ov.Core:
    """The process's one OpenVINO runtime core (it loads the CPU plugin once)."""
    global _CORE
    if _CORE is None:
        _CORE = ov.Core()
    return _CORE


@dataclass(frozen=True)
class IRFiles:
    """A model as OpenVINO's IR: the graph (``.xml`` text) and its weights (``.bin``), bytes each."""

    xml: bytes
    weights: bytes

    @property
    def nbytes(self) -> int:
        """Bytes of the two files together."""
        return len(self.xml) + len(self.weights)


def _const(a: np.ndarray) -> ov.Node:
    return ops.constant(np.ascontiguousarray(a, dtype=np.float32))


def _bias(x: ov.Node, bias: np.ndarray) -> ov.Node:
    """``x`` plus one bias per channel (axis 1, NCHW)."""
    return ops.add(x, _const(bias.reshape(1, -1, 1, 1)))


def _conv(x: ov.Node, kernel_oihw: np.ndarray, strides: list[int]) -> ov.Node:
    return ops.convolution(x, _const(kernel_oihw), strides, [0, 0], [0, 0], [1, 1], auto_pad="valid")


def _per_channel(x: ov.Node, kernel_gihw: np.ndarray, strides: list[int]) -> ov.Node:
    """A convolution of each channel by its own kernel: ``GroupConvolution``, weights (C, 1, 1, kh, kw)."""
    return ops.group_convolution(x, _const(kernel_gihw[:, None]), strides, [0, 0], [0, 0], [1, 1], auto_pad="valid")


def _layer(layer: LayerSpec, w: dict[str, np.ndarray], x: ov.Node) -> ov.Node:
    """The ops computing ``layer`` on the NCHW node ``x`` (its output node)."""
    s = [layer.stride, layer.stride]
    if layer.kind == "conv":
        return _bias(_conv(x, w["kernel"].transpose(3, 2, 0, 1), s), w["bias"])  # (kh, kw, cin, cout) -> OIHW
    if layer.kind == "separable_conv":
        dw = _per_channel(x, w["depthwise_kernel"].transpose(2, 3, 0, 1), s)  # (kh, kw, cin, 1) -> (cin, 1, kh, kw)
        return _bias(_conv(dw, w["pointwise_kernel"].transpose(3, 2, 0, 1), [1, 1]), w["bias"])
    if layer.kind == "spatial_separable_conv":
        col = _per_channel(x, w["column_kernel"].transpose(2, 3, 0, 1), [layer.stride, 1])  # (k, 1, cin, 1) -> (cin, 1, k, 1)
        return _bias(_conv(col, w["row_kernel"].transpose(3, 2, 0, 1), [1, layer.stride]), w["bias"])  # -> (cout, cin, 1, k)
    if layer.kind == "depthwise_conv":
        return _bias(_per_channel(x, w["depthwise_kernel"].transpose(2, 3, 0, 1), s), w["bias"])
    if layer.kind == "avg_pool":
        # AvgPool-1: opset 14's AvgPool (what opset16 offers) crashes the 2026.4 CPU plugin's compile
        # (a segmentation fault, static or dynamic batch); "valid" pooling is the same op in both
        return opset1.avg_pool(x, s, [0, 0], [0, 0], [layer.kernel, layer.kernel], True, "floor", "valid")
    if layer.kind == "relu":
        return ops.relu(x)
    if layer.kind == "global_avg_pool":
        return ops.reduce_mean(x, ops.constant(np.array([2, 3], dtype=np.int64)), keep_dims=False)
    if layer.kind == "dense":
        return ops.add(ops.matmul(x, _const(w["kernel"]), False, False), _const(w["bias"]))
    raise NotImplementedError(layer.kind)  # pragma: no cover - the spec validates kinds


def build_model(spec: ModelSpec, weights: PortableWeights) -> ov.Model:
    """The OpenVINO model of ``spec`` holding ``weights``: NHWC float32 images in (any batch), probabilities out."""
    from impls.fold import inference_layers

    images = ops.parameter([-1, *spec.input_shape], ov.Type.f32, name=INPUT)
    x = ops.transpose(images, ops.constant(np.array([0, 3, 1, 2], dtype=np.int64)))
    for layer, tensors, _ in inference_layers(spec, weights):  # each batch norm folded into its convolution
        x = _layer(layer, tensors, x)
    if spec.layers[-1].activation == "softmax":
        x = ops.softmax(x, 1)
    elif len(spec.output_shape) == 3:  # a model that ends in a convolution gives NHWC images back
        x = ops.transpose(x, ops.constant(np.array([0, 2, 3, 1], dtype=np.int64)))
    out = ops.result(x)
    out.get_output_tensor(0).set_names({OUTPUT})
    model = ov.Model([out], [images], f"sepbench_{spec.name}")
    # names from the graph's order, not the process's op counter ("Convolution_123"): the same model
    # is the same file, byte for byte, whatever was built before it
    for i, op in enumerate(model.get_ordered_ops()):
        op.set_friendly_name(INPUT if op.get_type_name() == "Parameter" else f"{i:03d}_{op.get_type_name()}")
    return model


def to_ir(model: ov.Model) -> IRFiles:
    """``model`` as IR bytes (weights kept float32: ``save_model`` would halve them to fp16 by default)."""
    with tempfile.TemporaryDirectory(prefix="sepbench-openvino-") as tmp:
        xml = Path(tmp) / "model.xml"
        ov.save_model(model, str(xml), compress_to_fp16=False)
        return IRFiles(xml.read_bytes(), xml.with_suffix(".bin").read_bytes())


def from_ir(files: IRFiles) -> ov.Model:
    return core().read_model(model=files.xml, weights=ov.Tensor(np.frombuffer(files.weights, dtype=np.uint8).copy()))


def quantize_int8(float_model: ov.Model, calibration: np.ndarray) -> ov.Model:
    """The model quantized to int8 by NNCF's post-training quantization (its default, "performance":
    symmetric int8 weights per output channel and activations per tensor, FakeQuantize ops the CPU
    plugin runs as int8 kernels), ranges from every image of ``calibration``, in batches of one."""
    import nncf

    nncf.set_log_level(logging.ERROR)  # its info lines on every call
    dataset = nncf.Dataset([calibration[i : i + 1] for i in range(len(calibration))])
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # its progress bars (rich)
        return nncf.quantize(float_model, dataset, subset_size=len(calibration), preset=nncf.QuantizationPreset.PERFORMANCE)


def nncf_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nncf")
    except PackageNotFoundError:
        return None


class OpenVINOModel(FileRuntimeModel):
    backend = "openvino"
    native_suffixes = (".xml",)
    native_companion_suffixes = (".bin",)

    def _build_file(self, weights: PortableWeights, calibration: np.ndarray | None) -> IRFiles:
        model = build_model(self.spec, weights)
        return to_ir(model if calibration is None else quantize_int8(model, calibration))

    def _parts(self, file: IRFiles) -> dict[str, bytes]:
        return {"xml": file.xml, "bin": file.weights}

    def _from_parts(self, parts: dict[str, bytes]) -> IRFiles:
        return IRFiles(parts["xml"], parts["bin"])

    def _forget_runtime(self) -> None:
        self._compiled: dict[tuple[str, str], ov.CompiledModel] = {}
        self._requests: dict[tuple[str, str], Any] = {}

    def compiled(self, hint: str = "latency", model: str = FLOAT32) -> ov.CompiledModel:
        """The ``model`` file compiled for the CPU under performance hint ``hint``, f32, this backend's threads."""
        if (hint, model) not in self._compiled:
            config: dict[str, Any] = {"PERFORMANCE_HINT": hint.upper(), "INFERENCE_PRECISION_HINT": PRECISION}
            if self._threads:
                config["INFERENCE_NUM_THREADS"] = self._threads
            self._compiled[hint, model] = core().compile_model(from_ir(self.model_file(model)), "CPU", config)
        return self._compiled[hint, model]

    def _request(self, hint: str, model: str) -> Any:
        """One synchronous request (latency) or the plugin's optimal number of asynchronous ones (throughput)."""
        if (hint, model) not in self._requests:
            c = self.compiled(hint, model)
            if hint == "latency":
                self._requests[hint, model] = c.create_infer_request()
            else:
                self._requests[hint, model] = ov.AsyncInferQueue(c, int(c.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        return self._requests[hint, model]

    def _run_chunk(self, x: np.ndarray, model: str) -> np.ndarray:
        """One synchronous request of ``x`` under the latency hint (one stream)."""
        return self._request("latency", model).infer({0: x}, share_inputs=True)[0].copy()

    def _run(self, x: np.ndarray, chunk: int, model: str = FLOAT32, **runtime: Any) -> np.ndarray:
        """Probabilities of ``x`` in chunks of ``chunk`` images; under the throughput hint the chunks are
        requests of one asynchronous queue (the plugin's streams run them at once)."""
        if runtime.get("hint", "latency") == "latency" or len(x) <= chunk:
            # one request: the throughput hint's streams would each hold a share of the threads, and one
            # request runs on one stream; the latency compile gives it them all
            return super()._run(x, chunk, model)
        queue = self._request("throughput", model)
        out = np.empty((len(x), *self.spec.output_shape), dtype=np.float32)
        written: list[int] = []  # rows each finished request wrote (list.append is atomic: callbacks run on the runtime's threads)

        def done(request: Any, start: int) -> None:
            result = request.get_output_tensor(0).data
            out[start : start + len(result)] = result
            written.append(len(result))

        queue.set_callback(done)
        for i in range(0, len(x), chunk):
            queue.start_async({0: x[i : i + chunk]}, userdata=i, share_inputs=False)
        queue.wait_all()
        if sum(written) != len(x):  # a request that failed without raising: its rows would be leftover memory
            raise RuntimeError(f"OpenVINO's request queue returned {sum(written)} of {len(x)} images' outputs")
        return out

    # ---- the fast path and int8 ----------------------------------------------------------------
    def fast_config(self) -> dict[str, Any]:
        """The performance hint and chunk (images per request) chosen by timing on this machine, and what
        the plugin made of the hint (streams, threads, requests, precision, pinning)."""
        choice = self._fast_choice()
        return {**choice, **self.plugin_config(choice["hint"])}

    def _fast_choice(self) -> dict[str, Any]:
        """The hint and chunk alone (chosen on the first call): what a predict reads, without asking the plugin."""
        key = (self.spec.name, self._threads)
        if key not in _FAST_CHOICES:

            def choose() -> dict[str, Any]:
                x = np.random.default_rng(0).random((TUNE_IMAGES, *self.spec.input_shape), dtype=np.float32)
                candidates = {(h, c): (lambda h=h, c=c: self._run(x, c, hint=h)) for h in HINTS for c in FAST_CHUNKS}
                choice = fastest(candidates, rounds=3, warmup=1)
                return {"hint": choice.winner[0], "chunk": choice.winner[1]}

            # remembered per machine (sepbench.util.tuning): a rerun measures what the first run chose
            tuning_key = {"model": self.spec.name, "layers": repr(self.spec.layers), "threads": self._threads, "openvino": ov.__version__}
            _FAST_CHOICES[key] = tuning.remembered(
                "openvino-fast", tuning_key, choose, valid=lambda c: c["hint"] in HINTS and c["chunk"] in FAST_CHUNKS
            )
        return dict(_FAST_CHOICES[key])

    def plugin_config(self, hint: str = "latency") -> dict[str, Any]:
        """What the CPU plugin compiled under ``hint``: streams, threads, optimal requests, precision, pinning."""
        c = self.compiled(hint)
        names = {"streams": "NUM_STREAMS", "threads": "INFERENCE_NUM_THREADS", "requests": "OPTIMAL_NUMBER_OF_INFER_REQUESTS"}
        config: dict[str, Any] = {k: int(c.get_property(v)) for k, v in names.items()}
        config["precision"] = c.get_property("INFERENCE_PRECISION_HINT").to_string()
        config["pinning"] = bool(c.get_property("ENABLE_CPU_PINNING"))  # threads held to cores: on a shared machine, worth knowing
        return config

    def _fast_options(self) -> tuple[int, dict[str, Any]]:
        """The chunk and the hint, read without asking the plugin; ``int8`` runs :func:`quantize_int8`'s model with them."""
        config = self._fast_choice()
        return config["chunk"], {"hint": config["hint"]}

    # ---- files and counts ------------------------------------------------------------------------
    def save_native(self, path: Any, of_path: str = "default") -> Path:
        """The IR of ``of_path``'s model: ``path`` (``.xml``) and its weights beside it (same stem, ``.bin``,
        replaced if there is one: the pair is one model), each written atomically, the weights first, so a
        first save's graph never names weights that are not there (a reader of an older pair may see the
        new weights a moment before the new graph)."""
        path = self._checked_native_path(path, of_path)
        files = self.model_file(INT8 if of_path in self.approximate_paths else FLOAT32)
        atomic_write_bytes(path.with_suffix(".bin"), files.weights)
        atomic_write_bytes(path, files.xml)
        return path

    def _save_native(self, path: Path) -> None:  # pragma: no cover - save_native writes both files itself
        raise NotImplementedError("an OpenVINO model is two files: use save_native")

    def _save_native_of(self, path: Path, of_path: str) -> None:  # pragma: no cover - as above
        raise NotImplementedError("an OpenVINO model is two files: use save_native")

    def count_params(self) -> int:
        """The parameters of the spec (a batch norm's four tensors too, as every backend counts them),
        checked against the float model's constants of float type (its weights and biases, less the
        folded batch norms)."""
        model = from_ir(self.model_file(FLOAT32))
        weights = [op for op in model.get_ops() if op.get_type_name() == "Constant" and op.get_element_type() == ov.Type.f32]
        return self._checked_params(sum(int(np.prod(op.get_output_shape(0))) for op in weights), "OpenVINO model")


class OpenVINOBackend(Backend):
    def build(self, weights: PortableWeights) -> OpenVINOModel:
        return OpenVINOModel(weights, self.threads)

    def versions(self) -> dict[str, str]:
        found = {"openvino": ov.__version__.split("-")[0], "numpy": np.__version__}
        nncf = nncf_version()
        if nncf:
            found["nncf (int8)"] = nncf
        return found

    def set_threads(self, n: int) -> None:
        """``INFERENCE_NUM_THREADS`` of the models compiled from now on (the CPU plugin's thread pool)."""
        self.threads = n

    def thread_settings(self) -> dict[str, Any]:
        return {"inference_num_threads": self.threads, "precision": PRECISION, "default_hint": "latency"}


BACKEND = OpenVINOBackend("openvino", "openvino", f"OpenVINO (CPU plugin, oneDNN): a model built from the spec in its {OPSET}")
