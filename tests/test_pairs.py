"""Pairs as data (sepbench/core/pairs.py): the built-in pairs' counts against the study's own figures
and hand counts, the example pair files, and a pair file with a mistake of each kind."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from sepbench.core.pairs import PAIRS, PairError, get_pair, load_pair_file
from tests.conftest import REPO

EXAMPLES = REPO / "examples" / "pairs"


def test_the_worked_example_counts_what_the_study_counted():
    """SEED_FACTS: 32 * 3*3*3 * 5*5 = 21,600 multiplications vs 675 + 2,400 = 3,075."""
    pair = PAIRS["example"]
    assert pair.baseline.macs == 32 * 3 * 3 * 3 * 5 * 5 == 21_600
    assert pair.candidate.macs == 3 * 3 * 3 * 5 * 5 + 32 * 3 * 5 * 5 == 3_075
    assert pair.data == "synthetic" and pair.baseline.output_shape == pair.candidate.output_shape == (5, 5, 32)


def test_spatially_separable_layers_are_counted_by_hand():
    """Each k x k convolution as a k x 1 per input channel (rows strided) then a 1 x k across channels:
    params k*c_in + k*c_in*c_out + c_out; MACs out_h*in_w*c_in*k + out_h*out_w*c_in*c_out*k."""
    rows = {r.name: r for r in PAIRS["spatial"].candidate.summary()}
    # conv1: 28x28x1 -> 11x11x8 (k 7, stride 2); conv2: 11x11x8 -> 4x4x16 (k 5, stride 2); conv3: 4x4x16 -> 2x2x32 (k 3)
    for name, (_h_in, w_in, c_in, k, h, w, c) in {
        "conv1": (28, 28, 1, 7, 11, 11, 8),
        "conv2": (11, 11, 8, 5, 4, 4, 16),
        "conv3": (4, 4, 16, 3, 2, 2, 32),
    }.items():
        assert rows[name].output_shape == (h, w, c)
        assert rows[name].params == k * c_in + k * c_in * c + c
        assert rows[name].macs == h * w_in * c_in * k + h * w * c_in * c * k
    assert [rows[n].params for n in ("conv1", "conv2", "conv3")] == [71, 696, 1616]
    assert PAIRS["spatial"].candidate.params == 71 + 696 + 1616 + 330 == 2713
    assert PAIRS["spatial"].baseline.params == 8586  # the study's regular model


def test_the_study_pair_is_the_studys_models():
    pair = PAIRS["study"]
    assert (pair.baseline.params, pair.candidate.params) == (8586, 1427)  # the study's table
    assert (pair.baseline.name, pair.candidate.name) == ("regular", "separable")


@pytest.mark.parametrize("name", ["study", "spatial", "example"])
def test_each_builtin_pair_has_its_example_file(name):
    from_file = load_pair_file(EXAMPLES / f"{name}.toml")
    for a, b in zip(from_file.models, PAIRS[name].models, strict=True):
        assert (a.name, a.layers, a.input_shape) == (b.name, b.layers, b.input_shape)
    assert from_file.data == PAIRS[name].data


def test_the_mobilenet_style_block_pair_reads_and_counts():
    pair = get_pair(str(EXAMPLES / "mobilenet-block.toml"))
    rows = {r.name: r for r in pair.candidate.summary()}  # depthwise 3x3 on 13x13x32, then 1x1 to 64, each + BN + ReLU
    assert (rows["depthwise"].kind, rows["depthwise"].output_shape, rows["depthwise"].macs) == (
        "depthwise_conv",
        (11, 11, 32),
        11 * 11 * 32 * 9,
    )
    assert rows["depthwise"].params == 3 * 3 * 32 + 32 and rows["depthwise_bn"].params == 4 * 32
    assert (rows["pointwise"].kind, rows["pointwise"].output_shape, rows["pointwise"].macs) == ("conv", (11, 11, 64), 11 * 11 * 32 * 64)
    assert rows["pointwise_bn"].params == 4 * 64 and rows["pointwise_bn"].macs == 0
    assert [r.kind for r in pair.candidate.summary()].count("batch_norm") == 3 and pair.candidate.layers[-1].activation == "softmax"
    base = {r.name: r for r in pair.baseline.summary()}
    assert base["block"].macs == 11 * 11 * 64 * 9 * 32 and pair.baseline.params == 19_850 and pair.candidate.params == 3_914
    assert pair.epochs == 2 and pair.ratio("macs") == pytest.approx(331_968 / 2_279_584)


GOOD = """\
[pair]
name = "mine"
input_shape = [28, 28, 1]
data = "synthetic"
[baseline]
name = "a"
layers = [
  { name = "c", kind = "conv", filters = 4, kernel = 3 },
  { name = "gap", kind = "global_avg_pool" },
]

