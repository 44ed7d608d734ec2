"""The ONNX Runtime backend: an ONNX graph built from the spec and the portable weights, run by
``onnxruntime`` (MLAS kernels on the CPU).  Needs neither TensorFlow nor PyTorch.

Graph: the NHWC input is transposed once to NCHW; ``conv`` -> ``Conv``; ``separable_conv`` ->
a depthwise ``Conv`` (``group`` = input channels, no bias) then a 1x1 ``Conv`` with the layer's one
bias (the Keras layout: one bias of size C_out); ``spatial_separable_conv`` -> a k x 1 ``Conv``
(``group`` = input channels, strides ``(s, 1)``, no bias) then a 1 x k ``Conv`` (strides ``(1, s)``)
with the bias; ``global_avg_pool`` -> ``GlobalAveragePool`` +
``Flatten``; ``dense`` -> ``Gemm``; softmax last.  The batch axis is symbolic, so one session
serves every batch size.

Paths: ``default`` runs the session once per ``batch_size`` images with ONNX Runtime's default
graph optimisations; ``fast`` runs its own chunks with the optimisation level and chunk size
chosen by timing on the first call (:meth:`OnnxModel.fast_config` says what was chosen).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from impls.base import Backend
from impls.file_runtime import FLOAT32, INPUT, OUTPUT, FileRuntimeModel
from sepbench.core.spec import LayerSpec, ModelSpec
from sepbench.core.weights import PortableWeights
from sepbench.util import tuning
from sepbench.util.timer import fastest

OPSET = 17
IR_VERSION = 9  # what ONNX Runtime 1.31 reads (up to 13); the onnx package's helper writes its newest otherwise
# the fast path's candidates: ONNX Runtime's graph optimisation levels x images per session run
OPT_LEVELS = {
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
FAST_CHUNKS = (1024, 2048, 4096)  # at most TUNE_IMAGES: every candidate is timed as it would run
TUNE_IMAGES = 4096  # images timed per candidate when the fast path chooses
# (model, threads) -> the fast path's choice: it depends on shapes and threads, not on weight values,
# so it is made once per process (as the NumPy backend's plan is)
_FAST_CHOICES: dict[tuple[str, int | None], dict[str, Any]] = {}


Part = tuple[str, np.ndarray, list[int]]  # (name, ONNX kernel, strides) of one convolution of a layer


def _grouped_then_dense(
    n: str, x: str, first: Part, second: Part, bias: np.ndarray
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """A two-part layer: a per-channel ``Conv`` (``group`` = input channels, no bias) then a dense ``Conv``
    with the layer's one bias (separable: depthwise then pointwise; spatial: k x 1 then 1 x k)."""
    (a, ka, sa), (b, kb, sb) = first, second
    inits = [
        numpy_helper.from_array(ka, f"{n}/{a}_kernel"),
        numpy_helper.from_array(kb, f"{n}/{b}_kernel"),
        numpy_helper.from_array(bias, f"{n}/bias"),
    ]
    nodes = [
        helper.make_node("Conv", [x, f"{n}/{a}_kernel"], [f"{n}/{a}"], strides=sa, group=ka.shape[0], name=f"{n}/{a}"),
        helper.make_node("Conv", [f"{n}/{a}", f"{n}/{b}_kernel", f"{n}/bias"], [n], strides=sb, name=f"{n}/{b}"),
    ]
    return nodes, inits, n


