import math

import numpy as np
import pytest

from sepbench.core.spec import MODELS
from sepbench.core.weights import PortableWeights, WeightsError, init_weights, keras_fans, random_weights


def test_keras_fans():
    assert keras_fans((7, 7, 1, 8)) == (49, 392)
    assert keras_fans((7, 7, 8, 1)) == (392, 49)  # depthwise kernel: receptive field x channels
    assert keras_fans((1, 1, 8, 16)) == (8, 16)  # pointwise
    assert keras_fans((32, 10)) == (32, 10)


@pytest.mark.parametrize("model", list(MODELS))
def test_init_is_glorot_uniform_with_zero_bias(model):
    w = init_weights(model, seed=0)
    assert set(w) == set(MODELS[model].tensor_shapes())
    for name, value in w.items():
        assert value.dtype == np.float32
        if name.endswith("/bias"):
            assert not value.any()
        else:
            fan_in, fan_out = keras_fans(value.shape)
            limit = math.sqrt(6 / (fan_in + fan_out))
            assert np.abs(value).max() <= limit
            if value.size >= 100:  # uniform on [-l, l]: spread close to the limit, std l/sqrt(3)
                assert np.abs(value).max() > 0.9 * limit
                assert abs(value.std() - limit / math.sqrt(3)) < 0.15 * limit


def test_seed_determines_weights():
    assert init_weights("regular", 7).equal(init_weights("regular", 7))
    assert not init_weights("regular", 7).equal(init_weights("regular", 8))


def test_save_load_round_trip_is_bit_exact(tmp_path):
    w = random_weights("separable", 3)
    path = w.save(tmp_path / "w.npz")
    back = PortableWeights.load(path)
    assert back.equal(w)
    assert back.meta["seed"] == 3
    assert back.fingerprint() == w.fingerprint()


def test_mismatched_tensors_rejected():
    w = init_weights("regular", 0)
    with pytest.raises(WeightsError, match="separable"):
        PortableWeights("separable", dict(w.tensors))
    t = dict(w.tensors)
    t["conv1/kernel"] = np.zeros((3, 3, 1, 8), np.float32)
    with pytest.raises(WeightsError, match=r"conv1/kernel has shape \(3, 3, 1, 8\), expected \(7, 7, 1, 8\)"):
        PortableWeights("regular", t)
    t = dict(w.tensors)
    t["dense/bias"] = np.full(10, np.nan, np.float32)
    with pytest.raises(WeightsError, match="NaN"):
        PortableWeights("regular", t)


def test_unreadable_files_rejected(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        PortableWeights.load(tmp_path / "none.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(WeightsError, match="is not an .npz archive"):
        PortableWeights.load(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(WeightsError, match="not a sepbench portable weights file"):
        PortableWeights.load(foreign)
    w = init_weights("regular", 0)
    good = w.save(tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WeightsError, match="truncated.npz"):
        PortableWeights.load(truncated)


def _npz_with(path, **arrays):
    import numpy as np

    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case", ["npy", "text", "strings", "huge-header", "directory", "pickle"])
def test_bad_weights_files_are_a_weights_error_naming_the_file(tmp_path, case):
    """Every malformed file is a WeightsError naming it; none advises allow_pickle or lets MemoryError escape."""
    import io
    import json as _json
    import pickle

    import numpy as np

    from sepbench.core.weights import META_KEY

    path = tmp_path / "w.npz"
    if case == "npy":
        with open(path, "wb") as fh:
            np.save(fh, np.zeros(3, np.float32))
    elif case == "text":
        path.write_text("regular weights, trust me\n")
    elif case == "pickle":
        path.write_bytes(pickle.dumps({"conv1/kernel": [1, 2, 3]}))
    elif case == "strings":
        meta = np.array(_json.dumps({"format": "sepbench-portable-weights", "version": 1, "model": "regular"}))
        _npz_with(path, **{META_KEY: meta, "conv1/kernel": np.array(["a", "b"])})
    elif case == "huge-header":
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (1_000_000, 1_000_000)})
        import zipfile

        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("conv1.npy", buf.getvalue() + b"\0" * 64)
        assert path.stat().st_size < 1000
    elif case == "directory":
        path.mkdir()
    with pytest.raises(WeightsError, match=str(path)) as info:
        PortableWeights.load(path)
    assert "allow_pickle" not in str(info.value)


def test_init_weights_needs_a_seed():
    for seed in (None, -1, 1.5, True):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            init_weights("regular", seed)


def test_a_zip_with_a_foreign_member_or_a_scalar_meta_is_a_weights_error(tmp_path):
    import json as _json
    import zipfile

    from sepbench.core.weights import META_KEY

    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(WeightsError, match="'notes.txt' is not a .npy array"):
        PortableWeights.load(path)
    np.savez(path, **{META_KEY: np.array(_json.dumps("just a string"))})
    with pytest.raises(WeightsError, match="bad __meta__ entry|not an object"):
        PortableWeights.load(path)


@pytest.mark.parametrize("case", ["inflates", "members"])
def test_an_archive_that_would_inflate_or_holds_thousands_of_members_is_refused_before_reading(tmp_path, case):
    """A shared or downloaded weights file is outside input: its zip directory is checked first."""
    import zipfile

    from sepbench.core.weights import MAX_ARCHIVE_BYTES, MAX_MEMBERS

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if case == "inflates":  # zeros past the limit: a few hundred KB on disk
            with zf.open("conv1.npy", "w", force_zip64=True) as member:
                block = b"\0" * 2**20
                for _ in range(MAX_ARCHIVE_BYTES // 2**20 + 1):
                    member.write(block)
        else:
            for i in range(MAX_MEMBERS + 1):
                zf.writestr(f"t{i}.npy", b"")
    assert path.stat().st_size < 2 * 2**20
    # the message is the zip directory's check: nothing was inflated to find it
    with pytest.raises(WeightsError, match="would inflate to 26[0-9],[0-9,]+ bytes|holds 1,001 members") as info:
        PortableWeights.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((10,), (10, 10)),
        ((330, 10), (330, 10)),  # dense: (in, units)
        ((7, 7, 1, 8), (49, 392)),  # conv: receptive field 49 times c_in, c_out
        ((5, 5, 8, 1), (200, 25)),  # a depthwise kernel
        ((3, 1, 16, 1), (48, 3)),  # a spatially separable column kernel
    ],
)
def test_fans_are_keras_compute_fans(shape, fans):
    """keras.src.initializers.random_initializers.compute_fans, worked out by hand for each layout."""
    from sepbench.core.weights import keras_fans

    assert keras_fans(shape) == fans


