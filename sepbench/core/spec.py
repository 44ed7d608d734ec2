"""The models of the study (and of its pairs), described once, as data.

Everything else about a model (output shapes, parameter counts, multiply-accumulate counts,
the tensors a backend must hold) is *computed* from these descriptions; no backend spells a model
out again.  Tensor layouts follow Keras (channels last):

* ``conv``            kernel ``(kh, kw, c_in, filters)``, bias ``(filters,)``
* ``separable_conv``  depthwise_kernel ``(kh, kw, c_in, 1)``, pointwise_kernel
  ``(1, 1, c_in, filters)`` and ONE bias ``(filters,)`` (Keras's ``SeparableConv2D``)
* ``spatial_separable_conv`` (the study's other kind: a k x k kernel as a k x 1 then a 1 x k)
  column_kernel ``(kh, 1, c_in, 1)``: one k x 1 kernel per input channel, stride along rows, no bias;
  then row_kernel ``(1, kw, c_in, filters)``: a 1 x k convolution across channels, stride along
  columns, with the ONE bias ``(filters,)``.  Each input/output channel pair's k x k kernel is then
  the outer product of its channel's column and its row: rank 1, as the Prewitt example is.
* ``depthwise_conv``  depthwise_kernel ``(kh, kw, c_in, 1)`` and bias ``(c_in,)`` (Keras's ``DepthwiseConv2D``,
  multiplier 1): channels kept.  (A pointwise convolution is a ``conv`` with kernel 1.)
* ``batch_norm``      gamma, beta, moving_mean, moving_variance, each ``(channels,)`` (Keras's
  ``BatchNormalization``: epsilon :data:`BN_EPSILON`, momentum :data:`BN_MOMENTUM`), directly after a
  convolution of any kind: at inference it is the per-channel affine ``gamma * (x - mean) / sqrt(var +
  eps) + beta``, which the deployment paths fold into that convolution's kernel and bias
  (:func:`impls.fold.inference_layers`); training uses the batch's statistics.  Its four tensors count as
  parameters (Keras's "Total params": the file holds them), its MACs as 0 (folded away).
* ``avg_pool``        no tensors: the mean of each ``kernel x kernel`` window, ``stride`` apart, 'valid'
* ``global_avg_pool`` no tensors
* ``dense``           kernel ``(in, units)``, bias ``(units,)``
* ``relu``            no tensors: max(x, 0), shape kept (a pair file's blocks put one after a conv)

All convolutions use 'valid' padding and no activation, as in the study; the last dense layer
applies softmax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

LayerKind = Literal[
    "conv", "separable_conv", "spatial_separable_conv", "depthwise_conv", "batch_norm", "avg_pool", "global_avg_pool", "dense", "relu"
]
LAYER_KINDS: tuple[str, ...] = get_args(LayerKind)  # the one list: the type checker and the validation read it
CONV_KINDS: tuple[str, ...] = ("conv", "separable_conv", "spatial_separable_conv")  # the kinds with filters
WINDOW_KINDS: tuple[str, ...] = (*CONV_KINDS, "depthwise_conv", "avg_pool")  # a kernel x kernel window, stride apart
FOLDS_BATCH_NORM: tuple[str, ...] = (*CONV_KINDS, "depthwise_conv")  # a batch_norm folds into these (after one)
BN_EPSILON, BN_MOMENTUM = 1e-3, 0.99  # Keras's BatchNormalization defaults
SEPARABLE_KINDS: tuple[str, ...] = ("separable_conv", "spatial_separable_conv")  # two parts that fold into one conv
Shape = tuple[int, ...]
ACTIVATIONS: tuple[str, ...] = ("linear", "softmax")  # softmax only ends a model, on its last dense layer: every backend's place for it


class UnknownModelError(KeyError):
    """Raised for a model name that is not in :data:`MODELS`."""

    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence
        return str(self.args[0])


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its kind and hyper-parameters (no weights)."""

    name: str
    kind: LayerKind
    filters: int = 0  # output channels (conv kinds) or units (dense)
    kernel: int = 0  # square kernel side, pixels
    stride: int = 1
    activation: Literal["linear", "softmax"] = "linear"

    def __post_init__(self) -> None:
        for attr in ("filters", "kernel", "stride"):  # 3.0 would print 26.0x26.0x4 and fail in training
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"layer {self.name!r}: {attr} must be a whole number, got {value!r} ({type(value).__name__})")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"layer {self.name!r}: unknown activation {self.activation!r}; expected one of {ACTIVATIONS}")
        if self.kind not in LAYER_KINDS:
            raise ValueError(f"layer {self.name!r}: unknown kind {self.kind!r}; expected one of {LAYER_KINDS}")
        if self.kind in CONV_KINDS and (self.filters < 1 or self.kernel < 1 or self.stride < 1):
            raise ValueError(f"layer {self.name!r}: a convolution needs filters, kernel and stride >= 1")
        if self.kind in ("depthwise_conv", "avg_pool") and (self.kernel < 1 or self.stride < 1):
            raise ValueError(f"layer {self.name!r}: a {self.kind} needs kernel and stride >= 1")
        if self.kind == "dense" and self.filters < 1:
            raise ValueError(f"layer {self.name!r}: a dense layer needs filters (units) >= 1")

    # ---- shapes -----------------------------------------------------------------------------
    def output_shape(self, in_shape: Shape) -> Shape:
        """Output shape for one image (no batch axis), 'valid' padding."""
        if self.kind in WINDOW_KINDS:
            if len(in_shape) != 3:
                what = "average pooling" if self.kind == "avg_pool" else "a convolution"
                raise ValueError(f"layer {self.name!r}: {what} needs an image (height, width, channels), got {in_shape}")
            h, w, c = in_shape
            oh = conv_output_size(h, self.kernel, self.stride)
            ow = conv_output_size(w, self.kernel, self.stride)
            if oh < 1 or ow < 1:
                raise ValueError(f"layer {self.name!r}: input {in_shape} is too small for a {self.kernel}x{self.kernel} kernel")
            return (oh, ow, self.filters if self.kind in CONV_KINDS else c)
        if self.kind == "batch_norm":
            if len(in_shape) != 3:
                raise ValueError(f"layer {self.name!r}: batch_norm needs an image (height, width, channels), got {in_shape}")
            return tuple(in_shape)
        if self.kind == "global_avg_pool":
            if len(in_shape) != 3:
                raise ValueError(f"layer {self.name!r}: global average pooling needs an image (height, width, channels), got {in_shape}")
            return (in_shape[-1],)
        if self.kind == "relu":
            return tuple(in_shape)
        if self.kind == "dense":
            return (self.filters,)
        raise AssertionError(self.kind)

    def param_shapes(self, in_shape: Shape) -> dict[str, Shape]:
        """Shapes of this layer's tensors, keyed by tensor name, in Keras layout."""
        cin = in_shape[-1]
        if self.kind == "conv":
            return {"kernel": (self.kernel, self.kernel, cin, self.filters), "bias": (self.filters,)}
        if self.kind == "separable_conv":
            return {
                "depthwise_kernel": (self.kernel, self.kernel, cin, 1),
                "pointwise_kernel": (1, 1, cin, self.filters),
                "bias": (self.filters,),
            }
        if self.kind == "spatial_separable_conv":
            return {
                "column_kernel": (self.kernel, 1, cin, 1),
                "row_kernel": (1, self.kernel, cin, self.filters),
                "bias": (self.filters,),
            }
        if self.kind == "depthwise_conv":
            return {"depthwise_kernel": (self.kernel, self.kernel, cin, 1), "bias": (cin,)}
        if self.kind == "batch_norm":
            return {t: (cin,) for t in ("gamma", "beta", "moving_mean", "moving_variance")}
        if self.kind == "dense":
            if len(in_shape) != 1:
                raise ValueError(f"layer {self.name!r}: dense input must be flat, got {in_shape}")
            return {"kernel": (cin, self.filters), "bias": (self.filters,)}
        return {}

    def params(self, in_shape: Shape) -> int:
        """Number of parameters (scalars): every tensor the layer holds (a batch norm's moving statistics
        too, as Keras's "Total params" counts them)."""
        return sum(math.prod(s) for s in self.param_shapes(in_shape).values())

    def macs(self, in_shape: Shape) -> int:
        """Multiply-accumulates per image; bias additions and pooling sums are not counted."""
        out = self.output_shape(in_shape)
        cin = in_shape[-1]
        if self.kind == "conv":
            return conv_macs(out[0], out[1], cin, self.filters, self.kernel)
        if self.kind == "separable_conv":
            return separable_conv_macs(out[0], out[1], cin, self.filters, self.kernel)
        if self.kind == "spatial_separable_conv":
            return spatial_separable_conv_macs(out[0], in_shape[1], out[1], cin, self.filters, self.kernel)
        if self.kind == "depthwise_conv":
            return out[0] * out[1] * cin * self.kernel * self.kernel
        if self.kind == "dense":
            return cin * self.filters
        return 0  # relu, pooling (sums, not multiplies), batch norm (folded into its convolution)


