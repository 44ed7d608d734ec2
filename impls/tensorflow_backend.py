"""The TensorFlow/Keras backend: a Keras 3 ``Sequential`` built from the spec.

The portable format *is* Keras's layout, so weights transfer tensor by tensor.  Keras is imported
with ``KERAS_BACKEND=tensorflow``.  Thread settings must be applied before TensorFlow runs its
first op; :meth:`TensorflowBackend.set_threads` says so if that is too late.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from impls.autotune import choose_fold_or_split  # noqa: E402
from impls.base import Backend, Evaluation, InferenceModel, validate_batch_size, validate_images, validate_labels  # noqa: E402
from impls.fold import inference_layers  # noqa: E402
from sepbench.core.spec import BN_EPSILON, BN_MOMENTUM, SEPARABLE_KINDS, LayerSpec, ModelSpec  # noqa: E402
from sepbench.core.weights import PortableWeights  # noqa: E402

if keras.backend.backend() != "tensorflow":  # pragma: no cover - environment problem
    raise ImportError(f"the tensorflow backend needs KERAS_BACKEND=tensorflow, Keras is using {keras.backend.backend()!r}")


@keras.saving.register_keras_serializable(package="sepbench")
class SpatialSeparableConv2D(keras.layers.Layer):
    """The spec's ``spatial_separable_conv`` as a Keras layer (Keras has none): a k x 1 kernel per input
    channel strided along rows, then a 1 x k convolution across channels strided along columns, then
    the one bias.  Weights ``column_kernel`` ``(k, 1, C, 1)``, ``row_kernel`` ``(1, k, C, F)``, ``bias``.

    The column pass is ``k`` multiply-adds of row-strided slices: TensorFlow's depthwise kernels take
    equal row and column strides only, and its grouped convolution has no gradient on the CPU, so
    neither can train this layer here.  (The inference graph, :func:`layer_op`, uses the grouped
    convolution, which runs forward on the CPU.)"""

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.strides = int(filters), int(kernel_size), int(strides)

    def build(self, input_shape: Any) -> None:
        c, k = int(input_shape[-1]), self.kernel_size
        self.column_kernel = self.add_weight(name="column_kernel", shape=(k, 1, c, 1), initializer="glorot_uniform")
        self.row_kernel = self.add_weight(name="row_kernel", shape=(1, k, c, self.filters), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, x: Any) -> Any:
        k, s = self.kernel_size, self.strides
        rows = (x.shape[1] - k) // s + 1
        tall = sum(x[:, i : i + s * (rows - 1) + 1 : s] * self.column_kernel[i, 0, :, 0] for i in range(k))
        return tf.nn.bias_add(tf.nn.conv2d(tall, self.row_kernel, [1, 1, s, 1], "VALID"), self.bias)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        k, s = self.kernel_size, self.strides
        return (input_shape[0], (input_shape[1] - k) // s + 1, (input_shape[2] - k) // s + 1, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides}


def _keras_layer(layer: LayerSpec) -> keras.layers.Layer:
    if layer.kind == "conv":
        return keras.layers.Conv2D(layer.filters, layer.kernel, strides=layer.stride, padding="valid", name=layer.name)
    if layer.kind == "separable_conv":
        return keras.layers.SeparableConv2D(
            layer.filters, layer.kernel, strides=layer.stride, padding="valid", depth_multiplier=1, name=layer.name
        )
    if layer.kind == "spatial_separable_conv":
        return SpatialSeparableConv2D(layer.filters, layer.kernel, layer.stride, name=layer.name)
    if layer.kind == "depthwise_conv":
        return keras.layers.DepthwiseConv2D(layer.kernel, strides=layer.stride, padding="valid", depth_multiplier=1, name=layer.name)
    if layer.kind == "batch_norm":
        return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=layer.name)
    if layer.kind == "avg_pool":
        return keras.layers.AveragePooling2D(layer.kernel, strides=layer.stride, padding="valid", name=layer.name)
    if layer.kind == "global_avg_pool":
        return keras.layers.GlobalAveragePooling2D(name=layer.name)
    if layer.kind == "relu":
        return keras.layers.ReLU(name=layer.name)
    if layer.kind == "dense":
        return keras.layers.Dense(layer.filters, activation=layer.activation, name=layer.name)
    raise NotImplementedError(layer.kind)


def build_keras_model(spec: ModelSpec) -> keras.Model:
    """The study's Keras model (uncompiled) for ``spec``."""
    return keras.Sequential([keras.Input(spec.input_shape), *(_keras_layer(layer) for layer in spec.layers)], name=spec.name)


