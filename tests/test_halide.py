"""The NumPy backend's halide path (impls/numpy_halide.py; the pipeline from impls/halide_pipeline.py, its Funcs
from impls/halide_algorithm.py, its schedules from impls/halide_schedules.py): the
default path's probabilities for any spec and any number of images (whole blocks of 16 in the lanes
schedule, the rest in the single-image one), compiled once per model shape."""

from __future__ import annotations

import re

import numpy as np
import pytest

from impls.numpy_backend import NumpyBackend, NumpyModel
from impls.numpy_halide import halide_unavailable_reason
from sepbench.core.spec import LayerSpec, ModelSpec, get_model_spec
from sepbench.core.weights import init_weights
from tests.conftest import off_identity_weights, small_every_kind_layers

hl = pytest.importorskip("halide", reason="the halide path needs the halide wheel (pip install 'sepbench[halide]')")

TOL = 1e-5  # as tests/test_fast_paths.py

# every layer kind the spec has, small (9x9x2 in), two of them ending on an image (no dense layer)
EVERY_KIND = ModelSpec(  # values, as a pair file's models are: the backends take them as their specs
    "halide-every-kind",
    (
        *small_every_kind_layers(),
        LayerSpec("relu", "relu"),
        LayerSpec("dense", "dense", filters=3, activation="softmax"),
    ),
    (9, 9, 2),
    "a test model with one layer of every kind",
)
IMAGE_OUT = ModelSpec(  # no dense layer: the outputs are an image's values, NHWC
    "halide-image-out", (LayerSpec("sep", "separable_conv", 5, 3, 2), LayerSpec("pool", "avg_pool", kernel=2, stride=1)), (11, 9, 3)
)
SPECS = [EVERY_KIND, IMAGE_OUT, get_model_spec("example-regular"), get_model_spec("example-separable")]


_weights = off_identity_weights  # the shared parity weights (tests/conftest.py)


def _images(spec: ModelSpec, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *spec.input_shape), dtype=np.float32)


def test_halide_is_a_path_of_the_numpy_model_here():
    assert halide_unavailable_reason() is None
    assert "halide" in NumpyModel.paths and "halide" in NumpyModel.batch_free_paths
    assert "halide" in NumpyBackend("numpy", "numpy").versions()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_kind_and_any_count_matches_the_default_path(spec):
    """Counts around the 16-image block: single only (1, 15), lanes only (16, 48), both (17, 35)."""
    m = NumpyModel(_weights(spec, 3))
    x = _images(spec, 48)
    ref = m.predict(x, batch_size=7)
    assert ref.std() > 1e-3  # the outputs vary over images and values, so a wrong lane or channel shows
    for n in (1, 15, 16, 17, 35, 48):
        got = m.predict(x[:n], path="halide")
        assert got.shape == ref[:n].shape and got.dtype == np.float32
        assert np.abs(got - ref[:n]).max() <= TOL, n


def _one_channel_separable_then(reader: LayerSpec) -> ModelSpec:
    """A separable layer on one input channel (its pointwise pass an outer product) read by ``reader``."""
    return ModelSpec(
        f"halide-one-channel-then-{reader.kind}",
        (
            LayerSpec("sep1", "separable_conv", 4, 3),
            reader,
            LayerSpec("gap", "global_avg_pool"),
            LayerSpec("dense", "dense", filters=3, activation="softmax"),
        ),
        (13, 13, 1),
    )


READERS = [
    LayerSpec("next", "separable_conv", 5, 3, 2),  # inlined: read once per tap, channel by channel
    LayerSpec("next", "depthwise_conv", kernel=3),
    LayerSpec("next", "relu"),
    LayerSpec("next", "conv", 5, 3),  # stored: every output channel reads every input channel
    LayerSpec("next", "avg_pool", kernel=2, stride=1),
    LayerSpec("next", "spatial_separable_conv", 5, 3),
]


