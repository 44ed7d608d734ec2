"""The three backends: parity on real MNIST, bit-exact weight round trips, params, files, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from impls.registry import BACKEND_MODULES, BackendUnavailableError, UnknownBackendError, _load, get_backend
from sepbench.core.spec import get_model_spec
from sepbench.core.weights import PortableWeights, random_weights
from tests.conftest import BACKENDS, MNIST_MODELS, backend_or_skip, model_name

SEED = 1234


@pytest.fixture(scope="module")
def probabilities(test_subset):
    """Probabilities of every available backend for both models, same random weights (non-zero biases)."""
    x, _ = test_subset
    out: dict[tuple[str, str], np.ndarray] = {}
    for model in MNIST_MODELS:
        weights = random_weights(model, SEED)
        for name in BACKENDS:
            try:
                backend = get_backend(name)
            except BackendUnavailableError:
                continue
            out[(name, model)] = backend.build(weights).predict(x, batch_size=256)
    return out


@pytest.mark.parametrize("model", MNIST_MODELS)
@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_parity_with_numpy_on_2000_real_images(probabilities, backend, model):
    backend_or_skip(backend)
    ref, got = probabilities[("numpy", model)], probabilities[(backend, model)]
    assert got.shape == ref.shape == (2000, 10)
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() <= 1e-5
    np.testing.assert_array_equal(got.argmax(1), ref.argmax(1))
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    # random weights: the prediction must at least not be constant (its argmax varies, or for a small model whose
    # random biases win every argmax, its probabilities vary by 10x the tolerance)
    assert len(np.unique(ref.argmax(1))) > 1 or ref.std(axis=0).max() > 1e-4


@pytest.mark.parametrize("model", MNIST_MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_weight_round_trip_is_bit_exact(backend, model):
    w = random_weights(model, SEED)
    m = backend_or_skip(backend).build(w)
    assert m.get_weights().equal(w)
    w2 = random_weights(model, SEED + 10)
    m.set_weights(w2)
    assert m.get_weights().equal(w2)


@pytest.mark.parametrize("model", MNIST_MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_param_count_matches_spec(backend, model):
    m = backend_or_skip(backend).build_model(model, seed=0)
    spec = get_model_spec(model)
    assert m.count_params() == spec.params


@pytest.mark.parametrize("model", MNIST_MODELS)
def test_keras_counts_the_study_params(model):
    backend_or_skip("tensorflow")
    from impls.tensorflow_backend import build_keras_model

    spec = get_model_spec(model)
    keras_model = build_keras_model(spec)
    # counted by hand: the every-kind model's layers 80 + 32, 80 + 32, 144 + 64, 170 (a batch norm: 4 x channels)
    assert keras_model.count_params() == {"regular": 8586, "separable": 1427, "spatial": 2713, "every-kind": 602}[model_name(model)]
    assert [layer.count_params() for layer in keras_model.layers] == [r.params for r in spec.summary()]


EXAMPLE_MODELS = ["example-regular", "example-separable"]  # the worked example: one layer, 7x7x3 input, no classes


@pytest.mark.parametrize("model", EXAMPLE_MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_worked_example_is_built_by_every_backend_at_parity(backend, model):
    """A model that ends in a convolution (no softmax): every float path gives NumPy's NHWC output to
    1e-5 on seeded uniform input of the example's 7x7x3 shape (measured: <= 2.4e-7)."""
    m = backend_or_skip(backend).build(random_weights(model, SEED))
    x = np.random.default_rng(SEED).random((33, 7, 7, 3), dtype=np.float32)
    ref = get_backend("numpy").build(random_weights(model, SEED)).predict(x, batch_size=8)
    assert ref.shape == (33, 5, 5, 32) and ref.std() > 0.1
    for path in set(type(m).paths) - set(type(m).approximate_paths):
        got = m.predict(x, batch_size=8, path=path)
        assert got.shape == ref.shape and got.dtype == np.float32
        assert np.abs(got - ref).max() <= 1e-5, (backend, path)
    assert m.count_params() == {"example-regular": 896, "example-separable": 155}[model]  # 3*3*3*32 + 32; 27 + 96 + 32


def test_spatial_layers_fold_to_the_rank_1_kernels_in_every_backend_that_folds():
    from impls.numpy_ops import fold_spatial_separable

    rng = np.random.default_rng(0)
    column, row = rng.standard_normal((3, 1, 2, 1)), rng.standard_normal((1, 3, 2, 4))
    folded = fold_spatial_separable(column, row)
    assert folded.shape == (3, 3, 2, 4)
    for c in range(2):
        for f in range(4):
            np.testing.assert_allclose(folded[:, :, c, f], np.outer(column[:, 0, c, 0], row[0, :, c, f]), rtol=1e-6)