[candidate]
name = "b"
layers = [
  { name = "c", kind = "separable_conv", filters = 4, kernel = 3 },
  { name = "gap", kind = "global_avg_pool" },
]
"""


@pytest.mark.parametrize(
    "mistake, old, new, expected",
    [
        ("unknown layer", 'kind = "separable_conv"', 'kind = "capsule"', ":15: candidate.layers[0].kind: 'capsule' is not one of"),
        (
            "impossible shape",
            'kernel = 3 },\n  { name = "gap"',
            'kernel = 30 },\n  { name = "gap"',
            "baseline: layer 'c': input (28, 28, 1) is too small",
        ),
        ("missing field", "filters = 4, kernel = 3 }", "kernel = 3 }", ":8: baseline.layers[0].filters: 'filters' is a required property"),
        (
            "wrong type",
            "input_shape = [28, 28, 1]",
            'input_shape = [28, "28", 1]',
            ":3: pair.input_shape[1]: '28' is not of type 'integer'",
        ),
        ("unknown key", 'name = "mine"', 'name = "mine"\nseed = 3', "pair: Additional properties are not allowed ('seed' was unexpected)"),
        ("not toml", 'name = "mine"', "name = mine", "not valid TOML: Invalid value (at line 2, column 8)"),
        ("a name that is markup", 'name = "b"', 'name = "b | x"', ":13: candidate.name: 'b | x' does not match"),
        ("two models of one name", 'name = "b"', 'name = "a"', "baseline and candidate are both named 'a'"),
        (
            "a batch norm after no convolution",
            '{ name = "gap", kind = "global_avg_pool" },\n]\n\n[candidate]',
            '{ name = "gap", kind = "global_avg_pool" },\n  { name = "bn", kind = "batch_norm" },\n]\n\n[candidate]',
            "batch_norm 'bn' must come right after a convolution",
        ),
        (
            "softmax not at the end",
            '{ name = "c", kind = "conv", filters = 4, kernel = 3 },',
            '{ name = "c", kind = "conv", filters = 4, kernel = 3 },\n  { name = "s", kind = "softmax" },',
            "layer 's': softmax ends the model, right after a dense layer",
        ),
        (
            "a depthwise conv with filters",
            'kind = "separable_conv", filters = 4, kernel = 3',
            'kind = "depthwise_conv", filters = 4, kernel = 3',
            "a depthwise_conv keeps its input's channels: drop filters",
        ),
        (
            "a pointwise conv of kernel 3",
            'kind = "separable_conv", filters = 4, kernel = 3',
            'kind = "pointwise_conv", filters = 4, kernel = 3',
            "a pointwise_conv has kernel 1",
        ),
        (
            "a pool without a window",
            'kind = "separable_conv", filters = 4, kernel = 3',
            'kind = "avg_pool"',
            "'kernel' is a required property",
        ),
    ],
)
def test_a_pair_file_with_a_mistake_gets_one_clear_error_naming_file_line_and_field(mistake, old, new, expected, tmp_path):
    assert old in GOOD, mistake
    path = tmp_path / "mine.toml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(PairError) as info:
        load_pair_file(path)
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message.strip(), message


def test_the_good_pair_file_reads(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    pair = load_pair_file(path)
    assert pair.name == "mine" and pair.data == "synthetic" and pair.baseline.output_shape == (4,)  # 4 classes: not MNIST


def test_outputs_that_differ_cannot_be_compared(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        GOOD.replace('{ name = "c", kind = "separable_conv", filters = 4', '{ name = "c", kind = "separable_conv", filters = 5')
    )
    with pytest.raises(PairError, match=r"baseline outputs \(4,\), candidate \(5,\)"):
        load_pair_file(path)


def test_spec_prints_a_pair_file_with_its_ratios(capsys):
    from sepbench.cli import main

    assert main(["spec", "--pair", str(EXAMPLES / "example.toml")]) == 0
    out = capsys.readouterr().out
    assert "21,600" in out and "3,075" in out and "0.142" in out and "synthetic input" in out
    assert main(["spec", "--pair", "nope"]) == 2
    assert "unknown pair 'nope'" in capsys.readouterr().err
    assert main(["spec", "--pair", str(Path("/nonexistent/p.toml"))]) == 2
    assert "no such pair file" in capsys.readouterr().err


@pytest.mark.parametrize("stride", [1, 2])
def test_a_spatially_separable_layer_is_the_regular_conv_of_its_rank_1_kernels(stride):
    """The layout the spec documents: each (input, output) channel's k x k kernel is the outer product of
    the channel's column and its row; NumPy's op equals a regular convolution with those kernels, and its
    output shape and MACs are the spec's."""
    import numpy as np

    from impls import numpy_ops as ops
    from sepbench.core.spec import LayerSpec

    rng = np.random.default_rng(0)
    k, c, f = 3, 4, 5
    x = rng.standard_normal((2, 11, 9, c)).astype(np.float32)
    column = rng.standard_normal((k, 1, c, 1)).astype(np.float32)
    row = rng.standard_normal((1, k, c, f)).astype(np.float32)
    bias = rng.standard_normal(f).astype(np.float32)
    full = np.einsum("ac,bcf->abcf", column[:, 0, :, 0], row[0])  # (k, k, C, F), rank 1 per (c, f)
    want = ops.conv2d(x.astype(np.float64), full.astype(np.float64), bias.astype(np.float64), stride)
    got = ops.spatial_separable_conv2d(x, column, row, bias, stride)
    layer = LayerSpec("s", "spatial_separable_conv", f, k, stride)
    assert got.shape[1:] == layer.output_shape((11, 9, c)) == want.shape[1:]
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))
    assert layer.param_shapes((11, 9, c)) == {"column_kernel": column.shape, "row_kernel": row.shape, "bias": bias.shape}


