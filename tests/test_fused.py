"""The NumPy backend's fused path (impls/numpy_fused.py, kernel source from impls/fused_codegen.py): the
default path's probabilities for any spec, compiled apart from running and cached on disk."""

from __future__ import annotations

import numpy as np
import pytest

from impls.numpy_backend import NumpyModel
from sepbench.core.spec import LayerSpec, ModelSpec, get_model_spec
from sepbench.core.weights import init_weights
from tests.conftest import off_identity_weights, small_every_kind_layers

numba = pytest.importorskip("numba", reason="the fused path needs numba (the numpy extra's numba pin)")

# every layer kind the spec has, small (9x9x2 in): the kernel generator's branches, batch norms folded
EVERY_KIND = ModelSpec(  # a value, as a pair file's model is: the backends take it as its spec
    "fused-every-kind",
    (
        *small_every_kind_layers(),
        LayerSpec("dense", "dense", filters=3, activation="softmax"),
    ),
    (9, 9, 2),
    "a test model with one layer of every kind",
)


_random_weights = off_identity_weights  # the shared parity weights (tests/conftest.py)


# the built-in models' fused path is checked with every other path of theirs in tests/test_fast_paths.py
# (on 2,000 real images): a kernel compiles in tens of seconds, so each test file compiles its own models only
SPECS = [EVERY_KIND]


@pytest.fixture(scope="module")
def kernel_cache():
    """The user's cache folder, as every other test's fused path uses it: each spec's kernel is compiled
    once per machine (tens of seconds), then loaded from numba's cache (under a second)."""
    from sepbench.util.paths import cache_dir

    return cache_dir()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_fused_matches_the_default_path(spec):
    model = NumpyModel(_random_weights(spec, 3))
    x = np.random.default_rng(0).random((37, *spec.input_shape), dtype=np.float32)  # not a multiple of the micro-batch
    want = model.predict(x, 8)
    got = model.predict(x, 8, path="fused")
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-5
    assert np.argmax(got, 1).tolist() == np.argmax(want, 1).tolist()
    one = model.predict(x[:1], 1, path="fused")  # one image: the batch-1 case
    assert np.abs(one - want[:1]).max() <= 1e-5


def test_the_kernel_is_compiled_once_and_cached_on_disk(kernel_cache):
    model = NumpyModel(_random_weights(EVERY_KIND, 1))
    config = model.path_config("fused")
    assert config["compile_seconds"] > 0 and config["chunk"] >= 1 and config["kernel"].startswith(f"numba {numba.__version__}, kernel_")
    assert list(config["layers"]) == ["op0_conv", "op1_relu", "op2_depthwise_conv", "op3_separable_conv_dw",
                                      "op3_separable_conv_pw", "op4_spatial_separable_conv_col",
                                      "op4_spatial_separable_conv_row", "op5_avg_pool", "op6_global_avg_pool", "op7_dense"]  # fmt: skip

    kernel = kernel_cache / "fused" / config["kernel"].split(", ")[1]
    assert kernel.is_file() and "'fused-every-kind'" in kernel.read_text() and "do not edit" in kernel.read_text()
    cached = list((kernel_cache / "fused" / "__pycache__").glob(f"{kernel.stem}.*.nbc"))
    assert cached, "numba wrote no machine code beside the kernel"
    # new weights, same spec: the same kernel file (weights are arguments, not part of the source)
    assert NumpyModel(_random_weights(EVERY_KIND, 2)).path_config("fused")["kernel"] == config["kernel"]


def test_fused_is_a_path_of_the_numpy_backend_on_its_threads():
    from impls import get_backend

    backend = get_backend("numpy")
    assert "fused" in NumpyModel.paths and "fused" in NumpyModel.batch_free_paths
    backend.set_threads(1)
    assert backend.thread_settings()["fused"] == 1
    assert "numba" in backend.versions()


def test_the_profile_times_every_pass_and_counts_the_specs_macs():
    """The passes' multiply-accumulates add up to the study's count (117,384 and 15,089 per image: 3 convs + dense)."""
    from impls.numpy_fused import FusedForward, profile_passes

    for model, macs, passes in (("regular", 117_384, 5), ("separable", 15_089, 8)):
        spec = get_model_spec(model)
        rows = profile_passes(FusedForward(spec, init_weights(spec, 0)), np.ones(spec.input_shape, np.float32), reps=10)
        assert len(rows) == passes and sum(r.macs for r in rows) == macs
        assert all(r.seconds_per_image > 0 and r.gbs > 0 for r in rows)
        assert all((r.gflops > 0) == (r.macs > 0) for r in rows)
