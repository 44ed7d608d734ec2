"""A pair's own data files (IDX or .npz, each with its sha256): read, checked, trained and evaluated on.

The data is real: subsets of MNIST written as a user would (IDX files gzip-compressed like MNIST's; an
.npz of 14x14 images, MNIST averaged over 2x2 blocks, so the shapes are not MNIST's)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from sepbench.core.data import load_mnist_raw
from sepbench.core.pair_data import IDX_ROLES
from sepbench.core.pairs import PairError, load_pair_file

LAYERS = """\
[baseline]
name = "{prefix}-conv"
layers = [
  {{ name = "c", kind = "conv", filters = 4, kernel = 3, stride = 2 }},
  {{ name = "gap", kind = "global_avg_pool" }},
  {{ name = "dense", kind = "dense", filters = 10, activation = "softmax" }},
]

[candidate]
name = "{prefix}-sep"
layers = [
  {{ name = "c", kind = "separable_conv", filters = 4, kernel = 3, stride = 2 }},
  {{ name = "gap", kind = "global_avg_pool" }},
  {{ name = "dense", kind = "dense", filters = 10, activation = "softmax" }},
]
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


@pytest.fixture(scope="module")
def subsets(mnist_dir):
    train = load_mnist_raw("train", mnist_dir)
    test = load_mnist_raw("test", mnist_dir)
    return (train[0][:3000], train[1][:3000]), (test[0][:200], test[1][:200])


def _idx_pair(tmp_path: Path, subsets, name: str = "idx-digits", epochs: int = 1) -> Path:
    (xtr, ytr), (xte, yte) = subsets
    arrays = dict(zip(IDX_ROLES, (xtr, ytr, xte, yte)))
    lines = ["[pair]", f'name = "{name}"', "input_shape = [28, 28, 1]", f"epochs = {epochs}", "", "[pair.data]"]
    for role, array in arrays.items():
        path = tmp_path / f"{role}.idx.gz"
        path.write_bytes(gzip.compress(_idx(array)))
        lines.append(f'{role} = {{ path = "{path.name}", sha256 = "{_sha(path)}" }}')
    toml = tmp_path / f"{name}.toml"
    toml.write_text("\n".join(lines) + "\n\n" + LAYERS.format(prefix=name))
    return toml


def _npz_pair(tmp_path: Path, subsets, name: str = "npz-small") -> Path:
    (xtr, ytr), (xte, yte) = subsets

    def half(x: np.ndarray) -> np.ndarray:  # 28x28 uint8 -> 14x14 float in [0, 1]
        return (x.reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0).astype(np.float32)

    data = tmp_path / "small.npz"
    np.savez(data, x_train=half(xtr), y_train=ytr, x_test=half(xte), y_test=yte)
    toml = tmp_path / f"{name}.toml"
    toml.write_text(
        f'[pair]\nname = "{name}"\ninput_shape = [14, 14, 1]\nepochs = 1\n\n'
        f'[pair.data]\nnpz = {{ path = "small.npz", sha256 = "{_sha(data)}" }}\n\n' + LAYERS.format(prefix=name)
    )
    return toml


def test_idx_files_are_read_checked_and_loaded_as_the_models_take_them(tmp_path, subsets):
    pair = load_pair_file(_idx_pair(tmp_path, subsets))
    assert pair.data == "files" and pair.files is not None and pair.files.format == "idx"
    x, y = pair.files.load("train")
    (xtr, ytr), _ = subsets
    assert x.shape == (3000, 28, 28, 1) and x.dtype == np.float32 and np.array_equal(y, ytr.astype(np.int64))
    assert np.allclose(x[..., 0] * 255.0, xtr)  # uint8 / 255, as MNIST
    xt, yt = pair.files.load("test", limit=50)
    assert xt.shape == (50, 28, 28, 1) and len(yt) == 50