def test_the_line_skips_braces_in_comments_and_strings_and_finds_array_of_tables_layers(tmp_path):
    text = GOOD.replace('[candidate]\nname = "b"', '[candidate]\n# a { brace in a comment\nname = "b"\ndescription = "a {brace} here"')
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('kind = "separable_conv"', 'kind = "capsule"'))
    with pytest.raises(PairError, match=r"mine\.toml:17: candidate\.layers\[0\]\.kind"):
        load_pair_file(path)
    tables = GOOD.split("[candidate]")[0] + textwrap.dedent("""\
        [candidate]
        name = "b"

        [[candidate.layers]]
        name = "c"
        kind = "separable_conv"
        filters = 4
        kernel = 3

        [[candidate.layers]]
        name = "gap"
        kind = "pool"
        """)
    path.write_text(tables)
    with pytest.raises(PairError, match=r"mine\.toml:23: candidate\.layers\[1\]\.kind: 'pool' is not one of"):
        load_pair_file(path)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            '{ name = "gap", kind = "global_avg_pool" },\n]\n\n[candidate]',
            '{ name = "c", kind = "global_avg_pool" },\n]\n\n[candidate]',
            "two layers named 'c'",
        ),
        (
            '{ name = "c", kind = "separable_conv", filters = 4, kernel = 3 },\n  { name = "gap", kind = "global_avg_pool" },',
            '{ name = "gap", kind = "global_avg_pool" },\n  { name = "c", kind = "separable_conv", filters = 4, kernel = 3 },',
            "candidate: layer 'c': a convolution needs an image (height, width, channels), got (1,)",
        ),
    ],
)
def test_what_the_schema_cannot_say_is_checked_by_name(old, new, expected, tmp_path):
    assert old in GOOD
    path = tmp_path / "mine.toml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(PairError, match=re.escape(expected)):
        load_pair_file(path)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_every_example_pair_runs_its_paired_cases_on_a_subset(example, mnist_dir):
    """Each example pair, end to end on a small subset: both models built from the file, two paired rounds
    of NumPy predict (200 images; synthetic input for a synthetic pair) and, with labelled data, two paired
    rounds of NumPy training steps: every figure the verdict needs is there."""
    from sepbench.core.pairs import select_pairs
    from sepbench.measure.paired_workloads import PairedPredictWorkload, PairedTrainWorkload

    pair = select_pairs([str(EXAMPLES / example)])[0]
    predict = PairedPredictWorkload("numpy", path="fast", n_images=200, pair=pair).setup(data_dir=str(mnist_dir), warmup=1)
    predict.run()
    predict.run()
    info = predict.extra_info()
    base, cand = pair.model_names
    assert (info["pair"], info["baseline"], info["candidate"]) == (pair.name, base, cand)
    assert info[f"{base}_median_s"] > 0 and info[f"{cand}_median_s"] > 0 and info["pairs"] == 2
    assert ("accuracy" in info) == (not pair.synthetic)  # synthetic input has no labels
    if pair.synthetic:
        with pytest.raises(ValueError, match="synthetic"):
            PairedTrainWorkload("numpy", pair=pair).setup(data_dir=str(mnist_dir))
        return
    train = PairedTrainWorkload("numpy", pair=pair).setup(data_dir=str(mnist_dir), warmup=0)
    train.run()
    train.run()
    tinfo = train.extra_info()
    assert tinfo["workload"] == "paired-train" and tinfo["steps_per_epoch"] == 1875 and tinfo["pairs"] == 2
    assert 0 < tinfo["ratio_estimate"] and tinfo[f"{base}_median_s"] > 0