def conv_output_size(size: int, kernel: int, stride: int) -> int:
    """Output length of a 'valid' convolution along one axis."""
    return (size - kernel) // stride + 1


def conv_macs(out_h: int, out_w: int, c_in: int, c_out: int, kernel: int) -> int:
    """MACs of a regular convolution: one k*k*c_in dot product per output value."""
    return out_h * out_w * c_out * kernel * kernel * c_in


def separable_conv_macs(out_h: int, out_w: int, c_in: int, c_out: int, kernel: int) -> int:
    """MACs of a depthwise (multiplier 1) then pointwise convolution."""
    depthwise = out_h * out_w * c_in * kernel * kernel
    pointwise = out_h * out_w * c_in * c_out
    return depthwise + pointwise


def spatial_separable_conv_macs(out_h: int, in_w: int, out_w: int, c_in: int, c_out: int, kernel: int) -> int:
    """MACs of a k x 1 convolution per input channel (rows strided, every column kept) then a 1 x k
    convolution across channels (columns strided)."""
    column = out_h * in_w * c_in * kernel
    row = out_h * out_w * c_in * c_out * kernel
    return column + row


@dataclass(frozen=True)
class LayerSummary:
    """A computed row of a model summary."""

    name: str
    kind: str
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    param_shapes: dict[str, Shape] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    """A sequential model: an input shape and its layers."""

    name: str
    layers: tuple[LayerSpec, ...]
    input_shape: Shape = (28, 28, 1)
    description: str = ""

    def __post_init__(self) -> None:
        names = [layer.name for layer in self.layers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:  # tensors are named "layer/tensor": two layers of one name would share them
            raise ValueError(f"model {self.name!r}: two layers named {twice[0]!r}: layer names must differ")
        for i, layer in enumerate(self.layers):  # NumPy applies softmax only there; Keras would apply it anywhere
            if layer.activation != "linear" and (layer.kind != "dense" or i != len(self.layers) - 1):
                raise ValueError(
                    f"model {self.name!r}: layer {layer.name!r} ({layer.kind}): activation {layer.activation!r} only on the last "
                    "layer, a dense one (not every backend applies it elsewhere)"
                )
        if len(self.input_shape) < 1 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.input_shape):
            raise ValueError(f"model {self.name!r}: input_shape must be whole numbers >= 1, got {self.input_shape!r}")
        for before, layer in zip((None, *self.layers), self.layers):
            if layer.kind == "batch_norm" and (before is None or before.kind not in FOLDS_BATCH_NORM):
                raise ValueError(
                    f"model {self.name!r}: batch_norm {layer.name!r} must come right after a convolution (it folds into it at "
                    f"inference), not after {'the input' if before is None else before.kind + ' ' + repr(before.name)}"
                )

    def summary(self) -> list[LayerSummary]:
        """Per-layer shapes, parameters and MACs, computed from the layer data."""
        rows: list[LayerSummary] = []
        shape = self.input_shape
        for layer in self.layers:
            out = layer.output_shape(shape)
            rows.append(LayerSummary(layer.name, layer.kind, shape, out, layer.params(shape), layer.macs(shape), layer.param_shapes(shape)))
            shape = out
        return rows

    @property
    def output_shape(self) -> Shape:
        return self.summary()[-1].output_shape

    @property
    def num_classes(self) -> int:
        return self.output_shape[-1]

    @property
    def params(self) -> int:
        """Total trainable parameters."""
        return sum(r.params for r in self.summary())

    @property
    def macs(self) -> int:
        """Total multiply-accumulates per image."""
        return sum(r.macs for r in self.summary())

    def fingerprint(self) -> str:
        """The model's description in one line (input shape and every layer): what a cached result of it
        must match, whatever the model's name."""
        return repr((self.input_shape, self.layers))

    def tensor_shapes(self) -> dict[str, Shape]:
        """Every tensor of the model as ``"layer/tensor" -> shape`` in layer order."""
        return {f"{r.name}/{t}": s for r in self.summary() for t, s in r.param_shapes.items()}

    @property
    def float32_bytes(self) -> int:
        """Size of the raw float32 parameters, bytes."""
        return 4 * self.params