def test_an_npz_of_other_shapes_is_a_pair_of_its_own_shape(tmp_path, subsets):
    pair = load_pair_file(_npz_pair(tmp_path, subsets))
    assert pair.files is not None and pair.files.format == "npz" and pair.baseline.input_shape == (14, 14, 1)
    x, y = pair.files.load("test")
    assert x.shape == (200, 14, 14, 1) and 0.0 <= x.min() and x.max() <= 1.0 and y.dtype == np.int64


def test_a_checksum_mismatch_is_one_error_naming_the_file_the_field_and_its_line(tmp_path, subsets):
    toml = _idx_pair(tmp_path, subsets)
    victim = tmp_path / "test_labels.idx.gz"
    labels = gzip.decompress(victim.read_bytes())
    victim.write_bytes(gzip.compress(labels[:-1] + bytes([(labels[-1] + 1) % 10])))  # one label changed
    with pytest.raises(PairError) as info:
        load_pair_file(toml)
    message = str(info.value)
    line = next(i for i, text in enumerate(toml.read_text().splitlines(), 1) if text.startswith("test_labels"))
    assert message.startswith(f"{toml}:{line}: pair.data.test_labels: {victim}: checksum mismatch: its sha256 is {_sha(victim)}")
    assert "\n" not in message


def test_a_file_changed_after_the_pair_was_read_is_refused_when_loaded(tmp_path, subsets):
    pair = load_pair_file(_npz_pair(tmp_path, subsets))
    np.savez(tmp_path / "small.npz", x_train=np.zeros((2, 14, 14)), y_train=[0, 1], x_test=np.zeros((1, 14, 14)), y_test=[0])
    with pytest.raises(ValueError, match="checksum mismatch"):
        pair.files.load("train")


@pytest.mark.parametrize(
    "mistake, edit, expected",
    [
        ("missing file", lambda d: (d / "small.npz").unlink(), r"pair\.data\.npz: .*small\.npz: no such file"),
        (
            "images of another shape",
            lambda d: np.savez(
                d / "small.npz", x_train=np.zeros((3, 28, 28), np.uint8), y_train=[0, 1, 2], x_test=np.zeros((1, 28, 28)), y_test=[1]
            ),
            r"train images are \(28, 28, 1\), the pair's input_shape is \(14, 14, 1\)",
        ),
        (
            "labels past the classes",
            lambda d: np.savez(
                d / "small.npz", x_train=np.zeros((2, 14, 14), np.uint8), y_train=[0, 10], x_test=np.zeros((1, 14, 14)), y_test=[1]
            ),
            r"train labels run 0\.\.10, the models give 10 classes",
        ),
        ("an array missing", lambda d: np.savez(d / "small.npz", x_train=np.zeros((2, 14, 14))), r"no array y_train, x_test, y_test"),
        (
            "a pickled array",
            lambda d: np.savez(d / "small.npz", x_train=np.array([{}], object), y_train=[0], x_test=[0], y_test=[0]),
            r"not a readable \.npz of plain arrays",
        ),
        (
            "float images out of range",
            lambda d: np.savez(
                d / "small.npz", x_train=np.full((2, 14, 14), 255.0), y_train=[0, 1], x_test=np.zeros((1, 14, 14)), y_test=[1]
            ),
            r"float images must lie in \[0, 1\]",
        ),
    ],
)
def test_data_that_is_not_what_the_models_take_gets_one_error_naming_it(mistake, edit, expected, tmp_path, subsets):
    toml = _npz_pair(tmp_path, subsets)
    edit(tmp_path)
    data = tmp_path / "small.npz"
    if data.exists():  # the mistake is in the content: give the file its new checksum, as its author would
        toml.write_text(re.sub(r'sha256 = "[0-9a-f]+"', f'sha256 = "{_sha(data)}"', toml.read_text()))
    with pytest.raises(PairError, match=expected) as info:
        load_pair_file(toml)
    assert str(info.value).startswith(str(toml)) and "\n" not in str(info.value), mistake