ONE_CHANNEL_SPECS = [
    *(_one_channel_separable_then(r) for r in READERS),
    ModelSpec(  # read by the global pooling: stored
        "halide-one-channel-then-gap",
        (
            LayerSpec("sep1", "separable_conv", 4, 3),
            LayerSpec("gap", "global_avg_pool"),
            LayerSpec("dense", "dense", filters=3, activation="softmax"),
        ),
        (13, 13, 1),
    ),
    ModelSpec("halide-one-channel-last", (LayerSpec("sep1", "separable_conv", 4, 3),), (13, 13, 1)),  # the outputs: stored
    ModelSpec(  # a batch norm folded into it, then a separable layer: inlined
        "halide-one-channel-folded-norm",
        (
            LayerSpec("sep1", "separable_conv", 4, 3),
            LayerSpec("sep1_bn", "batch_norm"),
            LayerSpec("next", "separable_conv", 5, 3, 2),
            LayerSpec("gap", "global_avg_pool"),
            LayerSpec("dense", "dense", filters=3, activation="softmax"),
        ),
        (13, 13, 1),
    ),
]


@pytest.mark.parametrize("spec", ONE_CHANNEL_SPECS, ids=lambda s: s.name.removeprefix("halide-one-channel-"))
def test_a_one_channel_pointwise_pass_inlined_or_stored_matches_the_default_path(spec):
    m = NumpyModel(_weights(spec, 12))
    x = _images(spec, 35, seed=5)
    ref = m.predict(x, batch_size=7)
    assert ref.std() > 1e-3
    assert np.abs(m.predict(x, path="halide") - ref).max() <= TOL


def _realized(spec: ModelSpec, schedule: str, tmp_path, pixels: str = "float32") -> str:
    """The lowered statement of ``spec``'s pipeline: ``produce f`` for every Func stored, none for one inlined."""
    from impls import halide_pipeline as hp
    from impls.fold import inference_layers

    layers = tuple((layer, shape) for layer, _, shape in inference_layers(spec, init_weights(spec, 0)))
    pipeline, args = hp.scheduled(spec.input_shape, layers, spec.layers[-1].activation == "softmax", schedule, pixels)
    out = tmp_path / f"{schedule}-{pixels}.stmt"
    pipeline.compile_to_lowered_stmt(str(out), args, hl.StmtOutputFormat.Text, hl.get_jit_target_from_environment())
    return out.read_text()


@pytest.mark.parametrize("schedule", ["lanes", "single"])
def test_the_one_channel_pointwise_pass_is_not_stored_where_read_once_and_stored_elsewhere(schedule, tmp_path):
    """The separable study model's conv1 pointwise pass (1 -> 8 channels: one FMA a value) is not stored:
    conv2's depthwise pass reads conv1's one-channel map and applies the pass's factors itself (the test
    below); before a conv, which would recompute it for every output channel, it is stored once."""
    study = _realized(get_model_spec("separable"), schedule, tmp_path)
    assert "produce conv1_dw" in study and "produce conv2_dw" in study
    assert "produce conv1_pw" not in study and "produce conv2_pw" in study
    before_conv = _realized(_one_channel_separable_then(READERS[3]), schedule, tmp_path)
    assert "produce sep1_pw" in before_conv
    # stored as a stage's output is: vectors of 16 images (lanes) or of the 4 channels (single)
    assert re.search(r"sep1_pw(\$\d+)?\[ramp\([^\n]*?, 1, (16|4)\) aligned\(\d+, 0\)\] =", before_conv), "stored one value at a time"