def _study_model(name: str, conv_kind: LayerKind, description: str) -> ModelSpec:
    """The study's two models differ only in the kind of their three convolutions."""
    convs = ((8, 7, 2), (16, 5, 2), (32, 3, 1))  # (filters, kernel, stride) from the study
    layers = [LayerSpec(f"conv{i}", conv_kind, f, k, s) for i, (f, k, s) in enumerate(convs, start=1)]
    layers.append(LayerSpec("gap", "global_avg_pool"))
    layers.append(LayerSpec("dense", "dense", filters=10, activation="softmax"))
    return ModelSpec(name, tuple(layers), (28, 28, 1), description)


MODELS: dict[str, ModelSpec] = {
    "regular": _study_model("regular", "conv", "three Conv2D layers, global average pooling, dense softmax"),
    "separable": _study_model("separable", "separable_conv", "as regular, with SeparableConv2D (depth multiplier 1)"),
    "spatial": _study_model(
        "spatial", "spatial_separable_conv", "as regular, each k x k convolution a k x 1 per channel then a 1 x k across channels"
    ),
    # the study's worked multiplication count: one layer on a 7x7x3 input, 32 filters of 3x3
    "example-regular": ModelSpec("example-regular", (LayerSpec("conv", "conv", 32, 3),), (7, 7, 3), "the worked example: Conv2D"),
    "example-separable": ModelSpec(
        "example-separable", (LayerSpec("conv", "separable_conv", 32, 3),), (7, 7, 3), "the worked example: SeparableConv2D"
    ),
}
"""The models every backend builds, by name (the pairs of :mod:`sepbench.core.pairs` say which the
suites compare).  Add a model by adding an entry."""