def test_a_pair_file_may_not_take_a_built_in_pairs_or_models_name(tmp_path):
    from sepbench.core.pairs import select_pairs

    text = (EXAMPLES / "mobilenet-block.toml").read_text()
    (tmp_path / "study.toml").write_text(text.replace('name = "mobilenet-block"', 'name = "study"'))
    with pytest.raises(PairError, match="a built-in pair has that name"):
        select_pairs([str(tmp_path / "study.toml")])
    (tmp_path / "reg.toml").write_text(text.replace('name = "block-regular"', 'name = "regular"'))
    with pytest.raises(PairError, match="'regular' is a built-in model's"):
        select_pairs([str(tmp_path / "reg.toml")])
    assert select_pairs([str(EXAMPLES / "study.toml")])[0] is PAIRS["study"]  # the example file of a built-in pair is that pair
    with pytest.raises(PairError, match="named twice"):
        select_pairs("study,study")


def test_a_pair_files_epochs_are_its_models_recipe_and_key_their_cache():
    from sepbench.core.pairs import select_pairs
    from sepbench.core.recipe import DEFAULT_RECIPE
    from sepbench.training.weights_cache import cache_key

    pair = select_pairs([str(EXAMPLES / "mobilenet-block.toml")])[0]
    assert pair.epochs == 2 and pair.recipe == DEFAULT_RECIPE.with_(epochs=2) and DEFAULT_RECIPE.epochs != 2
    assert PAIRS["study"].recipe == DEFAULT_RECIPE  # the study's models keep the default recipe (20 epochs)
    assert cache_key("block-regular", "numpy", pair=pair) != cache_key("block-regular", "numpy", recipe=DEFAULT_RECIPE, pair=pair)