@pytest.mark.parametrize("schedule", ["lanes", "single"])
def test_a_depthwise_pass_on_a_one_channel_pointwise_pass_sums_its_taps_over_the_one_map(schedule, tmp_path):
    """conv2's depthwise pass reads conv1's outer product ``bias[c] + w[c] * m``: it sums its taps over ``m``
    (every channel reading the same map) and applies ``w[c]`` and ``bias[c]`` once a value, as its tile
    leaves the registers, where it had computed the product again at every tap."""
    study = _realized(get_model_spec("separable"), schedule, tmp_path)
    taps = study[study.index("produce conv2_dw_acc") : study.index("consume conv2_dw_acc")]
    assert "conv1_dw" in taps and "conv2_depthwise_kernel" in taps  # the taps read the one map
    assert "conv1_pointwise_kernel" not in taps and "conv1_bias" not in taps
    finish = study[study.index("consume conv2_dw_acc") : study.index("produce conv2_pw")]
    assert "conv1_pointwise_kernel" in finish and "conv1_bias" in finish and "conv2_dw_tap_sums" in finish
    assert study.count("produce conv2_dw_tap_sums") == 1  # once a call, not once a block or image


def test_a_per_channel_stage_tiles_pixels_first():
    """A depthwise or pooling tile spends its accumulators on pixels (they share taps along x), then takes the
    fewest channels that make enough independent FMA chains; a channel-mixing one takes up to 8 channels first."""
    from impls import halide_schedules as hs

    avx512 = hs.Registers(lanes=16, accumulators=24)

    def tile(shape, per_channel, regs=avx512):
        return hs.tile_shape(hs.Stage(None, None, None, shape, shared_taps=True, per_channel=per_channel), regs)

    assert tile((4, 4, 8), per_channel=True) == (4, 2)  # the study separable's conv2 depthwise: 8 chains
    assert tile((2, 2, 16), per_channel=True) == (2, 4)
    assert tile((11, 11, 1), per_channel=True) == (11, 1)
    assert tile((28, 28, 1), per_channel=True) == (14, 1)  # no tile shifted inwards: 2 x 14
    assert tile((3, 3, 5), per_channel=True) == (3, 5)  # 5 channels do not divide: all of them, 15 chains
    assert tile((4, 4, 16), per_channel=False) == (2, 8)
    for shape in [(4, 4, 8), (2, 2, 16), (7, 7, 3), (1, 1, 64)]:
        px, chan = tile(shape, per_channel=True)
        assert px * chan <= 24 and shape[-1] % chan == 0
    avx2 = hs.Registers(lanes=8, accumulators=12)
    assert tile((11, 11, 1), True, avx2) == (11, 1) and tile((4, 4, 8), True, avx2) == (4, 2)
    assert tile((4, 4, 16), False, avx2) == (1, 8)  # 12 accumulators: one pixel of 8 channels
    assert tile((2, 2, 16), True, avx2) == (2, 4) and tile((7, 7, 3), True, avx2)[0] * tile((7, 7, 3), True, avx2)[1] <= 12


@pytest.mark.parametrize(
    ("target", "lanes", "accumulators"),
    [
        ("x86-64-linux-avx-avx2-avx512-avx512_skylake-fma-f16c-sse41", 16, 24),
        ("x86-64-linux-avx-avx2-fma-f16c-sse41", 8, 12),
        ("x86-64-linux-sse41", 4, 12),
        ("arm-64-linux", 4, 24),
    ],
)
def test_the_registers_follow_the_target(target, lanes, accumulators):
    """A block holds a vector's float32 lanes of images and a tile at most 3/4 of the registers: AVX-512 has
    32 of 16 lanes, AVX2 16 of 8, SSE 16 of 4, 64-bit ARM 32 of 4."""
    from impls import halide_schedules as hs

    assert hs.registers(hl.Target(target)) == hs.Registers(lanes, accumulators)


