"""The PyTorch backend: ``torch.nn`` modules built from the spec.

Layout conversion from the portable (Keras) format:

* conv kernel ``(k, k, Cin, F)`` -> ``(F, Cin, k, k)``
* depthwise kernel ``(k, k, C, 1)`` -> ``(C, 1, k, k)`` in a ``groups=C`` conv **without bias**
  (Keras's SeparableConv2D has one bias, after the pointwise conv: 1,427 params, not 1,452)
* pointwise kernel ``(1, 1, Cin, F)`` -> ``(F, Cin, 1, 1)``
* spatially separable: column kernel ``(k, 1, C, 1)`` -> ``(C, 1, k, 1)`` in a ``groups=C`` conv
  strided ``(s, 1)`` without bias; row kernel ``(1, k, C, F)`` -> ``(F, C, 1, k)`` strided ``(1, s)``
  with the layer's one bias
* dense kernel ``(in, out)`` -> ``(out, in)``

Inputs arrive NHWC and are permuted to NCHW inside the module.
"""

from __future__ import annotations

import copy
import functools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from impls.autotune import choose_fold_or_split
from impls.base import Backend, InferenceModel
from sepbench.core.spec import BN_EPSILON, BN_MOMENTUM, SEPARABLE_KINDS, LayerSpec, ModelSpec
from sepbench.core.weights import PortableWeights
from sepbench.util import tuning
from sepbench.util.timer import fastest

# (portable tensor name) -> (torch parameter name inside the layer's module, permutation)
_CONV = (3, 2, 0, 1)
_DEPTHWISE = (2, 3, 0, 1)


class _NHWCToNCHW(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


class _GlobalAvgPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def _layer_module(layer: LayerSpec, cin: int) -> nn.Module:
    if layer.kind == "conv":
        return nn.Conv2d(cin, layer.filters, layer.kernel, stride=layer.stride, bias=True)
    if layer.kind == "separable_conv":
        return nn.Sequential(
            nn.Conv2d(cin, cin, layer.kernel, stride=layer.stride, groups=cin, bias=False),  # depthwise
            nn.Conv2d(cin, layer.filters, 1, bias=True),  # pointwise + the one bias
        )
    if layer.kind == "spatial_separable_conv":
        return nn.Sequential(
            nn.Conv2d(cin, cin, (layer.kernel, 1), stride=(layer.stride, 1), groups=cin, bias=False),  # k x 1 per channel
            nn.Conv2d(cin, layer.filters, (1, layer.kernel), stride=(1, layer.stride), bias=True),  # 1 x k + the one bias
        )
    if layer.kind == "depthwise_conv":
        return nn.Conv2d(cin, cin, layer.kernel, stride=layer.stride, groups=cin, bias=True)
    if layer.kind == "batch_norm":  # Keras's momentum 0.99 is PyTorch's 0.01 (the weight of the new batch); its
        # running variance takes the unbiased batch variance (Keras: biased), n / (n - 1) apart: docs/pairs.md
        return nn.BatchNorm2d(cin, eps=BN_EPSILON, momentum=1.0 - BN_MOMENTUM)
    if layer.kind == "avg_pool":
        return nn.AvgPool2d(layer.kernel, stride=layer.stride)
    if layer.kind == "global_avg_pool":
        return _GlobalAvgPool()
    if layer.kind == "relu":
        return nn.ReLU()
    if layer.kind == "dense":
        return nn.Linear(cin, layer.filters)
    raise NotImplementedError(layer.kind)


def _tensor_map(layer: LayerSpec) -> dict[str, tuple[str, tuple[int, ...] | None]]:
    """Portable tensor name -> (parameter path in the layer module, permutation to torch layout)."""
    if layer.kind == "conv":
        return {"kernel": ("weight", _CONV), "bias": ("bias", None)}
    if layer.kind == "separable_conv":
        return {"depthwise_kernel": ("0.weight", _DEPTHWISE), "pointwise_kernel": ("1.weight", _CONV), "bias": ("1.bias", None)}
    if layer.kind == "spatial_separable_conv":
        return {"column_kernel": ("0.weight", _DEPTHWISE), "row_kernel": ("1.weight", _CONV), "bias": ("1.bias", None)}
    if layer.kind == "depthwise_conv":
        return {"depthwise_kernel": ("weight", _DEPTHWISE), "bias": ("bias", None)}
    if layer.kind == "batch_norm":
        return {
            "gamma": ("weight", None),
            "beta": ("bias", None),
            "moving_mean": ("running_mean", None),
            "moving_variance": ("running_var", None),
        }
    if layer.kind == "dense":
        return {"kernel": ("weight", (1, 0)), "bias": ("bias", None)}
    return {}


def build_module(spec: ModelSpec) -> nn.Module:
    """An ``nn.Module`` taking NHWC float32 and returning logits (no softmax)."""
    layers = nn.ModuleDict()
    for row, layer in zip(spec.summary(), spec.layers):
        layers[layer.name] = _layer_module(layer, row.input_shape[-1])
    return _SpecModule(layers)


class _SpecModule(nn.Module):
    def __init__(self, layers: nn.ModuleDict) -> None:
        super().__init__()
        self.to_nchw = _NHWCToNCHW()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.to_nchw(x)
        for module in self.layers.values():
            x = module(x)
        return x.permute(0, 2, 3, 1) if x.dim() == 4 else x  # a model that ends in a convolution: NHWC back


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


class _Probabilities(nn.Module):
    """Layers on NCHW input, with the final softmax inside (one graph for the fast path)."""

    def __init__(self, layers: nn.ModuleDict, softmax: bool) -> None:
        super().__init__()
        self.layers = layers
        self.softmax = softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers.values():
            x = layer(x)
        if x.dim() == 4:  # a model that ends in a convolution: NHWC back
            return x.permute(0, 2, 3, 1).contiguous()
        return torch.softmax(x, dim=1) if self.softmax else x


FAST_CHUNKS: tuple[int, ...] = (512, 1024, 2048)  # images per traced call, tried by the fast path
MEMORY_FORMATS: dict[str, torch.memory_format] = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
TUNE_IMAGES = 4096  # random images each (memory format, chunk) candidate is timed on
TUNE_ROUNDS = 3  # interleaved rounds; the best round of each candidate counts


def _folded_conv(layer: LayerSpec, w: dict[str, np.ndarray]) -> nn.Conv2d:
    """One dense ``nn.Conv2d`` equal to a separable layer of either kind (its two parts folded together)."""
    from impls.numpy_ops import folded_kernel

    kernel, bias = folded_kernel(layer.kind, w), w["bias"]  # (k, k, C, F)
    conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], layer.kernel, stride=layer.stride, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(_CONV))))
        conv.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
    return conv.eval()


