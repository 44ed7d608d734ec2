"""Every inference path of every backend gives NumPy-default probabilities (1e-5, same argmax) on
2,000 real MNIST test images, whatever the batch size; every NumPy lowering is exact; bad input is
still rejected on the fast path.  (Speed is measured in the benchmarks, not asserted here.)"""

from __future__ import annotations

import numpy as np
import pytest

from sepbench.core.spec import MODELS as SPECS
from sepbench.core.spec import ModelSpec
from sepbench.core.weights import random_weights
from tests.conftest import BACKENDS, EVERY_KIND_MODEL, MNIST_MODELS, backend_or_skip, model_name
from tests.test_backends import BAD_INPUTS

SEED = 1234  # as tests/test_backends.py: predictions vary over the images for both models
TOL = 1e-5


@pytest.fixture(scope="module")
def reference(test_subset):
    """NumPy default-path probabilities for both models (random weights, non-zero biases)."""
    x, _ = test_subset
    from impls.registry import get_backend

    return {m: get_backend("numpy").build(random_weights(m, SEED)).predict(x, batch_size=500) for m in MNIST_MODELS}


def _assert_parity(got: np.ndarray, ref: np.ndarray) -> None:
    assert got.shape == ref.shape and got.dtype == np.float32
    assert np.abs(got - ref).max() <= TOL
    np.testing.assert_array_equal(got.argmax(1), ref.argmax(1))


def _model(backend: str, model: str | ModelSpec):
    return backend_or_skip(backend).build(random_weights(model, SEED))