FAST_CHUNK = 1024  # images per graph call on the fast path
FAST_PARALLEL_CHUNK = 5000  # at most this many images per call when chunks run on parallel threads
FAST_XLA = False  # jit_compile for the fast path's tf.function (measured slower: docs/fast-paths.md)


def layer_op(layer: LayerSpec, w: dict[str, np.ndarray], fold: bool = False) -> Any:
    """The layer as raw ``tf.nn`` ops on constant weights (for the fast path's graph and LiteRT), a batch
    norm after it already folded into ``w`` (:func:`impls.fold.inference_layers`).

    ``fold``: a separable layer of either kind as one dense conv with the folded kernel.
    """
    from impls.numpy_ops import folded_kernel

    strides = [1, layer.stride, layer.stride, 1]
    if layer.kind == "conv" or (layer.kind in SEPARABLE_KINDS and fold):
        kernel = w["kernel"] if layer.kind == "conv" else folded_kernel(layer.kind, w)
        k, b = tf.constant(kernel), tf.constant(w["bias"])
        return lambda t: tf.nn.bias_add(tf.nn.conv2d(t, k, strides, "VALID"), b)
    if layer.kind == "spatial_separable_conv":
        # the column pass as a grouped convolution (filter (k, 1, 1, C)): forward runs on the CPU and
        # converts to LiteRT; depthwise_conv2d would need equal row and column strides
        col = tf.constant(np.ascontiguousarray(w["column_kernel"].reshape(layer.kernel, 1, 1, -1)))
        row, b = tf.constant(w["row_kernel"]), tf.constant(w["bias"])
        s = layer.stride
        return lambda t: tf.nn.bias_add(tf.nn.conv2d(tf.nn.conv2d(t, col, [1, s, 1, 1], "VALID"), row, [1, 1, s, 1], "VALID"), b)
    if layer.kind == "separable_conv":
        dw, pw, b = tf.constant(w["depthwise_kernel"]), tf.constant(w["pointwise_kernel"]), tf.constant(w["bias"])
        return lambda t: tf.nn.bias_add(tf.nn.separable_conv2d(t, dw, pw, strides, "VALID"), b)
    if layer.kind == "depthwise_conv":
        dw, b = tf.constant(w["depthwise_kernel"]), tf.constant(w["bias"])
        return lambda t: tf.nn.bias_add(tf.nn.depthwise_conv2d(t, dw, strides, "VALID"), b)
    if layer.kind == "avg_pool":
        return lambda t: tf.nn.avg_pool2d(t, layer.kernel, layer.stride, "VALID")
    if layer.kind == "global_avg_pool":
        return lambda t: tf.reduce_mean(t, axis=[1, 2])
    if layer.kind == "relu":
        return tf.nn.relu
    if layer.kind == "dense":
        k, b = tf.constant(w["kernel"]), tf.constant(w["bias"])
        if layer.activation == "softmax":
            return lambda t: tf.nn.softmax(tf.matmul(t, k) + b)
        return lambda t: tf.matmul(t, k) + b
    raise NotImplementedError(layer.kind)


def _as_graph(op: Any) -> Any:
    """``op`` as a ``tf.function`` (traced on its first call) whose result is fetched: what a fast-path call costs."""
    graph = tf.function(op)
    return lambda t: graph(t).numpy()