SPEC_ONLY_MODELS: dict[str, ModelSpec] = {}
"""Models described and counted (``sepbench spec``) but not built by the backends yet, so no suite
runs them: where a new layer kind waits for its backends."""


def get_model_spec(model: str | ModelSpec) -> ModelSpec:
    """A built-in model by name (or a :class:`ModelSpec` passed through: a pair file's models are found in
    their :class:`~sepbench.core.pairs.Pair`, never by name here)."""
    if isinstance(model, ModelSpec):
        return model
    try:
        return MODELS[model]
    except (KeyError, TypeError):
        later = (
            " (described by `sepbench spec`, not built by the backends yet)" if isinstance(model, str) and model in SPEC_ONLY_MODELS else ""
        )
        raise UnknownModelError(f"unknown model {model!r}{later}; known models: {', '.join(MODELS)}") from None


def described_model_spec(model: str | ModelSpec) -> ModelSpec:
    """A model of :data:`MODELS` or :data:`SPEC_ONLY_MODELS` (what ``sepbench spec`` can count)."""
    if isinstance(model, str) and model in SPEC_ONLY_MODELS:
        return SPEC_ONLY_MODELS[model]
    try:
        return get_model_spec(model)
    except UnknownModelError:
        raise UnknownModelError(f"unknown model {model!r}; known models: {', '.join([*MODELS, *SPEC_ONLY_MODELS])}") from None


def model_names() -> list[str]:
    return list(MODELS)