def test_an_avx2_machine_gets_blocks_of_8_images_and_the_default_paths_probabilities():
    """Compiled for AVX2 (``HL_JIT_TARGET``; this CPU runs that code too), in a fresh process (the pipelines are
    cached per process): blocks of 8 images, the rest one by one, the default path's probabilities."""
    import os
    import subprocess
    import sys

    if not hl.get_host_target().has_feature(hl.TargetFeature.AVX2):
        pytest.skip("this CPU cannot run AVX2 code")
    script = """
import numpy as np
from impls.numpy_backend import NumpyModel
from sepbench.core.spec import get_model_spec
from tests.conftest import off_identity_weights
spec = get_model_spec("example-separable")
m = NumpyModel(off_identity_weights(spec, 3))
x = np.random.default_rng(0).random((25, *spec.input_shape), dtype=np.float32)
ref = m.predict(x, batch_size=7)
for n in (1, 7, 8, 9, 17, 25):
    assert np.abs(m.predict(x[:n], path="halide") - ref[:n]).max() <= 1e-5, n
u8 = (x * 255).astype(np.uint8)
assert np.abs(m.predict(u8, path="halide") - m.predict(u8)).max() <= 1e-5
config = m.path_config("halide")
assert config["chunk"] == 8 and "avx2" in config["kernel"] and "avx512" not in config["kernel"], config
print("ok")
"""
    env = {**os.environ, "HL_JIT_TARGET": "x86-64-linux-avx-avx2-fma-f16c-sse41"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("garbage\x1b[2J", r"Halide refuses HL_JIT_TARGET='garbage\\x1b\[2J'"),  # repr: the escape is not sent to a terminal
        ("x86-64-linux-avx-avx2-fma-f16c-sse41-avx512-avx512_sapphirerapids", "asks for AVX512_SapphireRapids"),
    ],
)
def test_a_jit_target_halide_refuses_or_this_cpu_lacks_takes_the_path_away_and_says_why(target, said):
    """``HL_JIT_TARGET`` is input: one Halide cannot parse, or one naming instructions this CPU lacks (its code
    would die on an illegal instruction), leaves the NumPy backend without the halide path, and asking for
    it says why."""
    import os
    import subprocess
    import sys

    host = hl.get_host_target()
    if host.arch != hl.TargetArch.X86 or host.has_feature(hl.TargetFeature.AVX512_SapphireRapids):
        pytest.skip("the second target must name an instruction set this CPU lacks: an x86 one without AMX-era AVX-512")
    script = """
import numpy as np
from impls.numpy_backend import NumpyModel
from impls.registry import build_model
assert "halide" not in NumpyModel.paths
try:
    build_model("numpy", "separable").predict(np.zeros((2, 28, 28, 1), np.float32), path="halide")
except ValueError as exc:
    print(exc)
"""
    env = {**os.environ, "HL_JIT_TARGET": target}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "has no inference path 'halide'" in done.stdout and re.search(said, done.stdout), done.stdout
    assert "\x1b" not in done.stdout


def test_a_call_does_not_walk_the_spec(monkeypatch):
    """A batch of one is microseconds of pipeline: the call must not redo per-model work, such as the spec's
    layer walk for the output shape (it was 20 us of a 29 us batch-1 call)."""
    from sepbench.core.spec import ModelSpec as Spec

    m = NumpyModel(_weights(EVERY_KIND, 13))
    x = _images(EVERY_KIND, 17, seed=6)
    want = m.predict(x, path="halide")
    forward = m._halide_forward()

    def walked(self):
        raise AssertionError("the spec's layers were walked during a call")

    monkeypatch.setattr(Spec, "summary", walked)
    np.testing.assert_array_equal(forward(x), want)


def test_threads_split_the_blocks_without_changing_a_value():
    spec = EVERY_KIND
    m = NumpyModel(_weights(spec, 4))
    x = _images(spec, 16 * 9 + 3, seed=1)
    one = m._halide_forward()(x, threads=1)
    three = m._halide_forward()(x, threads=3)  # 9 blocks on 3 threads: ranges of blocks, 3 single images
    np.testing.assert_array_equal(one, three)