def test_glorot_limits_zero_biases_and_the_recorded_init():
    """Each kernel uniform within sqrt(6 / (fan_in + fan_out)) (e.g. conv1 of regular: sqrt(6 / 441)),
    biases zero; random_weights adds biases within +-bias_scale, both sides drawn, from seed + 1."""
    import math

    import numpy as np

    from sepbench.core.weights import init_weights, random_weights

    w = init_weights("regular", 3)
    k = w.tensors["conv1/kernel"]
    assert k.dtype == np.float32 and np.abs(k).max() <= math.sqrt(6 / 441) and np.abs(k).max() > 0.9 * math.sqrt(6 / 441)
    assert all(not v.any() for n, v in w.tensors.items() if n.endswith("/bias"))
    assert w.meta == {"init": "keras-glorot-uniform/zeros", "seed": 3}
    r = random_weights("regular", 3, bias_scale=0.5)
    b = np.concatenate([v for n, v in r.tensors.items() if n.endswith("/bias")])
    assert b.min() < -0.25 and b.max() > 0.25 and np.abs(b).max() <= 0.5 and b.dtype == np.float32
    assert r.meta["init"] == "keras-glorot-uniform/random-bias"
    assert np.array_equal(r.tensors["conv1/kernel"], k)  # the kernels are init_weights' own
    expected = np.random.Generator(np.random.PCG64(4)).uniform(-0.5, 0.5, size=8).astype(np.float32)
    assert np.array_equal(r.tensors["conv1/bias"], expected)  # the first bias drawn from seed + 1


def test_a_weights_file_of_the_wrong_format_version_or_with_a_scalar_meta_is_named(tmp_path):
    import json

    import numpy as np

    from sepbench.core.weights import META_KEY, init_weights

    w = init_weights("separable", 0)
    path = w.save(tmp_path / "w.npz")
    loaded = PortableWeights.load(path)
    assert loaded.meta == {"init": "keras-glorot-uniform/zeros", "seed": 0}  # format and version are the file's, not meta
    for meta, message in (
        ({"format": "x", "version": 99, "model": "separable"}, "unsupported format version"),
        (7, "holds a int, not an object"),
    ):
        np.savez(tmp_path / "bad.npz", **{META_KEY: np.array(json.dumps(meta))}, **w.tensors)
        with pytest.raises(WeightsError, match=message):
            PortableWeights.load(tmp_path / "bad.npz")
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(WeightsError, match=r"d.npz is a folder, not a file$"):
        PortableWeights.load(tmp_path / "d.npz")
    with pytest.raises(WeightsError, match=r"does not exist$"):
        PortableWeights.load(tmp_path / "none.npz")


def test_tensors_are_stored_as_contiguous_float32_and_a_missing_or_extra_one_is_named():
    import numpy as np

    from sepbench.core.weights import init_weights

    w = init_weights("separable", 0)
    as64 = {k: np.asfortranarray(v.astype(np.float64)) for k, v in w.tensors.items()}
    p = PortableWeights("separable", as64)
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in p.tensors.values())
    assert all(np.array_equal(p.tensors[k], w.tensors[k]) for k in w.tensors)
    fewer = {k: v for k, v in w.tensors.items() if k != "conv1/bias"}
    with pytest.raises(WeightsError, match=r"missing \['conv1/bias'\], unexpected none$"):
        PortableWeights("separable", fewer)
    with pytest.raises(WeightsError, match=r"missing none, unexpected \['extra/kernel'\]$"):
        PortableWeights("separable", {**w.tensors, "extra/kernel": np.zeros(1, np.float32)})