def test_a_pair_on_mnist_must_fit_mnist_and_epochs_may_not_retrain_a_built_in_model(tmp_path):
    from sepbench.core.pairs import select_pairs

    text = (EXAMPLES / "mobilenet-block.toml").read_text()
    (tmp_path / "rgb.toml").write_text(text.replace("input_shape = [28, 28, 1]", "input_shape = [32, 32, 3]"))
    with pytest.raises(PairError, match=r"rgb\.toml:\d+: pair\.data: MNIST is 28x28x1 images of 10 classes.*synthetic"):
        load_pair_file(tmp_path / "rgb.toml")
    synthetic = text.replace("input_shape = [28, 28, 1]", "input_shape = [32, 32, 3]").replace('data = "mnist"', 'data = "synthetic"')
    (tmp_path / "rgb-synthetic.toml").write_text(synthetic.replace('name = "mobilenet-block"', 'name = "rgb"'))
    assert load_pair_file(tmp_path / "rgb-synthetic.toml").synthetic
    # the study's regular model against a block of one's own, for 2 epochs: regular trains 20, so refused
    own = text.replace('name = "block-regular"\nlayers = [', 'name = "regular"\nlayers = [')
    (tmp_path / "mixed.toml").write_text(own.replace('name = "mobilenet-block"', 'name = "mixed"'))
    with pytest.raises(PairError, match="another recipe|built-in model"):
        select_pairs([str(tmp_path / "mixed.toml")])


def test_a_model_is_synthetic_only_where_every_pair_with_it_is(tmp_path):
    """A synthetic pair that reuses the study's regular model leaves the study's cases of it labelled."""
    from sepbench.bench.cases import PathCatalog, cases
    from sepbench.core.pairs import PAIRS, Pair
    from sepbench.core.spec import MODELS

    synth = Pair("synth", MODELS["regular"], MODELS["spatial"], "synthetic")
    evaluated = {c.model for c in cases("evaluate-10k", ["numpy"], False, PathCatalog({}), [PAIRS["study"], synth])}
    assert evaluated == {"regular", "separable"}  # spatial is only in the synthetic pair: no evaluate case
    assert not cases("paired-train", ["numpy"], False, PathCatalog({}), [synth])


def test_accuracy_of_synthetic_input_is_none():
    import numpy as np

    from sepbench.measure.extra_info import accuracy_of

    assert accuracy_of(np.full((4, 10), 0.1, np.float32), None) is None


def _two_user_pairs(tmp_path: Path) -> tuple[Path, Path]:
    """Two pair files whose models share their names but not their layers, epochs or data: ``alpha`` on
    MNIST for 2 epochs, ``beta`` (narrower stem) on a data file of its own for 3 epochs."""
    import hashlib

    import numpy as np

    text = (EXAMPLES / "mobilenet-block.toml").read_text().replace('"block-regular"', '"u-base"').replace('"block-separable"', '"u-cand"')
    alpha = tmp_path / "alpha.toml"
    alpha.write_text(text.replace('name = "mobilenet-block"', 'name = "alpha"'))
    rng = np.random.default_rng(0)
    arrays = {f"x_{s}": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for s, n in (("train", 64), ("test", 32))}
    arrays.update({f"y_{s}": rng.integers(0, 10, n) for s, n in (("train", 64), ("test", 32))})
    np.savez(tmp_path / "beta.npz", **arrays)
    sha = hashlib.sha256((tmp_path / "beta.npz").read_bytes()).hexdigest()
    beta = tmp_path / "beta.toml"
    beta.write_text(
        text.replace('name = "mobilenet-block"', 'name = "beta"')
        .replace("epochs = 2", "epochs = 3")
        .replace('data = "mnist"', f'data = {{ npz = {{ path = "beta.npz", sha256 = "{sha}" }} }}')
        .replace("filters = 32", "filters = 16")
    )
    return alpha, beta


def _module_tables() -> dict[str, list[str]]:
    """The names in every dict, list or set at module level of the modules that describe models and pairs."""
    import sepbench.core.pairs
    import sepbench.core.spec
    import sepbench.core.weights

    mods = (sepbench.core.spec, sepbench.core.pairs, sepbench.core.weights)
    return {f"{m.__name__}.{k}": sorted(map(str, v)) for m in mods for k, v in vars(m).items() if isinstance(v, (dict, list, set))}