def test_compiled_once_per_shape_weights_are_inputs():
    """A second model of the same shape (other weights) reuses the compiled pipelines and still gives its own outputs."""
    from impls import halide_pipeline as hp

    spec = EVERY_KIND
    a, b = NumpyModel(_weights(spec, 5)), NumpyModel(_weights(spec, 6))
    x = _images(spec, 20, seed=2)
    pa = a.predict(x, path="halide")
    hits = hp.compiled.cache_info().hits
    pb = b.predict(x, path="halide")
    assert hp.compiled.cache_info().hits == hits + len(hp.SCHEDULES)
    assert a._halide_forward().pipelines == b._halide_forward().pipelines
    assert np.abs(pa - pb).max() > 1e-3  # not the first model's weights
    assert np.abs(pb - b.predict(x)).max() <= TOL


def test_set_weights_reaches_the_pipeline():
    spec = EVERY_KIND
    m = NumpyModel(_weights(spec, 7))
    x = _images(spec, 17, seed=3)
    m.predict(x, path="halide")
    other = _weights(spec, 8)
    m.set_weights(other)
    assert np.abs(m.predict(x, path="halide") - NumpyModel(other).predict(x)).max() <= TOL


def test_config_records_the_compile_apart():
    from impls import halide_pipeline as hp

    m = NumpyModel(_weights(EVERY_KIND, 9))
    m.predict(_images(EVERY_KIND, 33), path="halide")
    config = m.path_config("halide")
    assert config["compile_seconds"] > 0 and config["chunk"] == hp.registers().lanes
    assert config["kernel"].startswith("halide ") and config["threads"] >= 1


UINT8_SPECS = [  # and both rewrites at once: a one-channel separable first layer, its 1/255 in the depthwise
    *SPECS,  # kernel, read by a depthwise pass through its factors
    get_model_spec("separable"),
    _one_channel_separable_then(READERS[1]),
]


@pytest.mark.parametrize("spec", UINT8_SPECS, ids=lambda s: s.name)
def test_uint8_images_give_the_float32_probabilities(spec):
    """Bytes reach the pipeline as they are (a quarter of the input traffic) and give the float32 images'
    probabilities to 1e-6: scaled by 1/255 in registers as the float32 preprocessing does (single), or by the
    first layer's weights (lanes), through ``predict``."""
    m = NumpyModel(_weights(spec, 10))
    u8 = np.random.default_rng(4).integers(0, 256, (35, *spec.input_shape), dtype=np.uint8)
    f32 = u8.astype(np.float32) / np.float32(255.0)
    got, want = m.predict(u8, path="halide"), m.predict(f32, path="halide")
    assert {("lanes", "uint8"), ("single", "uint8")} <= set(m._halide_forward().pipelines)
    assert got.dtype == np.float32 and np.abs(got - want).max() <= 1e-6
    assert np.abs(got - m.predict(u8)).max() <= TOL  # the default path, given the same bytes


FIRST_LAYERS = [  # a weighted first layer takes the 1/255 into its input weights; relu and pooling cannot
    (LayerSpec("first", "conv", 4, 3), "first_kernel_scaled"),
    (LayerSpec("first", "depthwise_conv", kernel=3), "first_depthwise_kernel_scaled"),
    (LayerSpec("first", "separable_conv", 4, 3), "first_depthwise_kernel_scaled"),
    (LayerSpec("first", "spatial_separable_conv", 4, 3), "first_column_kernel_scaled"),
    (LayerSpec("first", "relu"), None),
    (LayerSpec("first", "avg_pool", kernel=2, stride=1), None),
]