@pytest.mark.parametrize("model", MNIST_MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_path_matches_numpy_default(backend, model, test_subset, reference):
    x, _ = test_subset
    m = _model(backend, model)
    assert "fast" in type(m).paths
    ref = reference[model]  # not a constant prediction: its argmax varies, or its probabilities by 10x the tolerance
    assert len(np.unique(ref.argmax(1))) > 1 or ref.std(axis=0).max() > 1e-4
    for path in set(type(m).paths) - set(type(m).approximate_paths):
        for batch_size in (256, 333):  # 333 does not divide 2,000: a short last batch
            _assert_parity(m.predict(x, batch_size=batch_size, path=path), reference[model])


INT8_BACKENDS = [b for b in BACKENDS if b in ("onnxruntime", "litert", "openvino")]


@pytest.mark.parametrize("model", MNIST_MODELS)
@pytest.mark.parametrize("backend", INT8_BACKENDS)
def test_int8_path_approximates_the_float_model_and_has_its_own_smaller_file(backend, model, test_subset, reference, tmp_path):
    """Quantized, so not exact: probabilities within 0.02 of the float model's (measured: <= 0.014 on
    these weights), the same class for at least 95 % of the images whose float top two differ by more
    than one step of an int8 probability (1/256), and a native file of its own.

    Random weights give flat outputs, and a near-tie flips with the CPU's int8 kernel: over all 2,000
    images the spatial model's OpenVINO int8 agreed on 88.6-99.5 % on AVX-512 Xeons but 73.9 % on an
    AVX2 EPYC (no VNNI: saturating 16-bit sums); over the images that are no tie at int8's resolution it
    agreed on 99.7 % there (measured 98.1-100 % for every backend and model on that EPYC)."""
    x, _ = test_subset
    m = _model(backend, model)
    assert "int8" in type(m).approximate_paths and "int8" in type(m).batch_free_paths
    got = m.predict(x, batch_size=500, path="int8")
    assert got.shape == reference[model].shape and got.dtype == np.float32
    assert np.abs(got - reference[model]).max() <= 0.02
    top_two = np.sort(reference[model], axis=1)[:, -2:]
    clear = top_two[:, 1] - top_two[:, 0] > 1 / 256
    assert clear.sum() >= 100  # enough images that are no tie for the agreement to mean something
    assert np.mean(got.argmax(1)[clear] == reference[model].argmax(1)[clear]) >= 0.95
    np.testing.assert_allclose(got.sum(1), 1.0, atol=10 / 256)  # each of 10 int8 probabilities rounds to 1/256
    suffix = type(m).native_suffixes[0]
    float_file, int8_file = m.save_native(tmp_path / f"f{suffix}"), m.save_native(tmp_path / f"q{suffix}", of_path="int8")
    assert float_file.read_bytes() != int8_file.read_bytes()
    float_bytes, int8_bytes = (sum(f.stat().st_size for f in m.native_files(p)) for p in (float_file, int8_file))
    if model == "regular":  # weights dominate the files: int8 holds them in a quarter of the bytes
        weights = m.native_files(float_file)[-1], m.native_files(int8_file)[-1]  # OpenVINO: the .bin beside the graph
        assert weights[1].stat().st_size < 0.6 * weights[0].stat().st_size
        assert int8_bytes < (0.6 if backend != "openvino" else 0.85) * float_bytes  # OpenVINO's graph grows by its quantize ops
    with pytest.raises(ValueError, match="no inference path 'int4'"):
        m.save_native(tmp_path / f"x{suffix}", of_path="int4")


@pytest.mark.parametrize("model", ["regular", EVERY_KIND_MODEL])
def test_openvino_throughput_queue_returns_every_row_in_order(model, test_subset, reference):
    """Whatever the fast path chose here, OpenVINO's asynchronous queue (the throughput hint) on chunks of
    333 images (a short last one): every row, in order, at parity; its int8 model's rows as its latency
    requests give them."""
    from impls.file_runtime import INT8

    x, _ = test_subset
    m = _model("openvino", model)
    _assert_parity(m._run(x, 333, hint="throughput"), reference[model])
    assert ("throughput", "float32") in m._requests  # the queue ran, not the one-request fallback
    np.testing.assert_allclose(m._run(x, 333, INT8, hint="throughput"), m._run(x, 333, INT8, hint="latency"), atol=1e-6)
    _assert_parity(m._run(x[:333], 333, hint="throughput"), reference[model][:333])  # one request: the latency compile


@pytest.mark.parametrize("model", MNIST_MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_path_single_image_and_odd_lengths(backend, model, test_subset, reference):
    x, _ = test_subset
    m = _model(backend, model)
    for n, batch_size in ((1, 1), (1, 32), (7, 3), (1025, 1)):  # 1025: one past a 1024-image chunk
        _assert_parity(m.predict(x[:n], batch_size=batch_size, path="fast"), reference[model][:n])


@pytest.mark.parametrize("model", MNIST_MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_path_follows_set_weights(backend, model, test_subset):
    """Compiled graphs / folded kernels must not keep the old weights."""
    x = test_subset[0][:100]
    m = _model(backend, model)
    m.predict(x, path="fast")
    other = random_weights(model, SEED + 1)
    m.set_weights(other)
    from impls.registry import get_backend

    _assert_parity(m.predict(x, path="fast"), get_backend("numpy").build(other).predict(x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_path_rejects_bad_input(backend):
    m = backend_or_skip(backend).build_model("separable")
    for images, message in BAD_INPUTS:
        with pytest.raises(ValueError, match=message):
            m.predict(images, path="fast")
    with pytest.raises(ValueError, match="batch_size"):
        m.predict(np.zeros((2, 28, 28, 1), np.float32), batch_size=0, path="fast")


@pytest.mark.parametrize("model", MNIST_MODELS)
def test_every_numpy_lowering_is_exact(model, test_subset, reference):
    """Force each candidate lowering of each layer group in turn (the autotuner may pick any)."""
    from impls.numpy_fast import Plan, layer_groups

    x, _ = test_subset
    m = _model("numpy", model)
    groups = layer_groups(m.spec, m.get_weights())
    baseline = {name: next(iter(cands)) for name, cands in groups}
    tried = 0
    for name, cands in groups:
        for method in cands:
            m.set_fast_plan(Plan(chunk=300, methods={**baseline, name: method}))
            _assert_parity(m.predict(x, path="fast"), reference[model])
            tried += 1
    assert tried >= {"regular": 10, "separable": 20, "spatial": 18, "every-kind": 19}[model_name(model)]
    if model == "spatial":
        assert {"fold+im2col", "column+row"} <= set(dict(groups)["conv1"])
    if model == "separable":
        assert {"fold+im2col", "dw-shift+pw", "dw-rows+pw"} <= set(dict(groups)["conv1"])


def test_numpy_workers_do_not_change_results(test_subset):
    from impls.numpy_fast import Plan

    x, _ = test_subset
    m = _model("numpy", "separable")
    m.set_fast_plan(Plan(chunk=128, methods=m.fast_plan().methods))
    forward = m._fast_forward()
    np.testing.assert_array_equal(forward(x, workers=2), forward(x, workers=1))


def test_autotune_returns_a_plan_that_fits(test_subset):
    from impls.numpy_fast import autotune, layer_groups

    w = random_weights("separable", SEED)
    plan = autotune(SPECS["separable"], w, chunk_sizes=(32, 64), reps=1)
    groups = dict(layer_groups(SPECS["separable"], w))
    assert plan.chunk in (32, 64)
    assert set(plan.methods) == set(groups)
    assert all(plan.methods[g] in groups[g] for g in groups)
    assert set(plan.timings) == {32, 64} and all(t > 0 for g in plan.timings[32].values() for t in g.values())
    assert "conv1:" in plan.describe()


def test_a_plan_read_back_in_any_key_order_runs_the_layers_in_model_order(test_subset, reference):
    """A remembered plan comes back from JSON with its keys sorted (the sealed record is canonical): the
    layers must still run in the model's order, never the plan's (a reordered plan once fed a 1-channel
    image to the third layer's GEMM)."""
    from impls.numpy_fast import Plan

    x, _ = test_subset
    m = _model("numpy", EVERY_KIND_MODEL)
    methods = m.fast_plan().methods
    assert len(methods) > 2  # reversed, the first layer's lowering is no longer first
    m.set_fast_plan(Plan(chunk=64, methods=dict(reversed(list(methods.items())))))
    _assert_parity(m.predict(x, path="fast"), reference[EVERY_KIND_MODEL])


def test_a_plan_for_another_model_is_refused():
    from impls.numpy_fast import Plan

    m = _model("numpy", "regular")
    m.set_fast_plan(Plan(chunk=64, methods={"conv1": "dw-shift+pw"}))
    with pytest.raises(ValueError, match="plan does not fit"):
        m.predict(np.zeros((2, 28, 28, 1), np.float32), path="fast")


@pytest.mark.parametrize("model", ["separable", "spatial"])
def test_torch_folded_separable_conv_equals_its_two_parts(test_subset, model):
    """Both branches the torch fast path may choose per separable layer (of either kind) give the same output."""
    backend_or_skip("torch")
    import torch

    from impls.torch_backend import _folded_conv

    m = _model("torch", model)
    w = m.get_weights()
    x = torch.from_numpy(test_subset[0][:300]).reshape(-1, 1, 28, 28)
    with torch.inference_mode():
        for layer in m.spec.layers:
            if layer.kind not in ("separable_conv", "spatial_separable_conv"):
                continue
            split = m.module.layers[layer.name]
            folded = _folded_conv(layer, w.layer(layer.name))
            np.testing.assert_allclose(folded(x).numpy(), split(x).numpy(), atol=1e-5)
            x = split(x)
    m.predict(test_subset[0][:4], path="fast")
    assert set(m.fast_choices) == {"conv1", "conv2", "conv3"} and set(m.fast_choices.values()) <= {"fold", "split"}


def test_tensorflow_fast_path_chooses_fold_or_split_per_separable_layer(test_subset, reference):
    x, _ = test_subset
    m = _model("tensorflow", "separable")
    _assert_parity(m.predict(x, batch_size=32, path="fast"), reference["separable"])
    assert set(m.fast_choices) == {"conv1", "conv2", "conv3"} and set(m.fast_choices.values()) <= {"fold", "split"}


@pytest.mark.parametrize("model", MNIST_MODELS)
def test_torch_fast_path_is_exact_in_every_memory_format_and_chunk(model, test_subset, reference):
    """The torch fast path picks a memory format and chunk by timing: each one it may pick is exact."""
    backend_or_skip("torch")
    from impls.torch_backend import FAST_CHUNKS, MEMORY_FORMATS

    x, _ = test_subset
    m = _model("torch", model)
    for memory_format in MEMORY_FORMATS:
        for chunk in (FAST_CHUNKS[0], FAST_CHUNKS[-1]):  # 2,000 images: 3 full chunks + 464; one short chunk
            m.set_fast_config(memory_format, chunk)
            _assert_parity(m.predict(x, path="fast"), reference[model])
            assert m.fast_config()["memory_format"] == memory_format and m.fast_config()["chunk"] == chunk
    m.set_fast_config()  # back to measuring: the choice is one of the candidates, with a time for each
    m.predict(x[:2], path="fast")
    assert set(m.fast_tuning) == {f"{f}/{c}" for f in MEMORY_FORMATS for c in FAST_CHUNKS}
    assert all(0 < s < 1 for s in m.fast_tuning.values())  # seconds per image
    assert f"{m.fast_memory_format}/{m.fast_chunk}" == min(m.fast_tuning, key=m.fast_tuning.__getitem__)


def test_torch_set_fast_config_rejects_bad_values():
    backend_or_skip("torch")
    m = _model("torch", "regular")
    with pytest.raises(ValueError, match="unknown memory format 'nhwc'; known: contiguous, channels_last"):
        m.set_fast_config("nhwc", 1024)
    with pytest.raises(ValueError, match="positive number of images"):
        m.set_fast_config("channels_last", 0)
    with pytest.raises(ValueError, match="both memory_format and chunk"):
        m.set_fast_config("channels_last")


@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_config_says_what_the_fast_path_chose(backend):
    """Recorded with each fast-path result: the choices are measured, so they differ by machine."""
    m = _model(backend, "separable")
    config = m.fast_config()
    assert config["chunk"] >= 1
    if backend == "onnxruntime":  # the runtime fuses layers itself: its level of graph optimisation is the choice
        assert config["optimization"] in ("basic", "extended", "all")
        return
    if backend == "litert":  # XNNPACK plans the layers itself: the chunk is the choice
        assert config["delegate"].startswith("xnnpack")
        return
    if backend == "openvino":  # oneDNN plans the layers: the hint (and what the plugin made of it) is the choice
        assert config["hint"] in ("latency", "throughput") and config["precision"] == "f32"
        assert config["streams"] >= 1 and config["threads"] >= 1 and config["requests"] >= 1
        assert config["streams"] == 1 if config["hint"] == "latency" else config["requests"] >= config["streams"]
        return
    assert set(config["layers"]) >= {"conv1", "conv2", "conv3"}
    if backend == "numpy":
        assert all(isinstance(v, str) and v for v in config["layers"].values())
    else:
        assert set(config["layers"].values()) <= {"fold", "split"}
    if backend == "torch":
        assert config["memory_format"] in ("contiguous", "channels_last")


def test_numpy_fast_path_does_not_rescan_loaded_libraries_per_call(monkeypatch, test_subset, reference):
    """threadpoolctl's ``threadpool_info``/``threadpool_limits`` re-scan every loaded library (about
    3 ms each with torch and TensorFlow loaded: a one-image fast predict took 7 ms against 0.2 ms on
    the default path); after the first call, the fast path must not use them."""
    import threadpoolctl

    from impls import numpy_fast

    m = _model("numpy", "regular")
    x, _ = test_subset
    m.predict(x[:2], path="fast")  # autotune and the cached BLAS controller

    def rescan(*args, **kwargs):
        raise AssertionError("the fast path re-scanned the loaded libraries")

    monkeypatch.setattr(threadpoolctl, "threadpool_info", rescan)
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", rescan)
    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "__init__", rescan)
    before = numpy_fast.blas_threads()
    _assert_parity(m.predict(x[:1], path="fast"), reference["regular"][:1])
    _assert_parity(m.predict(x, path="fast"), reference["regular"])  # chunks on worker threads
    assert numpy_fast.blas_threads() == before  # the single-thread limit inside is undone
