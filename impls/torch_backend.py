"""The PyTorch backend: ``torch.nn`` modules built from the spec.

Layout conversion from the portable (Keras) format:

* conv kernel ``(k, k, Cin, F)`` -> ``(F, Cin, k, k)``
* depthwise kernel ``(k, k, C, 1)`` -> ``(C, 1, k, k)`` in a ``groups=C`` conv **without bias**
  (Keras's SeparableConv2D has one bias, after the pointwise conv: 1,427 params, not 1,452)
* pointwise kernel ``(1, 1, Cin, F)`` -> ``(F, Cin, 1, 1)``
* dense kernel ``(in, out)`` -> ``(out, in)``

Inputs arrive NHWC and are permuted to NCHW inside the module.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from impls.base import Backend, InferenceModel
from sepbench.spec import LayerSpec, ModelSpec
from sepbench.weights import PortableWeights

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
    if layer.kind == "global_avg_pool":
        return _GlobalAvgPool()
    if layer.kind == "dense":
        return nn.Linear(cin, layer.filters)
    raise NotImplementedError(layer.kind)


def _tensor_map(layer: LayerSpec) -> dict[str, tuple[str, tuple[int, ...] | None]]:
    """Portable tensor name -> (parameter path in the layer module, permutation to torch layout)."""
    if layer.kind == "conv":
        return {"kernel": ("weight", _CONV), "bias": ("bias", None)}
    if layer.kind == "separable_conv":
        return {"depthwise_kernel": ("0.weight", _DEPTHWISE), "pointwise_kernel": ("1.weight", _CONV), "bias": ("1.bias", None)}
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
        return x


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
        return torch.softmax(x, dim=1) if self.softmax else x


FAST_CHUNK = 1024  # images per traced call; see TorchModel._predict_fast


def _folded_conv(layer: LayerSpec, depthwise: np.ndarray, pointwise: np.ndarray, bias: np.ndarray) -> nn.Conv2d:
    """One dense ``nn.Conv2d`` equal to a separable layer (depthwise and pointwise folded together)."""
    from impls.numpy_ops import fold_separable

    kernel = fold_separable(depthwise, pointwise)  # (k, k, C, F)
    conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], layer.kernel, stride=layer.stride, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(_CONV))))
        conv.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
    return conv.eval()


def _cpu_seconds(module: nn.Module, x: torch.Tensor, reps: int = 5) -> float:
    """Best process CPU seconds of ``module(x)`` (CPU time: robust to a shared machine's load)."""
    module(x)
    best = float("inf")
    for _ in range(reps):
        t0 = time.process_time()
        module(x)
        best = min(best, time.process_time() - t0)
    return best


class TorchModel(InferenceModel):
    backend = "torch"
    native_suffixes = (".pt",)
    paths = ("default", "fast")

    def __init__(self, weights: PortableWeights) -> None:
        super().__init__(weights)
        self.module = build_module(self.spec).to(torch.float32)
        self.module.eval()
        self._traced: torch.jit.ScriptModule | None = None
        self.fast_choices: dict[str, str] = {}  # separable layer -> "fold" | "split", set on the first fast call
        self.set_weights(weights)

    def _fast_layers(self, example: torch.Tensor) -> nn.ModuleDict:
        """The layers for the fast path: each separable layer as it is (depthwise + pointwise) or
        folded into one dense conv, whichever measures faster on its real input here."""
        weights = self.get_weights()
        layers = nn.ModuleDict()
        self.fast_choices = {}
        x = example
        for layer in self.spec.layers:
            module = self.module.layers[layer.name]
            if layer.kind == "separable_conv":
                w = weights.layer(layer.name)
                folded = _folded_conv(layer, w["depthwise_kernel"], w["pointwise_kernel"], w["bias"])
                split_s, fold_s = _cpu_seconds(module, x), _cpu_seconds(folded, x)
                self.fast_choices[layer.name] = "fold" if fold_s < split_s else "split"
                module = folded if fold_s < split_s else module
            layers[layer.name] = module
            x = module(x)
        return layers

    def _fast_module(self) -> torch.jit.ScriptModule:
        if self._traced is None:
            h, w, c = self.spec.input_shape
            example = torch.rand((FAST_CHUNK, c, h, w), dtype=torch.float32, generator=torch.Generator().manual_seed(0))
            with torch.inference_mode(), warnings.catch_warnings():
                # TorchScript is deprecated in favour of torch.compile, which measured no faster here
                warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*torch.jit")
                layers = self._fast_layers(example)
                traced = torch.jit.trace(_Probabilities(layers, self.spec.layers[-1].activation == "softmax").eval(), example)
                self._traced = torch.jit.freeze(traced)
                for _ in range(2):  # the profiling executor optimises on the first calls
                    self._traced(example)
        return self._traced

    def _predict_fast(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """Same probabilities as ``default``, from a traced and frozen graph (TorchScript), in chunks
        of :data:`FAST_CHUNK` images, under ``inference_mode``, with the threads ``set_threads`` set.

        ``batch_size`` is validated but not used: the result for all ``N`` images does not depend on
        it.  Tracing happens on the first call (warm-up), not in timed calls.

        Each separable layer runs either as depthwise + pointwise or folded into the equivalent dense
        conv, chosen by measuring both on the first call (``fast_choices`` records the choice):
        PyTorch's CPU depthwise conv on one input channel is slow, so folding conv1 paid (separable
        10,000 images, 1 thread, CPU s: all split 0.099, conv1 folded 0.043, all folded 0.046).

        Measured alternatives (10,000 test images, 1 thread, CPU seconds, shared 2-core Xeon,
        one run, regular / separable): eager chunk 256 0.061 / 0.057, eager 1024 0.056 / 0.042,
        trace+freeze 1024 0.037 / 0.049, trace+freeze channels_last 1024 0.055 / 0.046,
        ``torch.compile`` (inductor) 1024 0.055 / 0.049 after 38 s of compiling.  Chunks of 4096
        were no faster than 1024; channels_last and ``torch.compile`` gave nothing here.
        Chunks on two worker threads with one intra-op thread each (as the NumPy fast path does),
        against one sequence of chunks with two intra-op threads, interleaved, 15 rounds, 2-core AMD
        EPYC, wall s min / median: regular 0.070 / 0.082 vs 0.071 / 0.080, separable 0.061 / 0.080
        vs 0.061 / 0.073: no gain, so not done.
        """
        module = self._fast_module()
        n, h, w, c = x.shape
        # NHWC -> NCHW; for one channel this is a free reshape of the same memory
        xt = torch.from_numpy(x).reshape(n, c, h, w) if c == 1 else torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        with torch.inference_mode():
            outs = [module(xt[i : i + FAST_CHUNK]) for i in range(0, n, FAST_CHUNK)]
            return (torch.cat(outs) if len(outs) > 1 else outs[0]).numpy()

    def _forward(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = self.module(torch.from_numpy(x))
            if self.spec.layers[-1].activation == "softmax":
                logits = torch.softmax(logits, dim=1)
            return logits.numpy()

    def _params(self) -> dict[str, nn.Parameter]:
        return dict(self.module.named_parameters())

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
        return PortableWeights(self.spec.name, tensors, dict(self.weights_meta))

    def count_params(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

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
        return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads(), "mkldnn": torch.backends.mkldnn.is_available()}


BACKEND = TorchBackend("torch", "torch", "PyTorch eager nn.Module")