@pytest.mark.parametrize(
    "mistake, old, new, expected",
    [
        ("npz beside IDX files", "[pair.data]\n", '[pair.data]\ntrain_images = { path = "x", sha256 = "' + "0" * 64 + '" }\n', "npz alone"),
        ("no checksum", ', sha256 = "', ', sha257 = "', "pair.data.npz.sha256: 'sha256' is a required property"),
        ("a short checksum", re.compile(r'sha256 = "[0-9a-f]{64}"'), 'sha256 = "abc"', "pair.data.npz.sha256: 'abc' does not match"),
        ("not a table", "[pair.data]\nnpz", "[pair.files]\nnpz", "Additional properties are not allowed"),
    ],
)
def test_a_data_table_with_a_mistake_is_refused_by_name(mistake, old, new, expected, tmp_path, subsets):
    toml = _npz_pair(tmp_path, subsets)
    text = toml.read_text()
    text = old.sub(new, text, count=1) if isinstance(old, re.Pattern) else text.replace(old, new, 1)
    toml.write_text(text)
    with pytest.raises(PairError, match=re.escape(expected)) as info:
        load_pair_file(toml)
    assert str(info.value).startswith(str(toml)), mistake


def test_a_missing_idx_file_role_is_named(tmp_path, subsets):
    toml = _idx_pair(tmp_path, subsets)
    toml.write_text("\n".join(line for line in toml.read_text().splitlines() if not line.startswith("test_images")))
    with pytest.raises(PairError, match="pair.data: missing test_images"):
        load_pair_file(toml)


def test_a_pair_with_data_files_trains_on_them_keys_its_cache_on_them_and_is_evaluated_on_them(tmp_path, subsets, monkeypatch):
    """End to end on the user's files: training (the NumPy trainer, 3 epochs of the 3,000 images), the
    trained-weights cache keyed on the files' checksums, and a paired evaluation on the 200 test images."""
    from sepbench.core.pairs import select_pairs
    from sepbench.measure.paired_workloads import PairedPredictWorkload, PairedTrainWorkload
    from sepbench.training.weights_cache import cache_key

    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    pair = select_pairs([str(_idx_pair(tmp_path, subsets, name="idx-e2e", epochs=3))])[0]
    base, cand = pair.model_names
    assert pair.load_split("test")[0].shape == (200, 28, 28, 1)
    on_mnist = dataclasses.replace(pair, data="mnist", files=None)
    assert cache_key(base, "numpy", pair=pair) != cache_key(base, "numpy", pair=on_mnist)  # keyed on the files
    predict = PairedPredictWorkload("numpy", n_images=200, pair=pair).setup(warmup=0, allow_train=True)
    predict.run()
    info = predict.extra_info()
    assert info["weights_source"] == {base: "trained", cand: "trained"}
    accuracy = info["accuracy"]
    assert set(accuracy) == {base, cand} and all(0.17 < a <= 1.0 for a in accuracy.values()), accuracy  # chance 0.1 (+3 sd at 200 images)
    train = PairedTrainWorkload("numpy", pair=pair).setup(warmup=0)
    train.run()
    assert train.extra_info()[f"{cand}_median_s"] > 0
    assert train.steps_per_epoch == 94  # 3,000 images of the pair's own, in batches of 32 (MNIST's would be 1,875)


def test_the_same_model_name_on_other_data_is_refused_in_one_run(tmp_path, subsets):
    """One run, one model per name (its cases, results and cache entry are keyed by it): two pairs that train a
    model of one name on two data sets are refused together; each alone is fine (a pair is a value)."""
    from sepbench.core.pairs import select_pairs

    first = _idx_pair(tmp_path, subsets, name="idx-twice")
    other = tmp_path / "other"
    other.mkdir()
    (xtr, ytr), test = subsets
    toml = _idx_pair(other, ((xtr[:300], ytr[:300]), test), name="idx-twice2")
    toml.write_text(toml.read_text().replace('name = "idx-twice2-conv"', 'name = "idx-twice-conv"'))
    with pytest.raises(PairError, match="'idx-twice-conv' runs on other data"):
        select_pairs([str(first), str(toml)])
    assert [p.name for p in select_pairs([str(toml)]) + select_pairs([str(first)])] == ["idx-twice2", "idx-twice"]