def test_torch_depthwise_has_no_bias():
    backend_or_skip("torch")
    m = get_backend("torch").build_model("separable")
    for name, channels in (("conv1", 1), ("conv2", 8), ("conv3", 16)):
        depthwise = m.module.layers[name][0]
        assert depthwise.bias is None and depthwise.groups == channels
    assert m.count_params() == 1427  # 1,452 if the depthwise conv had a bias


@pytest.mark.parametrize("model", MNIST_MODELS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_native_files_reload_to_same_outputs(backend, model, tmp_path, test_subset):
    x = test_subset[0][:64]
    b = backend_or_skip(backend)
    w = random_weights(model, SEED)
    m = b.build(w)
    ref = m.predict(x)
    for suffix in type(m).native_suffixes:
        path = m.save_native(tmp_path / f"model{suffix}")
        assert path.stat().st_size > 0
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # atomic: no temp files left
        if backend == "numpy":
            again = b.build(PortableWeights.load(path, w.spec)).predict(x)  # the file names its model; a spec of ours comes with it
        elif backend == "torch":
            import torch

            m2 = b.build_model(model, seed=99)
            m2.module.load_state_dict(torch.load(path, weights_only=True))
            again = m2.predict(x)
        elif backend == "onnxruntime":  # the file alone, in a plain session: the graph carries the weights
            import onnxruntime as ort

            again = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
        elif backend == "openvino":  # the graph file, which finds its weights beside it, in a fresh runtime
            import openvino as ov

            assert [f.name for f in m.native_files(path)] == [path.name, path.with_suffix(".bin").name]
            unfolded = sum(r.params for r in w.spec.summary() if r.kind != "batch_norm")  # batch norms fold away
            assert path.with_suffix(".bin").stat().st_size >= 4 * unfolded  # float32 weights, not fp16
            again = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
            b.build_model("separable", seed=5)  # another graph built in between: the names must not count ops
            twin = b.build(w).save_native(tmp_path / "twin.xml")
            assert [f.read_bytes() for f in m.native_files(twin)] == [f.read_bytes() for f in m.native_files(path)]
        elif backend == "litert":  # the file alone, in a fresh interpreter
            from ai_edge_litert.interpreter import Interpreter

            it = Interpreter(model_path=str(path))
            it.resize_tensor_input(it.get_input_details()[0]["index"], list(x.shape), strict=False)
            it.allocate_tensors()
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            again = it.get_tensor(it.get_output_details()[0]["index"])
        else:
            import keras

            again = np.asarray(keras.models.load_model(path).predict(x, verbose=0))
        np.testing.assert_array_equal(again, ref)
    with pytest.raises(ValueError, match="saves"):
        m.save_native(tmp_path / "model.txt")


BAD_INPUTS = [
    (np.zeros((4, 28, 28), np.float32), "rank 4.*add a channel axis"),
    (np.zeros((4, 28, 28, 1, 1), np.float32), "rank 4"),
    (np.zeros((4, 32, 32, 1), np.float32), "28x28 pixels"),
    (np.zeros((4, 28, 28, 3), np.float32), "1 channel"),
    (np.zeros((4, 1, 28, 28), np.float32), "28x28 pixels"),  # NCHW by mistake
    (np.zeros((4, 28, 28, 1), np.int32), "dtype int32"),
    (np.zeros((4, 28, 28, 1), np.bool_), "dtype bool"),
    (np.full((4, 28, 28, 1), np.nan, np.float32), "NaN"),
    (np.zeros((0, 28, 28, 1), np.float32), "empty batch"),
    ("not an image", "rank 4"),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_is_a_clear_value_error(backend):
    m = backend_or_skip(backend).build_model("separable")
    for images, message in BAD_INPUTS:
        with pytest.raises(ValueError, match=message):
            m.predict(images)
    with pytest.raises(ValueError, match="batch_size"):
        m.predict(np.zeros((2, 28, 28, 1), np.float32), batch_size=0)
    with pytest.raises(ValueError, match="no inference path"):
        m.predict(np.zeros((2, 28, 28, 1), np.float32), path="warp-speed")


@pytest.mark.parametrize("backend", BACKENDS)
def test_uint8_is_scaled_by_1_over_255(backend, test_subset):
    m = backend_or_skip(backend).build(random_weights("regular", SEED))
    x = test_subset[0][:16]
    raw = np.rint(x * 255).astype(np.uint8)
    np.testing.assert_allclose(m.predict(raw), m.predict(x), atol=1e-6)
    np.testing.assert_allclose(m.predict(x.astype(np.float64)), m.predict(x), atol=1e-6)


def test_batching_does_not_change_results(test_subset):
    m = get_backend("numpy").build(random_weights("separable", SEED))
    x = test_subset[0][:100]
    np.testing.assert_allclose(m.predict(x, batch_size=1), m.predict(x, batch_size=100), atol=1e-6)
    np.testing.assert_allclose(m.predict(x, batch_size=7), m.predict(x, batch_size=100), atol=1e-6)


def test_weights_of_the_wrong_model_rejected():
    m = get_backend("numpy").build_model("regular")
    with pytest.raises(ValueError, match="separable"):
        m.set_weights(random_weights("separable", 0))


def test_unknown_backend_names_the_known_ones():
    with pytest.raises(UnknownBackendError, match="unknown backend 'jax'.*numpy, tensorflow, torch, onnxruntime, litert"):
        get_backend("jax")


def test_missing_framework_makes_only_that_backend_unavailable(monkeypatch):
    monkeypatch.setitem(BACKEND_MODULES, "onnx", ("impls.onnx_backend", "sepbench_no_such_framework"))
    _load.cache_clear()
    try:
        from impls.registry import available_backends, unavailable_reason

        with pytest.raises(BackendUnavailableError, match="not installed"):
            get_backend("onnx")
        assert "not installed" in unavailable_reason("onnx")
        assert "numpy" in available_backends() and "onnx" not in available_backends()
    finally:
        _load.cache_clear()


@pytest.mark.parametrize(
    "error",
    ["OSError('libbroken.so: cannot open shared object file')", "RuntimeError('CUDA driver mismatch')", "ImportError('DLL load failed')"],
)
def test_a_framework_that_fails_to_import_in_any_way_makes_only_its_backend_unavailable(monkeypatch, tmp_path, error):
    """A real module that raises on import, as a framework with a missing shared library does."""
    (tmp_path / "sepbench_broken_framework.py").write_text(f"raise {error}\n")
    (tmp_path / "sepbench_broken_backend.py").write_text("import sepbench_broken_framework\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(BACKEND_MODULES, "broken", ("sepbench_broken_backend", "sepbench_broken_framework"))
    _load.cache_clear()
    try:
        from impls.registry import available_backends, unavailable_reason

        with pytest.raises(BackendUnavailableError, match=f"importing 'sepbench_broken_framework' failed \\({error.split('(')[0]}"):
            get_backend("broken")
        assert error.split("'")[1].split(":")[0] in unavailable_reason("broken")
        assert "numpy" in available_backends() and "broken" not in available_backends()
    finally:
        _load.cache_clear()


def test_litert_without_tensorflow_says_why_it_is_unavailable():
    """In a process where TensorFlow cannot be imported, LiteRT (which builds its .tflite with TF's
    converter) is unavailable with that reason and the other backends still load."""
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = sys.modules['keras'] = None  # Python's own way to make an import fail\n"
        "from impls.registry import unavailable_reason, available_backends\n"
        "print(unavailable_reason('litert'))\n"
        "print(available_backends())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reason, available = proc.stdout.strip().splitlines()[-2:]
    assert "builds its .tflite files with TensorFlow's converter" in reason and "sepbench[tf]" in reason
    assert "'numpy'" in available and "'onnxruntime'" in available and "'litert'" not in available and "'tensorflow'" not in available


@pytest.fixture(scope="module")
def mobilenet_pair():
    """The MobileNet-style example pair file, whose models the backends build from their specs (ReLU layers included)."""
    from pathlib import Path

    from sepbench.core.pairs import select_pairs

    return select_pairs([str(Path(__file__).resolve().parent.parent / "examples" / "pairs" / "mobilenet-block.toml")])[0]


@pytest.mark.parametrize("role", ["baseline", "candidate"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_pair_files_models_are_built_by_every_backend_at_parity(backend, role, mobilenet_pair, test_subset):
    """A model no module names (a pair file's, with ReLU after its convolutions): every float path of every
    backend gives NumPy's probabilities to 1e-5 on 500 real images, and counts the spec's parameters."""
    spec = getattr(mobilenet_pair, role)
    weights = random_weights(spec, SEED)
    x = test_subset[0][:500]
    ref = get_backend("numpy").build(weights).predict(x, batch_size=128)
    m = backend_or_skip(backend).build(weights)
    assert m.count_params() == spec.params
    for path in set(type(m).paths) - set(type(m).approximate_paths):
        got = m.predict(x, batch_size=128, path=path)
        assert got.shape == (500, 10) and np.abs(got - ref).max() <= 1e-5, (backend, path)


def test_relu_is_max_of_zero_and_its_gradient_is_the_mask():
    from impls.numpy_grad import backward, forward
    from sepbench.core.spec import LayerSpec, ModelSpec

    spec = ModelSpec("r", (LayerSpec("relu", "relu"), LayerSpec("gap", "global_avg_pool")), (2, 2, 1))
    x = np.array([[[[-1.0], [2.0]], [[0.5], [-3.0]]]])
    out, caches = forward(spec, {}, x)
    assert out.tolist() == [[(0 + 2 + 0.5 + 0) / 4]]
    from impls.numpy_grad import gap_backward

    d = gap_backward(np.ones((1, 1)), caches[1]) * caches[0]  # what backward passes to the layer below
    assert d[0, :, :, 0].tolist() == [[0.0, 0.25], [0.25, 0.0]]
    assert backward(spec, {}, caches, np.ones((1, 1))) == {}