def _layer_nodes(layer: LayerSpec, w: dict[str, np.ndarray], x: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """ONNX nodes and initializers computing ``layer`` on the NCHW tensor named ``x``; returns its output name."""
    n = layer.name
    strides = [layer.stride, layer.stride]
    if layer.kind == "conv":
        kernel = np.ascontiguousarray(w["kernel"].transpose(3, 2, 0, 1))  # (kh, kw, cin, cout) -> (cout, cin, kh, kw)
        inits = [numpy_helper.from_array(kernel, f"{n}/kernel"), numpy_helper.from_array(w["bias"], f"{n}/bias")]
        return [helper.make_node("Conv", [x, f"{n}/kernel", f"{n}/bias"], [n], strides=strides, name=n)], inits, n
    if layer.kind == "separable_conv":
        dw = np.ascontiguousarray(w["depthwise_kernel"].transpose(2, 3, 0, 1))  # (kh, kw, cin, 1) -> (cin, 1, kh, kw)
        pw = np.ascontiguousarray(w["pointwise_kernel"].transpose(3, 2, 0, 1))  # (1, 1, cin, cout) -> (cout, cin, 1, 1)
        return _grouped_then_dense(n, x, ("depthwise", dw, strides), ("pointwise", pw, [1, 1]), w["bias"])
    if layer.kind == "spatial_separable_conv":
        col = np.ascontiguousarray(w["column_kernel"].transpose(2, 3, 0, 1))  # (k, 1, cin, 1) -> (cin, 1, k, 1)
        row = np.ascontiguousarray(w["row_kernel"].transpose(3, 2, 0, 1))  # (1, k, cin, cout) -> (cout, cin, 1, k)
        return _grouped_then_dense(n, x, ("column", col, [layer.stride, 1]), ("row", row, [1, layer.stride]), w["bias"])
    if layer.kind == "depthwise_conv":
        dw = np.ascontiguousarray(w["depthwise_kernel"].transpose(2, 3, 0, 1))  # (kh, kw, cin, 1) -> (cin, 1, kh, kw)
        inits = [numpy_helper.from_array(dw, f"{n}/depthwise_kernel"), numpy_helper.from_array(w["bias"], f"{n}/bias")]
        node = helper.make_node("Conv", [x, f"{n}/depthwise_kernel", f"{n}/bias"], [n], strides=strides, group=dw.shape[0], name=n)
        return [node], inits, n
    if layer.kind == "avg_pool":
        return [helper.make_node("AveragePool", [x], [n], kernel_shape=[layer.kernel] * 2, strides=strides, name=n)], [], n
    if layer.kind == "relu":
        return [helper.make_node("Relu", [x], [n], name=n)], [], n
    if layer.kind == "global_avg_pool":
        return (
            [
                helper.make_node("GlobalAveragePool", [x], [f"{n}/pooled"], name=n),
                helper.make_node("Flatten", [f"{n}/pooled"], [n], axis=1, name=f"{n}/flatten"),
            ],
            [],
            n,
        )
    if layer.kind == "dense":
        inits = [numpy_helper.from_array(w["kernel"], f"{n}/kernel"), numpy_helper.from_array(w["bias"], f"{n}/bias")]
        return [helper.make_node("Gemm", [x, f"{n}/kernel", f"{n}/bias"], [n], name=n)], inits, n
    raise NotImplementedError(layer.kind)  # pragma: no cover - the spec validates kinds


def build_graph(spec: ModelSpec, weights: PortableWeights) -> onnx.ModelProto:
    """The ONNX model of ``spec`` holding ``weights``: NHWC float32 images in, probabilities out."""
    h, w, c = spec.input_shape
    nodes = [helper.make_node("Transpose", [INPUT], ["nchw"], perm=[0, 3, 1, 2], name="to_nchw")]
    inits: list[onnx.TensorProto] = []
    x = "nchw"
    from impls.fold import inference_layers

    for layer, tensors, _ in inference_layers(spec, weights):  # each batch norm folded into its convolution
        layer_nodes, layer_inits, x = _layer_nodes(layer, tensors, x)
        nodes += layer_nodes
        inits += layer_inits
    if spec.layers[-1].activation == "softmax":
        nodes.append(helper.make_node("Softmax", [x], [OUTPUT], axis=1, name="softmax"))
    elif len(spec.output_shape) == 3:  # a model that ends in a convolution gives NHWC images back
        nodes.append(helper.make_node("Transpose", [x], [OUTPUT], perm=[0, 2, 3, 1], name="to_nhwc"))
    else:
        nodes.append(helper.make_node("Identity", [x], [OUTPUT], name="output"))
    graph = helper.make_graph(
        nodes,
        f"sepbench_{spec.name}",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", h, w, c])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", *spec.output_shape])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sepbench", ir_version=IR_VERSION)
    onnx.checker.check_model(model)
    return model