@pytest.mark.parametrize("damage", ["corrupt gzip", "truncated npz"])
def test_a_broken_archive_is_one_error_naming_it_not_a_traceback(damage, tmp_path, subsets):
    if damage == "corrupt gzip":
        toml = _idx_pair(tmp_path, subsets)
        victim = tmp_path / "test_labels.idx.gz"
        raw = bytearray(victim.read_bytes())
        raw[20:40] = bytes(20)  # inside the deflate stream
    else:
        toml = _npz_pair(tmp_path, subsets)
        victim = tmp_path / "small.npz"
        raw = bytearray(victim.read_bytes()[:-200])
    victim.write_bytes(bytes(raw))
    toml.write_text(re.sub(r'(path = "' + re.escape(victim.name) + r'", sha256 = ")[0-9a-f]+', rf"\g<1>{_sha(victim)}", toml.read_text()))
    with pytest.raises(PairError, match="broken gzip file|not a readable .npz") as info:
        load_pair_file(toml)
    assert str(info.value).startswith(str(toml)), damage


@pytest.mark.parametrize("where", ["../elsewhere.npz", "/etc/passwd"])
def test_a_data_path_outside_the_pair_files_folder_is_refused(where, tmp_path, subsets):
    toml = _npz_pair(tmp_path, subsets)
    toml.write_text(toml.read_text().replace('path = "small.npz"', f'path = "{where}"'))
    with pytest.raises(PairError, match="is outside the pair file's folder"):
        load_pair_file(toml)


def _noise_pair(tmp_path: Path, name: str) -> Path:
    """A pair of MNIST's shape (28x28x1, 10 classes) on an .npz of its own: seeded noise, no MNIST needed."""
    rng = np.random.default_rng(0)
    data = tmp_path / f"{name}.npz"
    np.savez(
        data,
        x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 64),
        x_test=rng.integers(0, 256, (16, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 16),
    )
    toml = tmp_path / f"{name}.toml"
    toml.write_text(
        f'[pair]\nname = "{name}"\ninput_shape = [28, 28, 1]\n\n'
        f'[pair.data]\nnpz = {{ path = "{data.name}", sha256 = "{_sha(data)}" }}\n\n' + LAYERS.format(prefix=name)
    )
    return toml


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino", "litert"])  # the backends with an int8 path
def test_an_int8_native_file_size_is_calibrated_on_the_pairs_own_data_not_mnist(backend, tmp_path, monkeypatch):
    """A user pair of MNIST's shape with its own data: its int8 file, and so the native size its results record,
    is calibrated on its own training images (MNIST is neither on disk nor downloadable here, and never asked for)."""
    from sepbench.core import data
    from sepbench.core.weights import init_weights
    from sepbench.measure.extra_info import workload_extra_info
    from sepbench.measure.workloads import PredictWorkload
    from tests.conftest import backend_or_skip

    backend_or_skip(backend)
    (tmp_path / "no-mnist").mkdir()
    monkeypatch.setenv("SEPBENCH_MNIST_DIR", str(tmp_path / "no-mnist"))
    monkeypatch.setenv("SEPBENCH_OFFLINE", "1")
    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(tmp_path / "cache"))

    def mnist_calibration(*args, **kwargs):
        raise AssertionError("int8 calibrated on MNIST's images, not the pair's")

    monkeypatch.setattr(data, "calibration_images", mnist_calibration)
    pair = load_pair_file(_noise_pair(tmp_path, f"noise-{backend}"))
    spec = pair.candidate
    workload = PredictWorkload(backend, spec.name, batch_size=8, n_images=16, path="int8", pair=pair)
    workload.setup(weights=init_weights(spec, 0), warmup=0)
    assert "int8" in type(workload.instance).approximate_paths
    info = workload_extra_info(workload, None, workload.run(), None)
    saved = workload.instance.save_native(tmp_path / f"int8{type(workload.instance).native_suffixes[0]}", of_path="int8")
    assert info["native_bytes"] == workload.instance.native_bytes(saved) > 0  # the file the int8 path runs
