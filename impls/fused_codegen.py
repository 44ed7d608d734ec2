"""Source code of the fused path's kernel for one model, generated from its spec.

Every layer becomes one function whose shapes are literal constants (so LLVM unrolls and vectorises
the loops over channels), on flat float32 buffers in NHWC order.  A convolution keeps a block of
``P`` output pixels x ``F`` output channels in scalar accumulators (registers: the loop over the
block is written out, ``P * F`` multiply-adds per tap, which LLVM's SLP vectoriser packs along ``F``);
``P`` is chosen so that the block holds about :data:`BLOCK_VALUES` values.  The driver runs each
image of a range through every layer while its activations stay in two small buffers (L1/L2), and
writes only the class scores.  It is a GIL-free loop over a range of images, which
:mod:`impls.numpy_fused` hands to a thread pool: numba's own ``parallel=True`` ran no faster and
tripled the compile time.

The generated module is plain Python for numba; :mod:`impls.numpy_fused` writes it to a cache
folder and imports it, so numba's own cache (``cache=True``) keeps the machine code across runs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from impls.fold import inference_layers
from sepbench.core.spec import ModelSpec, Shape
from sepbench.core.weights import PortableWeights

KERNEL_FORMAT = 2  # part of the source, so of its file name: a change to how kernels load leaves old caches unread
# accumulators per block (output pixels x channels): 8 of AVX2's 16 vector registers (LLVM packs them
# 8 wide there and on AVX-512), room left for operands; measured 32 / 64 / 128 in docs/fast-paths.md
BLOCK_VALUES = 64


@dataclass(frozen=True)
class Op:
    """One step of the per-image program: a generated function and the weight arrays it reads."""

    source: str  # the function's source, named ``name``
    name: str
    arrays: tuple[np.ndarray, ...]  # float32, flat, in the order the function takes them
    out_values: int  # floats it writes
    in_values: int = 0  # floats it reads of the activation (weights apart)
    macs: int = 0  # multiply-accumulates per image


def _conv_source(name: str, in_shape: Shape, kh: int, kw: int, sh: int, sw: int, f: int, depthwise: bool) -> tuple[str, int]:
    """A 'valid' convolution (or depthwise: one channel in per channel out) of ``kh x kw``, strides
    ``sh, sw``, with bias; returns (source, values out)."""
    h, w, c = in_shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    f_out = c if depthwise else f
    p_block = max(1, min(ow, BLOCK_VALUES // f_out))
    lines = [f"def {name}(x, y, k, b):", f"    for oy in range({oh}):", "        ox = 0"]

    def block(p: int, indent: str) -> list[str]:
        # unsigned indices: numba checks a signed index for a negative value on every load (a select that
        # keeps LLVM from seeing adjacent addresses); with uint64 offsets plus literal channel numbers the
        # loads are adjacent and the SLP vectoriser packs a pixel's F accumulators into vector registers
        body = [f"{indent}a_{q}_{j} = b[{j}]" for q in range(p) for j in range(f_out)]
        body += [f"{indent}for ky in range({kh}):", f"{indent}    for kx in range({kw}):"]
        inner = indent + "        "
        if depthwise:
            body += [f"{inner}ko = U((ky * {kw} + kx) * {c})"]
            for q in range(p):
                body += [f"{inner}xo = U(((oy * {sh} + ky) * {w} + (ox + {q}) * {sw} + kx) * {c})"]
                body += [f"{inner}a_{q}_{j} += x[xo + U({j})] * k[ko + U({j})]" for j in range(c)]
        else:
            body += [f"{inner}for ci in range({c}):", f"{inner}    ko = U(((ky * {kw} + kx) * {c} + ci) * {f})"]
            body += [f"{inner}    v_{q} = x[U(((oy * {sh} + ky) * {w} + (ox + {q}) * {sw} + kx) * {c} + ci)]" for q in range(p)]
            body += [f"{inner}    a_{q}_{j} += v_{q} * k[ko + U({j})]" for q in range(p) for j in range(f)]
        for q in range(p):
            body += [f"{indent}yo = U((oy * {ow} + ox + {q}) * {f_out})"]
            body += [f"{indent}y[yo + U({j})] = a_{q}_{j}" for j in range(f_out)]
        return body

    lines += [f"        while ox + {p_block} <= {ow}:", *block(p_block, "            "), f"            ox += {p_block}"]
    if ow % p_block:
        lines += [f"        while ox < {ow}:", *block(1, "            "), "            ox += 1"]
    return "\n".join(lines) + "\n", oh * ow * f_out


def _dense_source(name: str, n_in: int, n_out: int) -> str:
    return (
        "\n".join(
            [
                f"def {name}(x, y, k, b):",
                f"    for j in range({n_out}):",
                "        y[j] = b[j]",
                f"    for i in range({n_in}):",
                "        v = x[i]",
                f"        for j in range({n_out}):",
                f"            y[j] += v * k[i * {n_out} + j]",
            ]
        )
        + "\n"
    )


def _pool_source(name: str, in_shape: Shape, kernel: int, stride: int) -> tuple[str, int]:
    """Average pool ``kernel x kernel``, ``stride`` apart; ``kernel = 0``: global."""
    h, w, c = in_shape
    k_h, k_w, s = (h, w, 1) if kernel == 0 else (kernel, kernel, stride)
    oh, ow = (h - k_h) // s + 1, (w - k_w) // s + 1
    src = "\n".join(
        [
            f"def {name}(x, y):",
            f"    for oy in range({oh}):",
            f"        for ox in range({ow}):",
            f"            for ci in range({c}):",
            "                t = np.float32(0.0)",
            f"                for ky in range({k_h}):",
            f"                    for kx in range({k_w}):",
            f"                        t += x[((oy * {s} + ky) * {w} + ox * {s} + kx) * {c} + ci]",
            f"                y[(oy * {ow} + ox) * {c} + ci] = t * np.float32({1.0 / (k_h * k_w)!r})",
        ]
    )
    return src + "\n", oh * ow * c


def _relu_source(name: str, n: int) -> str:
    return f"def {name}(x, y):\n    for i in range({n}):\n        y[i] = max(x[i], np.float32(0.0))\n"


def _flat(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).reshape(-1)


def _counted(op: Op, in_shape: Shape) -> Op:
    """``op`` with the values it reads and the multiply-accumulates it does (read off its source's loops)."""
    return dataclasses.replace(op, in_values=math.prod(in_shape), macs=_macs(op))


def _macs(op: Op) -> int:
    """Each output value of a weighted op takes one kernel column: ``kernel.size / outputs-per-pixel``
    multiplies (taps x channels in; taps for a depthwise op; inputs for a dense one)."""
    if not op.arrays:  # pooling, relu: sums and maxima, not multiplies
        return 0
    kernel, bias = op.arrays
    return op.out_values * (kernel.size // len(bias))


def layer_ops(spec: ModelSpec, weights: PortableWeights) -> list[Op]:
    """The per-image program of ``spec`` (batch norms folded), one :class:`Op` per pass, with what each
    reads and the multiply-accumulates it does."""
    ops = _layer_ops(spec, weights)
    shape: Shape = tuple(spec.input_shape)
    out = []
    for op in ops:
        out.append(_counted(op, shape))
        shape = (op.out_values,)
    return out


def _layer_ops(spec: ModelSpec, weights: PortableWeights) -> list[Op]:
    ops: list[Op] = []
    for i, (layer, w, shape) in enumerate(inference_layers(spec, weights)):
        name = f"op{i}_{layer.kind}"
        k, s, f = layer.kernel, layer.stride, layer.filters
        if layer.kind == "conv":
            src, n = _conv_source(name, shape, k, k, s, s, f, depthwise=False)
            ops.append(Op(src, name, (_flat(w["kernel"]), _flat(w["bias"])), n))
        elif layer.kind == "depthwise_conv":
            src, n = _conv_source(name, shape, k, k, s, s, 0, depthwise=True)
            ops.append(Op(src, name, (_flat(w["depthwise_kernel"]), _flat(w["bias"])), n))
        elif layer.kind == "separable_conv":
            c = shape[2]
            src, n = _conv_source(name + "_dw", shape, k, k, s, s, 0, depthwise=True)
            ops.append(Op(src, name + "_dw", (_flat(w["depthwise_kernel"]), np.zeros(c, np.float32)), n))
            mid = ((shape[0] - k) // s + 1, (shape[1] - k) // s + 1, c)
            src, n = _conv_source(name + "_pw", mid, 1, 1, 1, 1, f, depthwise=False)
            ops.append(Op(src, name + "_pw", (_flat(w["pointwise_kernel"]), _flat(w["bias"])), n))
        elif layer.kind == "spatial_separable_conv":
            c = shape[2]
            src, n = _conv_source(name + "_col", shape, k, 1, s, 1, 0, depthwise=True)
            ops.append(Op(src, name + "_col", (_flat(w["column_kernel"]), np.zeros(c, np.float32)), n))
            tall = ((shape[0] - k) // s + 1, shape[1], c)
            src, n = _conv_source(name + "_row", tall, 1, k, 1, s, f, depthwise=False)
            ops.append(Op(src, name + "_row", (_flat(w["row_kernel"]), _flat(w["bias"])), n))
        elif layer.kind in ("avg_pool", "global_avg_pool"):
            src, n = _pool_source(name, shape, k if layer.kind == "avg_pool" else 0, s)
            ops.append(Op(src, name, (), n))
        elif layer.kind == "relu":
            n = math.prod(shape)
            ops.append(Op(_relu_source(name, n), name, (), n))
        elif layer.kind == "dense":
            ops.append(Op(_dense_source(name, shape[0], f), name, (_flat(w["kernel"]), _flat(w["bias"])), f))
        else:  # pragma: no cover - the spec validates kinds; batch norms are folded
            raise NotImplementedError(layer.kind)
    return ops


def _softmax_lines(classes: int, indent: str) -> list[str]:
    """Softmax of ``y[0:classes]`` in place, stable (the largest score subtracted first)."""
    body = [
        "m = y[0]",
        f"for j in range(1, {classes}):",
        "    m = max(m, y[j])",
        "t = np.float32(0.0)",
        f"for j in range({classes}):",
        "    y[j] = np.exp(y[j] - m)",
        "    t += y[j]",
        f"for j in range({classes}):",
        "    y[j] /= t",
    ]
    return [indent + line for line in body]


def _repeat_source(op: Op) -> str:
    """``repeat_<op>(x, y, reps, *arrays)``: the op ``reps`` times on one image's input (for a profile of the passes)."""
    args = ", ".join(["x", "y", *(f"w{j}" for j in range(len(op.arrays)))])
    return (
        f"@njit(fastmath=True, cache=True, nogil=True)\ndef repeat_{op.name}({args.replace('x, y', 'x, y, reps')}):\n"
        f"    for _ in range(reps):\n        {op.name}({args})\n"
    )


def module_source(spec: ModelSpec, ops: list[Op], softmax: bool) -> str:
    """The whole module: every op (``@njit``) and ``run(images, out, start, stop, *arrays)``, which fills
    rows ``start:stop`` of ``out`` (N x classes) from ``images`` (N x H*W*C) without the GIL, each image
    through every op between two buffers of the largest activation's size."""
    size = max(max(op.out_values for op in ops), math.prod(spec.input_shape))
    head = [
        f'"""Generated by impls.fused_codegen (format {KERNEL_FORMAT}) for {spec.name!r} (spec {spec.fingerprint()}); do not edit."""',
        "import numpy as np",
        "from numpy import uint64 as U",
        "from numba import njit",
        "",
    ]
    parts = [f"@njit(fastmath=True, cache=True)\n{op.source}" for op in ops]
    parts += [_repeat_source(op) for op in ops]  # compiled only when a profile calls them
    params: list[str] = []
    calls, src = [], "x"
    for i, op in enumerate(ops):
        names = [f"w{len(params) + j}" for j in range(len(op.arrays))]
        params += names
        dst = "y" if i == len(ops) - 1 else ("bufa" if i % 2 == 0 else "bufb")
        calls.append(f"        {op.name}({', '.join([src, dst, *names])})")
        src = dst
    driver = [
        "@njit(fastmath=True, cache=True, nogil=True)",
        f"def run(images, out, start, stop, {', '.join(params)}):",
        f"    bufa = np.empty({size}, np.float32)",
        f"    bufb = np.empty({size}, np.float32)",
        "    for i in range(start, stop):",
        "        x = images[i]",
        "        y = out[i]",
        *calls,
        *(_softmax_lines(ops[-1].out_values, "        ") if softmax else []),
    ]
    return "\n".join(head) + "\n" + "\n\n".join(parts) + "\n\n" + "\n".join(driver) + "\n"