def quantize_int8(float_model: bytes, calibration: np.ndarray) -> bytes:
    """The float model statically quantized to int8 by ONNX Runtime (QDQ format, signed int8 weights and
    unsigned int8 activations, one scale per tensor, ranges calibrated by min/max on ``calibration``).

    Weights use 7 bits (``reduce_range``): on a CPU without VNNI (AVX2 only, e.g. AMD EPYC Zen 2) MLAS
    multiplies u8 x s8 pairs into saturating 16-bit sums, which with full-range weights put the study's
    regular model 0.028 from the float probabilities (0.02 allowed); ONNX Runtime's quantization
    guide recommends reduce_range there.  The file is then the same on every CPU."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(calibration[i : i + 100] for i in range(0, len(calibration), 100))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT: batch}

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs a pre-processing tip through the root logger on every call
    try:
        with tempfile.TemporaryDirectory(prefix="sepbench-onnx-int8-") as tmp:
            src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
            src.write_bytes(float_model)
            quantize_static(
                str(src),
                str(dst),
                Batches(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=False,
                reduce_range=True,
            )
            return dst.read_bytes()
    finally:
        root.setLevel(level)


class OnnxModel(FileRuntimeModel):
    backend = "onnxruntime"
    native_suffixes = (".onnx",)

    def _build_file(self, weights: PortableWeights, calibration: np.ndarray | None) -> bytes:
        float_model = build_graph(self.spec, weights).SerializeToString()
        return float_model if calibration is None else quantize_int8(float_model, calibration)

    def _forget_runtime(self) -> None:
        self._sessions: dict[tuple[str, str], ort.InferenceSession] = {}

    def _session(self, level: str = "all", model: str = FLOAT32) -> ort.InferenceSession:
        if (level, model) not in self._sessions:
            options = ort.SessionOptions()
            options.graph_optimization_level = OPT_LEVELS[level]
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.inter_op_num_threads = 1
            if self._threads:
                options.intra_op_num_threads = self._threads
            options.log_severity_level = 3  # errors only: ONNX Runtime warns about unused initializers otherwise
            self._sessions[level, model] = ort.InferenceSession(self.model_file(model), options, providers=["CPUExecutionProvider"])
        return self._sessions[level, model]

    def _run_chunk(self, x: np.ndarray, model: str, level: str = "all") -> np.ndarray:
        return self._session(level, model).run([OUTPUT], {INPUT: x})[0]

    # ---- the fast path and int8 ----------------------------------------------------------------
    def fast_config(self) -> dict[str, Any]:
        """The graph optimisation level and chunk (images per session run) chosen by timing on this machine."""
        key = (self.spec.name, self._threads)
        if key not in _FAST_CHOICES:

            def choose() -> dict[str, Any]:
                x = np.random.default_rng(0).random((TUNE_IMAGES, *self.spec.input_shape), dtype=np.float32)
                candidates = {
                    (level, chunk): (lambda lv=level, c=chunk: self._run(x, c, level=lv)) for level in OPT_LEVELS for chunk in FAST_CHUNKS
                }
                choice = fastest(candidates, rounds=3, warmup=1)
                return {"optimization": choice.winner[0], "chunk": choice.winner[1]}

            # remembered per machine (sepbench.util.tuning): a rerun measures what the first run chose
            tuning_key = {"model": self.spec.name, "layers": repr(self.spec.layers), "threads": self._threads}
            tuning_key["onnxruntime"] = ort.__version__
            _FAST_CHOICES[key] = tuning.remembered(
                "onnxruntime-fast", tuning_key, choose, valid=lambda c: c["optimization"] in OPT_LEVELS and c["chunk"] in FAST_CHUNKS
            )
        return dict(_FAST_CHOICES[key])

    def _fast_options(self) -> tuple[int, dict[str, Any]]:
        """The chunk and the graph optimisation level; ``int8`` runs :func:`quantize_int8`'s file with them."""
        config = self.fast_config()
        return config["chunk"], {"level": config["optimization"]}

    def count_params(self) -> int:
        """The parameters of the spec (a batch norm's four tensors too, as every backend counts them), checked
        against the float graph: its initializers hold exactly those, less the batch norms folded into
        their convolutions."""
        model = onnx.load_from_string(self.model_file(FLOAT32))
        return self._checked_params(int(sum(np.prod(t.dims) for t in model.graph.initializer)), "ONNX graph")


class OnnxRuntimeBackend(Backend):
    def build(self, weights: PortableWeights) -> OnnxModel:
        return OnnxModel(weights, self.threads)

    def versions(self) -> dict[str, str]:
        return {"onnxruntime": ort.__version__, "onnx": onnx.__version__, "numpy": np.__version__}

    def set_threads(self, n: int) -> None:
        """Intra-op threads of sessions created from now on (inter-op 1, sequential execution)."""
        self.threads = n

    def thread_settings(self) -> dict[str, Any]:
        return {"intra_op": self.threads, "inter_op": 1, "execution_mode": "sequential"}


BACKEND = OnnxRuntimeBackend("onnxruntime", "onnxruntime", "ONNX Runtime (MLAS): an ONNX graph built from the spec")