def _run_chunks(module: torch.jit.ScriptModule, x: torch.Tensor, chunk: int, memory_format: torch.memory_format) -> torch.Tensor:
    """``module`` over ``x`` (NCHW) ``chunk`` images at a time, each chunk in ``memory_format``."""
    outs = [module(x[i : i + chunk].contiguous(memory_format=memory_format)) for i in range(0, len(x), chunk)]
    return torch.cat(outs) if len(outs) > 1 else outs[0]


class TorchModel(InferenceModel):
    backend = "torch"
    native_suffixes = (".pt",)
    paths = ("default", "fast")
    batch_free_paths = ("fast",)

    def __init__(self, weights: PortableWeights) -> None:
        super().__init__(weights)
        self.module = build_module(self.spec).to(torch.float32)
        self.module.eval()
        self._traced: torch.jit.ScriptModule | None = None
        self._forced: tuple[str, int] | None = None  # (memory format, chunk) from set_fast_config
        self.fast_choices: dict[str, str] = {}  # separable layer -> "fold" | "split", set on the first fast call
        self.fast_memory_format = "contiguous"  # MEMORY_FORMATS key, chosen on the first fast call
        self.fast_chunk = FAST_CHUNKS[0]  # images per traced call, chosen on the first fast call
        self.fast_tuning: dict[str, float] = {}  # "format/chunk" -> best wall seconds per image
        self.set_weights(weights)

    def _fast_layers(self, example: torch.Tensor, memory_format: torch.memory_format) -> tuple[nn.ModuleDict, dict[str, str]]:
        """The layers for the fast path, copies in ``memory_format``: each separable layer as it is
        (depthwise + pointwise) or folded into one dense conv, whichever takes less CPU time on its
        real input (``example`` and what the layers before make of it) here
        (:func:`impls.autotune.choose_fold_or_split`); and that choice per separable layer ("fold" | "split")."""
        weights = self.get_weights()
        ways: list[tuple[str, nn.Module, nn.Module | None]] = []
        for layer in self.spec.layers:
            module = copy.deepcopy(self.module.layers[layer.name]).to(memory_format=memory_format)
            folded = None
            if layer.kind in SEPARABLE_KINDS:
                folded = _folded_conv(layer, weights.layer(layer.name)).to(memory_format=memory_format)
            ways.append((layer.name, module, folded))
        key = {"model": self.spec.name, "layers": repr(self.spec.layers), "memory_format": str(memory_format)}
        key |= {"threads": torch.get_num_threads(), "torch": torch.__version__}
        chosen = choose_fold_or_split(ways, example, remember=("torch-fold-or-split", key))
        return nn.ModuleDict(zip((name for name, _, _ in ways), chosen.ops)), chosen.choices

    def _traced_for(self, memory_format: str) -> tuple[torch.jit.ScriptModule, dict[str, str]]:
        """The fast graph in one memory format: layers chosen by :meth:`_fast_layers`, traced and frozen."""
        h, w, c = self.spec.input_shape
        mf = MEMORY_FORMATS[memory_format]
        example = torch.rand((FAST_CHUNKS[0], c, h, w), dtype=torch.float32, generator=torch.Generator().manual_seed(0))
        example = example.contiguous(memory_format=mf)
        with torch.inference_mode(), warnings.catch_warnings():
            # TorchScript is deprecated in favour of torch.compile, which measured no faster here
            warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*torch.jit")
            layers, choices = self._fast_layers(example, mf)
            probs = _Probabilities(layers, self.spec.layers[-1].activation == "softmax").eval()
            traced = torch.jit.freeze(torch.jit.trace(probs, example))
            for _ in range(2):  # the profiling executor optimises on the first calls
                traced(example)
        return traced, choices

    def _fast_module(self) -> torch.jit.ScriptModule:
        """Build the fast graph once: trace it in each memory format, then (unless
        :meth:`set_fast_config` fixed them) time every (memory format, chunk size) on
        :data:`TUNE_IMAGES` random images in :data:`TUNE_ROUNDS` interleaved rounds and keep the
        fastest (``fast_memory_format``, ``fast_chunk``; ``fast_tuning`` holds the seconds per image)."""
        if self._traced is None:
            formats = [self._forced[0]] if self._forced else list(MEMORY_FORMATS)
            chunks = [self._forced[1]] if self._forced else list(FAST_CHUNKS)
            graphs = {fmt: self._traced_for(fmt) for fmt in formats}
            fmt, chunk, self.fast_tuning = formats[0], chunks[0], {}
            if len(formats) * len(chunks) > 1:
                # remembered per machine (sepbench.util.tuning): a rerun measures what the first run chose
                key = {"model": self.spec.name, "layers": repr(self.spec.layers), "threads": torch.get_num_threads()}
                key["torch"] = torch.__version__
                found = tuning.recall("torch-fast", key)
                if found is not None and found.get("memory_format") in formats and found.get("chunk") in chunks:
                    fmt, chunk, self.fast_tuning = found["memory_format"], found["chunk"], dict(found.get("tuning") or {})
                else:
                    h, w, c = self.spec.input_shape
                    sample = torch.rand((TUNE_IMAGES, c, h, w), dtype=torch.float32, generator=torch.Generator().manual_seed(1))
                    candidates = {
                        (f, n): functools.partial(_run_chunks, graphs[f][0], sample, n, MEMORY_FORMATS[f]) for f in formats for n in chunks
                    }
                    with torch.inference_mode():
                        choice = fastest(candidates, rounds=TUNE_ROUNDS, clock="wall")
                    fmt, chunk = choice.winner
                    self.fast_tuning = {f"{f}/{n}": s / TUNE_IMAGES for (f, n), s in choice.seconds().items()}
                    tuning.record("torch-fast", key, {"memory_format": fmt, "chunk": chunk, "tuning": self.fast_tuning})
            self._traced, self.fast_choices = graphs[fmt]
            self.fast_memory_format, self.fast_chunk = fmt, chunk
        return self._traced

    def set_fast_config(self, memory_format: str | None = None, chunk: int | None = None) -> None:
        """Fix the fast path's memory format (a :data:`MEMORY_FORMATS` key) and chunk (images)
        instead of measuring them, e.g. to test one; both ``None`` returns to measuring."""
        if (memory_format is None) != (chunk is None):
            raise ValueError("set_fast_config: give both memory_format and chunk, or neither")
        if memory_format is not None and memory_format not in MEMORY_FORMATS:
            raise ValueError(f"unknown memory format {memory_format!r}; known: {', '.join(MEMORY_FORMATS)}")
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
            raise ValueError(f"chunk must be a positive number of images, got {chunk!r}")
        self._forced = (memory_format, chunk) if memory_format is not None else None
        self._traced = None

    def fast_config(self) -> dict[str, Any]:
        """What the fast path chose on this machine: memory format, chunk (images), fold/split per separable layer."""
        self._fast_module()
        return {"memory_format": self.fast_memory_format, "chunk": self.fast_chunk, "layers": dict(self.fast_choices)}

    def _predict_fast(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Same probabilities as ``default``, from a traced and frozen graph (TorchScript) under
        ``inference_mode``, with the threads ``set_threads`` set, in the memory format and chunk
        size that measured fastest here (:meth:`fast_config`).

        ``batch_size`` is validated but not used: the result for all ``N`` images does not depend on
        it.  Tracing and tuning happen on the first call (warm-up, about a second), not in timed calls.

        Each separable layer runs either as depthwise + pointwise or folded into the equivalent dense
        conv, chosen by measuring both on the first call (``fast_choices`` records the choice):
        PyTorch's CPU depthwise conv on one input channel is slow.  The memory format and chunk are
        measured too, because the best ones depend on the CPU.  Measured alternatives and their
        times: ``docs/fast-paths.md`` (PyTorch).
        """
        module = self._fast_module()
        n, h, w, c = x.shape
        # NHWC -> NCHW; for one channel this is a free reshape of the same memory
        xt = torch.from_numpy(x).reshape(n, c, h, w) if c == 1 else torch.from_numpy(x).permute(0, 3, 1, 2)
        with torch.inference_mode():
            return _run_chunks(module, xt, self.fast_chunk, MEMORY_FORMATS[self.fast_memory_format]).numpy()

    def layer_parts(self, name: str) -> tuple[nn.Module, ...]:
        """The eager modules that compute layer ``name`` (NCHW in, NCHW or features out), in order:
        ``(depthwise, pointwise)`` for a separable conv (the bias is the pointwise conv's), else the
        one module.  For profiling a layer stage by stage; they share this model's parameters."""
        if name not in self.module.layers:
            raise KeyError(f"model {self.spec.name!r} has no layer {name!r}; layers: {', '.join(self.module.layers)}")
        module = self.module.layers[name]
        return tuple(module) if isinstance(module, nn.Sequential) else (module,)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = self.module(torch.from_numpy(x))
            if self.spec.layers[-1].activation == "softmax":
                logits = torch.softmax(logits, dim=1)
            return logits.numpy()

    def _params(self) -> dict[str, torch.Tensor]:
        """Parameters and buffers (a batch norm's running statistics) by path."""
        return dict(self.module.named_parameters()) | dict(self.module.named_buffers())

    def set_weights(self, weights: PortableWeights) -> None:
        self._check_model(weights)
        params = self._params()
        with torch.no_grad():
            for layer in self.spec.layers:
                for tensor, (path, perm) in _tensor_map(layer).items():
                    value = weights[f"{layer.name}/{tensor}"]
                    if perm is not None:
                        value = value.transpose(perm)
                    params[f"layers.{layer.name}.{path}"].copy_(torch.from_numpy(np.ascontiguousarray(value)))
        self._traced = None  # frozen graphs hold constants: retrace with the new weights

    def get_weights(self) -> PortableWeights:
        params = self._params()
        tensors: dict[str, np.ndarray] = {}
        for layer in self.spec.layers:
            for tensor, (path, perm) in _tensor_map(layer).items():
                value = params[f"layers.{layer.name}.{path}"].detach().cpu().numpy()
                tensors[f"{layer.name}/{tensor}"] = np.ascontiguousarray(value.transpose(_inverse(perm)) if perm else value)
        return PortableWeights(self.spec, tensors, dict(self.weights_meta))

    def count_params(self) -> int:
        """The elements of every tensor the spec names: trainable parameters and a batch norm's running statistics."""
        params = self._params()
        return sum(params[f"layers.{layer.name}.{path}"].numel() for layer in self.spec.layers for path, _ in _tensor_map(layer).values())

    def _save_native(self, path: Path) -> None:
        torch.save(self.module.state_dict(), path)


class TorchBackend(Backend):
    def build(self, weights: PortableWeights) -> TorchModel:
        return TorchModel(weights)

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__, "numpy": np.__version__}

    def set_threads(self, n: int) -> None:
        self.threads = n
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only settable before the first parallel work; keep what is set
            pass

    def thread_settings(self) -> dict[str, Any]:
        return {
            "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(),
        }


BACKEND = TorchBackend("torch", "torch", "PyTorch eager nn.Module")
