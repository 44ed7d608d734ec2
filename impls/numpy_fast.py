"""The NumPy fast path: each layer lowered to one GEMM (or a few in-cache passes), run chunk by chunk,
with the lowering and the chunk size picked by measurement on this machine.

Candidates per layer (all exact rewrites of that one layer, valid whatever comes before or after it;
none uses the fact that the study's models have no activations between layers):

* ``conv``: ``im2col`` (strided patch copy + one GEMM), ``rows`` (row-band copy + one GEMM with a
  row-Toeplitz matrix: more MACs, less copying, wider GEMM; ``rows+b`` adds the bias inside the
  GEMM through a ones column), ``rows/B`` (the same in blocks of
  ``B`` output columns, one GEMM each: fewer wasted MACs), ``dense`` (the layer as one
  ``(H*W*C, oh*ow*F)`` matrix: no copy at all, most MACs).
* ``separable_conv``: ``fold+<conv>`` (depthwise and pointwise folded into the equivalent dense
  ``k*k*C x F`` kernel, then a ``conv`` lowering: costs what the regular layer costs) or
  ``dw-<how>+pw`` (depthwise by ``shift`` = ``k*k`` multiply-adds of strided views, ``im2col`` +
  per-channel sum, ``rows`` or ``dense`` Toeplitz matrices; then the pointwise GEMM).
* ``spatial_separable_conv``: ``fold+<conv>`` (the rank-1 kernels as one dense ``k*k*C x F`` kernel,
  then a ``conv`` lowering) or ``column+row`` (``k`` multiply-adds of row-strided views, then the
  1 x k convolution as one GEMM).
* ``global_avg_pool`` followed by ``dense``: separate, or fused into one GEMM whose matrix is the
  dense kernel tiled over the pooled positions divided by ``H*W``.

:func:`autotune` times every candidate on random input of each chunk size and keeps the fastest
per layer and the chunk size with the lowest time per image; the choice is cached per model
name and BLAS thread count for the process.  The fast path ignores the caller's ``batch_size``:
it computes the same probabilities for all ``N`` images in its own chunks.

What each lowering measured on one machine, what else was tried and why some things are not done
on purpose: ``docs/fast-paths.md`` (NumPy).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import threadpoolctl

from impls import numpy_ops as ops
from sepbench.core.spec import LayerSpec, ModelSpec
from sepbench.core.weights import PortableWeights
from sepbench.util import tuning
from sepbench.util.timer import fastest

Fn = Callable[[np.ndarray], np.ndarray]
CHUNK_SIZES: tuple[int, ...] = (128, 256, 512, 1024)
BLOCKS: tuple[int, ...] = (4,)  # output columns per block, blocked row-Toeplitz (4 and 6 measured: never won)
DENSE_MATRIX_LIMIT = 4_000_000  # floats (16 MB): larger whole-layer matrices are not tried


@dataclass
class Plan:
    """The lowering chosen for each layer group, the chunk size (images) and what was measured."""

    chunk: int
    methods: dict[str, str]  # group name -> method
    timings: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)  # chunk -> group -> method -> seconds per image

    def describe(self) -> str:
        return f"chunk={self.chunk} " + " ".join(f"{g}:{m}" for g, m in self.methods.items())


def _conv_candidates(kernel: np.ndarray, bias: np.ndarray, stride: int, in_shape: tuple[int, int, int]) -> dict[str, Fn]:
    k, _, c, f = kernel.shape
    h, w, _ = in_shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    kmat = np.ascontiguousarray(kernel.reshape(k * k * c, f))
    tmat = ops.rows_matrix(kernel, w, stride)
    btile = np.tile(bias, ow).astype(np.float32)
    bfull = np.tile(bias, oh * ow).astype(np.float32)

    def im2col(x: np.ndarray) -> np.ndarray:
        out = ops.patches_im2col(x, k, stride) @ kmat
        out += bias
        return out.reshape(len(x), oh, ow, f)

    def rows(x: np.ndarray) -> np.ndarray:
        out = ops.patches_rows(x, k, stride) @ tmat
        out += btile
        return out.reshape(len(x), oh, ow, f)

    tmat_bias = np.vstack([tmat, btile[None]]).astype(np.float32)

    def rows_bias_in_gemm(x: np.ndarray) -> np.ndarray:
        return (ops.patches_rows(x, k, stride, ones_column=True) @ tmat_bias).reshape(len(x), oh, ow, f)

    cands: dict[str, Fn] = {"im2col": im2col, "rows": rows, "rows+b": rows_bias_in_gemm}
    for block in BLOCKS:
        if 1 < block < ow:
            cands[f"rows/{block}"] = _blocked_rows(kernel, bias, stride, in_shape, block)
    if h * w * c * oh * ow * f <= DENSE_MATRIX_LIMIT:
        dmat = ops.dense_matrix(kernel, in_shape, stride)

        def dense(x: np.ndarray) -> np.ndarray:
            out = x.reshape(len(x), h * w * c) @ dmat
            out += bfull
            return out.reshape(len(x), oh, ow, f)

        cands["dense"] = dense
    return cands


def _blocked_rows(kernel: np.ndarray, bias: np.ndarray, stride: int, in_shape: tuple[int, int, int], block: int) -> Fn:
    """Row-Toeplitz in column blocks: one GEMM per block of ``block`` output columns, each reading
    only the input columns it needs (fewer wasted MACs than ``rows``, a little more copying)."""
    k, _, c, f = kernel.shape
    h, w, _ = in_shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    bw = stride * (block - 1) + k
    tmat = ops.rows_matrix(kernel, bw, stride)  # (k*bw*C, block*F)
    btile = np.tile(bias, block).astype(np.float32)
    starts = ops.block_starts(ow, block)

    def run(x: np.ndarray) -> np.ndarray:
        n = len(x)
        out = np.empty((n, oh, ow, f), np.float32)
        for j in starts:
            part = ops.patches_rows_block(x, k, stride, j, block) @ tmat
            part += btile
            out[:, :, j : j + block, :] = part.reshape(n, oh, block, f)
        return out

    return run


def _depthwise_candidates(dw: np.ndarray, stride: int, in_shape: tuple[int, int, int]) -> dict[str, Fn]:
    zero = np.zeros(dw.shape[2], np.float32)
    as_conv = _conv_candidates(ops.depthwise_as_dense_kernel(dw), zero, stride, in_shape)
    cands: dict[str, Fn] = {
        "shift": lambda x: ops.depthwise_shift(x, dw, stride),
        "im2col": lambda x: ops.depthwise_im2col(x, dw, stride),
        "rows": as_conv["rows"],
    }
    if "dense" in as_conv:
        cands["dense"] = as_conv["dense"]
    return cands


def _with_bias(cands: dict[str, Fn], bias: np.ndarray) -> dict[str, Fn]:
    def add(fn: Fn) -> Fn:
        def run(x: np.ndarray) -> np.ndarray:
            out = fn(x)
            out += bias
            return out

        return run

    return {m: add(fn) for m, fn in cands.items()}


def _separable_candidates(w: dict[str, np.ndarray], stride: int, in_shape: tuple[int, int, int]) -> dict[str, Fn]:
    folded = ops.fold_separable(w["depthwise_kernel"], w["pointwise_kernel"])
    cands = {f"fold+{m}": fn for m, fn in _conv_candidates(folded, w["bias"], stride, in_shape).items()}
    pw, bias = np.ascontiguousarray(w["pointwise_kernel"][0, 0]), w["bias"]
    c, f = pw.shape

    def then_pointwise(depthwise: Fn) -> Fn:
        def run(x: np.ndarray) -> np.ndarray:
            y = depthwise(x)
            out = y.reshape(-1, c) @ pw
            out += bias
            return out.reshape(*y.shape[:3], f)

        return run

    for m, fn in _depthwise_candidates(w["depthwise_kernel"], stride, in_shape).items():
        cands[f"dw-{m}+pw"] = then_pointwise(fn)
    return cands


def _spatial_candidates(w: dict[str, np.ndarray], stride: int, in_shape: tuple[int, int, int]) -> dict[str, Fn]:
    folded = ops.fold_spatial_separable(w["column_kernel"], w["row_kernel"])
    cands = {f"fold+{m}": fn for m, fn in _conv_candidates(folded, w["bias"], stride, in_shape).items()}
    column, row, bias = w["column_kernel"], w["row_kernel"], w["bias"]
    cands["column+row"] = lambda x: ops.spatial_separable_conv2d(x, column, row, bias, stride)
    return cands


def layer_groups(spec: ModelSpec, weights: PortableWeights) -> list[tuple[str, dict[str, Fn]]]:
    """The model as groups of layers, each with its candidate lowerings (name -> function)."""
    from impls.fold import inference_layers

    groups: list[tuple[str, dict[str, Fn]]] = []
    folded = inference_layers(spec, weights)  # batch norms folded into their convolutions
    layers = [layer for layer, _, _ in folded]
    i = 0
    while i < len(layers):
        layer: LayerSpec = layers[i]
        _, w, in_shape = folded[i]
        if layer.kind == "conv":
            groups.append((layer.name, _conv_candidates(w["kernel"], w["bias"], layer.stride, in_shape)))
        elif layer.kind == "separable_conv":
            groups.append((layer.name, _separable_candidates(w, layer.stride, in_shape)))
        elif layer.kind == "spatial_separable_conv":
            groups.append((layer.name, _spatial_candidates(w, layer.stride, in_shape)))
        elif layer.kind == "depthwise_conv":
            groups.append((layer.name, _with_bias(_depthwise_candidates(w["depthwise_kernel"], layer.stride, in_shape), w["bias"])))
        elif layer.kind == "avg_pool":
            groups.append((layer.name, {"mean": lambda x, k=layer.kernel, s=layer.stride: ops.avg_pool(x, k, s)}))
        elif layer.kind == "global_avg_pool" and i + 1 < len(layers) and layers[i + 1].kind == "dense":
            dense = folded[i + 1][1]
            h, wd, c = in_shape
            kernel, bias = dense["kernel"], dense["bias"]
            tiled = np.ascontiguousarray(np.tile(kernel, (h * wd, 1)) / np.float32(h * wd), dtype=np.float32)

            def separate(x: np.ndarray, kernel=kernel, bias=bias) -> np.ndarray:
                return ops.dense(ops.global_avg_pool(x), kernel, bias)

            def fused(x: np.ndarray, tiled=tiled, bias=bias, n_in=h * wd * c) -> np.ndarray:
                out = x.reshape(len(x), n_in) @ tiled
                out += bias
                return out

            groups.append((f"{layer.name}+{layers[i + 1].name}", {"separate": separate, "fused": fused}))
            i += 1
        elif layer.kind == "global_avg_pool":
            groups.append((layer.name, {"mean": ops.global_avg_pool}))
        elif layer.kind == "relu":
            groups.append((layer.name, {"max": ops.relu}))
        elif layer.kind == "dense":
            groups.append((layer.name, {"gemm": lambda x, w=w: ops.dense(x, w["kernel"], w["bias"])}))
        else:  # pragma: no cover - the spec validates kinds
            raise NotImplementedError(layer.kind)
        i += 1
    return groups


def autotune(spec: ModelSpec, weights: PortableWeights, chunk_sizes: tuple[int, ...] = CHUNK_SIZES, reps: int = 5, seed: int = 0) -> Plan:
    """Time every candidate of every group at every chunk size (best of ``reps`` interleaved rounds of
    single-threaded CPU seconds, :func:`sepbench.util.timer.fastest`) on random images.

    Returns the plan with the fastest candidate per group at the chunk size whose summed per-image
    time is lowest.  Takes about a second on a 2-core machine.
    """
    with _one_blas_thread():
        return _autotune(spec, weights, chunk_sizes, reps, seed)


def _autotune(spec: ModelSpec, weights: PortableWeights, chunk_sizes: tuple[int, ...], reps: int, seed: int) -> Plan:
    groups = layer_groups(spec, weights)
    rng = np.random.default_rng(seed)
    best: tuple[float, int, dict[str, str]] | None = None
    timings: dict[int, dict[str, dict[str, float]]] = {}
    for chunk in chunk_sizes:
        x = rng.random((chunk, *spec.input_shape), dtype=np.float32)
        total, methods = 0.0, {}
        timings[chunk] = {}
        for name, cands in groups:
            # one untimed call each, then interleaved rounds; the thread clock: BLAS is single-threaded
            # here, and CPU time rather than wall time, so time spent descheduled does not decide
            choice = fastest({m: functools.partial(fn, x) for m, fn in cands.items()}, rounds=reps, clock="thread", warmup=1)
            methods[name] = choice.winner
            timings[chunk][name] = {m: t / chunk for m, t in choice.seconds().items()}
            total += choice.timings[choice.winner].min / chunk
            x = choice.timings[choice.winner].result  # the next group's input: the chosen lowering's output
        if best is None or total < best[0]:
            best = (total, chunk, methods)
    assert best is not None
    return Plan(best[1], best[2], timings)


_PLANS: dict[tuple[str, tuple[int, ...], tuple[LayerSpec, ...], int], Plan] = {}


@functools.cache
def _blas() -> threadpoolctl.ThreadpoolController:
    """The BLAS libraries loaded with NumPy, found once: ``threadpool_info()`` and
    ``threadpool_limits()`` re-scan every loaded library on each call (about 3 ms each with torch
    and TensorFlow loaded), which made a one-image fast predict 30x slower than the default path."""
    return threadpoolctl.ThreadpoolController().select(user_api="blas")


def blas_threads() -> int:
    """BLAS threads in force now (read from the libraries, so later ``threadpool_limits`` count)."""
    return max((lib.num_threads for lib in _blas().lib_controllers), default=1)


def _one_blas_thread() -> Any:
    """Context manager: single-threaded BLAS inside, the previous setting restored after."""
    return _blas().limit(limits=1)


def cached_plan(spec: ModelSpec, weights: PortableWeights) -> Plan:
    """The autotuned plan for this model's layers and the BLAS thread count (tuned once per process;
    the choice depends on shapes, not on weight values)."""
    key = (spec.name, tuple(spec.input_shape), tuple(spec.layers), blas_threads())
    if key not in _PLANS:
        # remembered per machine (sepbench.util.tuning): a rerun measures the plan the first run chose
        tuning_key = {"model": spec.name, "input": list(spec.input_shape), "layers": repr(spec.layers), "threads": key[3]}
        tuning_key["numpy"] = np.__version__
        groups = {name: set(cands) for name, cands in layer_groups(spec, weights)}

        def choose() -> dict[str, Any]:
            plan = autotune(spec, weights)
            return {"chunk": plan.chunk, "methods": plan.methods, "timings": plan.timings}

        def fits(doc: dict[str, Any]) -> bool:  # a plan this code can run: a known chunk, a known lowering per group
            methods = doc["methods"]
            return doc["chunk"] in CHUNK_SIZES and set(methods) == set(groups) and all(methods[g] in groups[g] for g in groups)

        doc = tuning.remembered("numpy-fast-plan", tuning_key, choose, valid=fits)
        # JSON turned the chunk keys of the timings into strings
        timings = {int(c): gs for c, gs in (doc.get("timings") or {}).items()}
        methods = {g: doc["methods"][g] for g in groups}  # in layer order, as the plan describes itself
        _PLANS[key] = Plan(int(doc["chunk"]), methods, timings)
    return _PLANS[key]


class FastForward:
    """A compiled plan: the chosen lowering functions bound to one set of weights."""

    def __init__(self, spec: ModelSpec, weights: PortableWeights, plan: Plan) -> None:
        groups = dict(layer_groups(spec, weights))
        unknown = [f"{g}:{m}" for g, m in plan.methods.items() if g not in groups or m not in groups[g]]
        if unknown or set(plan.methods) != set(groups):
            raise ValueError(f"plan does not fit model {spec.name!r}: {unknown or sorted(plan.methods)}; groups: {sorted(groups)}")
        self.plan = plan
        # the model's order, never the plan's: a plan read back from JSON may hold its keys sorted
        self.steps: list[Fn] = [groups[g][plan.methods[g]] for g in groups]
        self.softmax = spec.layers[-1].activation == "softmax"

    def logits(self, x: np.ndarray) -> np.ndarray:
        for step in self.steps:
            x = step(x)
        return x

    def _chunk(self, x: np.ndarray) -> np.ndarray:
        z = self.logits(x)
        return ops.softmax(z) if self.softmax else z

    def __call__(self, x: np.ndarray, workers: int | None = None) -> np.ndarray:
        """Probabilities (or logits if the model has no softmax), float32, chunk by chunk.

        ``workers`` (default: the BLAS thread count in force, i.e. what ``configure_threads`` set)
        threads each run whole chunks with single-threaded BLAS: the same number of threads as the
        default path, spent on independent chunks rather than inside each small GEMM (whose thread
        hand-offs cost more than they save at these sizes, and far more on a busy machine).
        """
        workers = blas_threads() if workers is None else workers
        starts = range(0, len(x), self.plan.chunk)
        pieces = [x[i : i + self.plan.chunk] for i in starts]
        with _one_blas_thread():
            if workers > 1 and len(pieces) > 1:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    outs = list(pool.map(self._chunk, pieces))
            else:
                outs = [self._chunk(p) for p in pieces]
        out = np.concatenate(outs) if len(outs) > 1 else outs[0]
        return out.astype(np.float32, copy=False)