def variable_name(layer: keras.layers.Layer, variable: keras.Variable) -> str:
    """The portable tensor name of a Keras layer's variable (Keras 3 calls a ``DepthwiseConv2D``'s
    kernel ``kernel``; the spec, as ``SeparableConv2D`` does, ``depthwise_kernel``)."""
    name = variable.name.split("/")[-1].split(":")[0]
    return "depthwise_kernel" if isinstance(layer, keras.layers.DepthwiseConv2D) and name == "kernel" else name


class KerasModel(InferenceModel):
    backend = "tensorflow"
    native_suffixes = (".h5", ".keras")
    paths = ("default", "fast")
    batch_free_paths = ("fast",)

    def __init__(self, weights: PortableWeights) -> None:
        super().__init__(weights)
        self.model = build_keras_model(self.spec)
        self._compiled_for_evaluate = getattr(self.model, "optimizer", None) is not None
        self._graph: Any = None
        self.fast_choices: dict[str, str] = {}  # separable layer -> "fold" | "split", set on the first fast call
        self.set_weights(weights)

    def _fast_ops(self, example: np.ndarray) -> list[Any]:
        """The layers as ``tf.nn`` ops; each separable layer as it is (depthwise + pointwise) or folded
        into one dense conv, whichever takes less CPU time on its real input here (``fast_choices``;
        :func:`impls.autotune.choose_fold_or_split`, timing each way as a traced graph)."""
        ways = []
        for layer, w, _ in inference_layers(self.spec, self.get_weights()):
            ways.append((layer.name, layer_op(layer, w), layer_op(layer, w, fold=True) if layer.kind in SEPARABLE_KINDS else None))
        key = {"model": self.spec.name, "layers": repr(self.spec.layers), "tensorflow": tf.__version__}
        key["threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        chosen = choose_fold_or_split(ways, tf.constant(example), timed=_as_graph, remember=("tensorflow-fold-or-split", key))
        self.fast_choices = chosen.choices
        return chosen.ops

    def _fast_function(self) -> Any:
        if self._graph is None:
            h, w, c = self.spec.input_shape
            example = np.random.default_rng(0).random((FAST_CHUNK, h, w, c), dtype=np.float32)
            ops = self._fast_ops(example)

            def forward(t: tf.Tensor) -> tf.Tensor:
                for op in ops:
                    t = op(t)
                return t

            signature = [tf.TensorSpec((None, *self.spec.input_shape), tf.float32)]
            self._graph = tf.function(forward, input_signature=signature, jit_compile=FAST_XLA)
        return self._graph

    def fast_config(self) -> dict[str, Any]:
        """Chunk sizes (images; parallel ones when more than one intra-op thread), XLA, fold/split per separable layer."""
        self._fast_function()
        return {"chunk": FAST_CHUNK, "parallel_chunk": FAST_PARALLEL_CHUNK, "xla": FAST_XLA, "layers": dict(self.fast_choices)}

    def _predict_fast(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Same probabilities as ``default``, from one ``tf.function`` graph of raw ``tf.nn`` ops on
        constant weights (traced once for any batch length), called on chunks of :data:`FAST_CHUNK`
        images.  Each separable layer runs as depthwise + pointwise or folded into the equivalent
        dense conv, chosen by measuring both on the first call (``fast_choices``): TensorFlow's CPU
        depthwise convolution is slow, so folding can pay as it does in PyTorch.

        ``batch_size`` is validated but not used: the result for all ``N`` images does not depend on
        it.  Tracing and the fold/split choice happen on the first call (warm-up).  ``set_weights``
        drops the graph (its weights are constants).

        With more than one intra-op thread, more than :data:`FAST_CHUNK` images are split into
        chunks of at most :data:`FAST_PARALLEL_CHUNK` that run on that many Python threads at once
        (the graph releases the GIL; ops share TensorFlow's intra-op pool, so no extra threads).
        XLA (:data:`FAST_XLA`) is off.  Measured alternatives and their times: ``docs/fast-paths.md``
        (TensorFlow).
        """
        graph = self._fast_function()
        workers = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1
        if workers > 1 and len(x) > FAST_CHUNK:
            size = min(FAST_PARALLEL_CHUNK, -(-len(x) // workers))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                outs = list(pool.map(lambda i: graph(tf.constant(x[i : i + size])).numpy(), range(0, len(x), size)))
        else:
            outs = [graph(tf.constant(x[i : i + FAST_CHUNK])).numpy() for i in range(0, len(x), FAST_CHUNK)]
        return np.asarray(np.concatenate(outs) if len(outs) > 1 else outs[0], dtype=np.float32)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(x, training=False), dtype=np.float32)

    def _predict_default(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Keras's own idiom: ``model.predict``."""
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)

    def evaluate(self, images: Any, labels: Any, batch_size: int = 32) -> Evaluation:
        """The study's measurement: compiled ``model.evaluate`` (categorical cross-entropy, accuracy)."""
        x = validate_images(images, self.spec)
        y = validate_labels(labels, len(x), self.spec.num_classes)
        if not self._compiled_for_evaluate:
            self.model.compile(loss="categorical_crossentropy", metrics=["acc"])
            self._compiled_for_evaluate = True
        one_hot = np.eye(self.spec.num_classes, dtype=np.float32)[y]
        loss, acc = self.model.evaluate(x, one_hot, batch_size=validate_batch_size(batch_size), verbose=0)
        return Evaluation(float(loss), float(acc), len(y))

    def set_weights(self, weights: PortableWeights) -> None:
        self._check_model(weights)
        for layer in self.spec.layers:
            keras_layer = self.model.get_layer(layer.name)
            values = weights.layer(layer.name)
            keras_layer.set_weights([values[variable_name(keras_layer, v)] for v in keras_layer.weights])
        self._graph = None  # the fast graph holds the weights as constants: rebuild it

    def get_weights(self) -> PortableWeights:
        tensors: dict[str, np.ndarray] = {}
        for layer in self.spec.layers:
            keras_layer = self.model.get_layer(layer.name)
            for v in keras_layer.weights:
                tensors[f"{layer.name}/{variable_name(keras_layer, v)}"] = np.asarray(v.numpy(), dtype=np.float32)
        return PortableWeights(self.spec, tensors, dict(self.weights_meta))

    def count_params(self) -> int:
        return int(self.model.count_params())

    def _save_native(self, path: Path) -> None:
        self.model.save(path)


class TensorflowBackend(Backend):
    def build(self, weights: PortableWeights) -> KerasModel:
        return KerasModel(weights)

    def versions(self) -> dict[str, str]:
        return {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}

    def set_threads(self, n: int) -> None:
        """Set intra-op threads to ``n`` and inter-op to 1; raises if TensorFlow already started with others."""
        self.threads = n
        cfg = tf.config.threading
        if cfg.get_intra_op_parallelism_threads() == n and cfg.get_inter_op_parallelism_threads() == 1:
            return
        try:
            cfg.set_intra_op_parallelism_threads(n)
            cfg.set_inter_op_parallelism_threads(1)
        except RuntimeError as exc:
            raise RuntimeError(
                f"TensorFlow already initialised its thread pools (intra-op {cfg.get_intra_op_parallelism_threads()}); "
                "set threads before the first TensorFlow op"
            ) from exc

    def thread_settings(self) -> dict[str, Any]:
        cfg = tf.config.threading
        return {"intra_op": cfg.get_intra_op_parallelism_threads(), "inter_op": cfg.get_inter_op_parallelism_threads()}


BACKEND = TensorflowBackend("tensorflow", "tensorflow", "TensorFlow 2 / Keras 3 Sequential")