def test_two_user_pairs_are_values_that_give_the_same_models_recipes_and_data_in_either_order(tmp_path):
    """A pair is a value: two user pairs with models of the same names (other layers, epochs and data) are
    read, built and keyed in one process in both orders, and each gives its own models, recipe and data
    every time; reading them writes no table at module level."""
    import numpy as np

    from impls.registry import get_backend
    from sepbench.core.pairs import select_pairs
    from sepbench.core.weights import init_weights
    from sepbench.training.weights_cache import cache_key

    alpha, beta = _two_user_pairs(tmp_path)
    tables = _module_tables()
    seen: dict[str, tuple] = {}
    for order in ((alpha, beta), (beta, alpha), (alpha, beta)):
        for path in order:
            pair = select_pairs([str(path)])[0]
            base = pair.model("u-base")
            model = get_backend("numpy").build(init_weights(base, 0))
            x = np.zeros((2, 28, 28, 1), np.float32)
            got = (
                [(m.name, m.fingerprint()) for m in pair.models],
                pair.recipe,
                None if pair.files is None else pair.files.key(),
                model.count_params(),
                model.predict(x).shape,
                cache_key("u-base", "numpy", pair=pair),
            )
            assert seen.setdefault(pair.name, got) == got, pair.name
    a, b = seen["alpha"], seen["beta"]
    assert (a[1].epochs, b[1].epochs) == (2, 3) and a[2] is None and b[2] is not None
    assert a[0] != b[0] and a[3] > b[3] and a[5] != b[5]  # beta's narrower stem: fewer parameters, its own cache entry
    assert _module_tables() == tables


def test_a_pair_read_without_its_data_files_is_refused_for_training_and_the_cache(tmp_path, monkeypatch):
    """A pair file read for its models only (``data_files=False``, as the report reads it) has data of its own
    that was not read: training it, or keying its cache, must not quietly use MNIST (and MNIST's key) instead."""
    from sepbench.training.weights_cache import cache_key, cache_path, train_and_cache

    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    _, beta = _two_user_pairs(tmp_path)
    pair = get_pair(str(beta), data_files=False)
    assert pair.data == "files" and pair.files is None
    base = pair.baseline.name
    expected = "pair 'beta': its data files were not read"
    with pytest.raises(PairError, match=expected):
        pair.load_split("train")
    with pytest.raises(PairError, match=expected):
        cache_key(base, "numpy", pair=pair)
    with pytest.raises(PairError, match=expected):
        cache_path(base, "numpy", pair=pair)
    with pytest.raises(PairError, match=expected):
        train_and_cache(base, "numpy", pair=pair, progress=False)
    assert not (tmp_path / "cache").exists()  # nothing trained, nothing written
    assert get_pair(str(beta)).load_split("test")[0].shape == (32, 28, 28, 1)  # read with its data: fine


def test_two_pairs_in_one_run_may_not_give_one_model_name_two_models(tmp_path):
    """Results key a model's cases by its name: in one run (one selection of pairs) a name is one model."""
    from sepbench.core.pairs import select_pairs

    alpha, beta = _two_user_pairs(tmp_path)
    with pytest.raises(PairError, match="'u-base'"):
        select_pairs([str(alpha), str(beta)])


def test_a_pair_models_weights_carry_its_spec_to_a_file_and_back(tmp_path):
    """Weights carry their model's spec (a backend builds from them alone); a file holds only the model's name,
    so a pair's model is read back with its spec and is unknown without it (nothing registered it)."""
    from sepbench.core.weights import PortableWeights, WeightsError, init_weights

    pair = load_pair_file(EXAMPLES / "mobilenet-block.toml")
    weights = init_weights(pair.candidate, 0)
    assert weights.spec is pair.candidate and weights.model == "block-separable" and weights.copy().spec is pair.candidate
    path = weights.save(tmp_path / "w.npz")
    back = PortableWeights.load(path, pair.candidate)
    assert back.equal(weights) and back.spec is pair.candidate
    with pytest.raises(WeightsError, match="unknown model 'block-separable'"):
        PortableWeights.load(path)