@pytest.mark.parametrize(("first", "scaled"), FIRST_LAYERS, ids=lambda v: getattr(v, "kind", ""))
def test_bytes_stay_bytes_in_the_block_where_the_first_layer_can_take_the_scaling(first, scaled, tmp_path):
    """In the lanes schedule a block's transposed input stays bytes (a quarter of the stack, converted where
    read) and the first layer's input weights are divided by 255 once a call, where that layer is linear in
    its input; before a relu or a pooling the block's input is scaled as it is stored.  The outputs stay
    within 1e-6 of the float32 images' either way."""
    spec = ModelSpec(
        f"halide-first-{first.kind}",
        (first, LayerSpec("gap", "global_avg_pool"), LayerSpec("dense", "dense", filters=3, activation="softmax")),
        (9, 9, 2),
    )
    stmt = _realized(spec, "lanes", tmp_path, "uint8")
    stored = re.search(r"allocate images_by_lane(?:\$\d+)?\[(\w+) \*", stmt).group(1)  # ($n: a name used before)
    assert stored == ("uint8" if scaled else "float32")
    assert len(re.findall(rf"produce {scaled}(?:\$\d+)? ", stmt)) == 1 if scaled else "_scaled" not in stmt
    m = NumpyModel(_weights(spec, 13))
    u8 = np.random.default_rng(6).integers(0, 256, (35, *spec.input_shape), dtype=np.uint8)
    got = m.predict(u8, path="halide")
    assert np.abs(got - m.predict(u8.astype(np.float32) / np.float32(255.0), path="halide")).max() <= 1e-6
    assert np.abs(got - m.predict(u8)).max() <= TOL


def test_a_kind_listed_as_taking_the_scaling_but_passing_no_weight_is_refused(monkeypatch):
    """A first layer listed as linear in its input that hands Builder.weight none of its input's tensors would
    read raw 0..255 values unscaled: building its pipeline fails instead."""
    from impls import halide_pipeline as hp

    monkeypatch.setattr("impls.halide_algorithm._SCALES_WEIGHTS", ("relu",))
    relu_first = ((LayerSpec("first", "relu"), (9, 9, 2)), (LayerSpec("gap", "global_avg_pool"), (9, 9, 2)))
    with pytest.raises(RuntimeError, match="relu is in _SCALES_WEIGHTS but gave Builder.weight no tensor"):
        hp.scheduled((9, 9, 2), relu_first, False, "lanes", "uint8")
    hp.scheduled((9, 9, 2), relu_first, False, "lanes", "float32")  # no scaling left to the weights: nothing to check


def test_other_pixel_types_are_refused():
    from impls import halide_pipeline as hp

    m = NumpyModel(_weights(EVERY_KIND, 11))
    with pytest.raises(ValueError, match="takes float32 or uint8 images, not int16"):
        m._halide_forward()(np.zeros((16, *EVERY_KIND.input_shape), np.int16))
    with pytest.raises(ValueError, match="unknown pixel type 'float64'"):
        hp.scheduled(EVERY_KIND.input_shape, (), True, "lanes", "float64")


def test_unknown_schedule_is_refused():
    from impls import halide_pipeline as hp

    spec = EVERY_KIND
    layers = tuple((layer, tuple(r.input_shape)) for layer, r in zip(spec.layers, spec.summary()) if layer.kind != "batch_norm")
    with pytest.raises(ValueError, match="unknown schedule 'tiles'"):
        hp.compiled(spec.input_shape, layers, True, "tiles")


def test_the_paths_config_is_a_well_formed_fast_config_of_a_saved_run() -> None:
    """What the halide path reports lands in a run file's ``extra_info.fast_config``, which the readers
    check against the pytest-benchmark schema (a 67-character layer note once failed bench-summary)."""
    import jsonschema

    from sepbench.results.formats import schema

    halide_forward = pytest.importorskip("impls.numpy_halide")
    spec = get_model_spec("separable")
    forward = halide_forward.HalideForward(spec, init_weights(spec, 0))
    forward(np.zeros((16, 28, 28, 1), np.float32))
    sub = schema("pytest_benchmark")["$defs"]["benchmark"]["properties"]["extra_info"]["anyOf"][0]["properties"]["fast_config"]
    jsonschema.validate(forward.config(), sub)
    assert re.match(r"halide \d+\.\d+\.\d+, ", forward.config()["kernel"])  # the wheel's version, not "?"
