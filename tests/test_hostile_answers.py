"""Issue 41's remaining silent wrong answers, each refused with a message that names what is wrong: a ref
that is both a branch and a tag, a weights cache entry holding another model's weights, a result row whose
counts contradict the model's spec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sepbench.util.git import GitError, resolve


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t.invalid"}
    import os

    return subprocess.run(["git", *args], cwd=repo, env={**os.environ, **env}, check=True, capture_output=True, text=True).stdout.strip()


def test_a_tag_beside_a_branch_of_the_same_name_is_refused_not_chosen(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "one")
    first = _git(tmp_path, "rev-parse", "HEAD")
    _git(tmp_path, "tag", "main")  # a tag named like the branch, on the first commit
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "two")
    with pytest.raises(GitError, match="both a branch .* and a tag"):
        resolve("main", tmp_path)
    assert resolve("refs/tags/main", tmp_path) == first  # named fully, it is one
    _git(tmp_path, "tag", "-f", "main", "HEAD")  # both on one commit: no ambiguity in what is timed
    assert resolve("main", tmp_path) == _git(tmp_path, "rev-parse", "HEAD")


def test_a_cache_entry_holding_another_models_weights_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sepbench.core.weights import init_weights
    from sepbench.training.weights_cache import cache_path, load_trained_weights

    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(tmp_path))
    entry = cache_path("regular", "numpy")
    entry.parent.mkdir(parents=True)
    init_weights("separable", 0).save(entry)  # the other model's weights copied over the regular model's entry
    with pytest.warns(RuntimeWarning, match="holds the weights of model 'separable', not 'regular'"):
        assert load_trained_weights("regular", "numpy") is None  # trained again, not measured as the regular model
    init_weights("regular", 0).save(entry)
    assert load_trained_weights("regular", "numpy").model == "regular"


def test_a_count_a_models_spec_contradicts_is_dropped_with_a_warning() -> None:
    from sepbench.results.tidy import drop_implausible

    row = {"metric": "params", "model": "separable", "unit": "count", "stat": "value", "source_file": "x.json"}
    kept, warned = drop_implausible([{**row, "value": 1e300}, {**row, "value": 1427.0}, {**row, "model": "mine", "value": 5.0}])
    assert [r["value"] for r in kept] == [1427.0, 5.0]  # a model the spec registry does not hold: not judged here
    assert warned and "params 1e+300 for model 'separable', whose spec has 1,427" in warned[0]


def _data_file(path: Path, role: str):
    import hashlib

    from sepbench.core.pair_data import DataFile

    return DataFile(role, path, hashlib.sha256(path.read_bytes()).hexdigest())


def test_a_gzip_idx_whose_header_asks_beyond_the_budget_is_refused_before_inflating(tmp_path: Path) -> None:
    """A few KB of gzip whose IDX header asks for 9 GB: refused from the header, nothing inflated."""
    import gzip
    import struct

    from sepbench.core.pair_data import MAX_DATA_FILE_BYTES, PairDataError, read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">BBBBIII", 0, 0, 8, 3, 9_000_000, 1000, 1000) + bytes(4096)))
    with pytest.raises(PairDataError, match=rf"asks for \[9000000, 1000, 1000\] .*the budget is {MAX_DATA_FILE_BYTES:,}"):
        read_idx(_data_file(path, "train_images"))
    ok = tmp_path / "ok.gz"
    ok.write_bytes(gzip.compress(struct.pack(">BBBBII", 0, 0, 8, 2, 2, 3) + bytes(range(6))))
    assert read_idx(_data_file(ok, "train_images")).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_an_npz_whose_header_claims_more_than_it_holds_is_refused_before_allocating(tmp_path: Path) -> None:
    import io
    import zipfile

    import numpy as np
    from numpy.lib import format as npy

    from sepbench.core.pair_data import FileData, PairDataError

    member = io.BytesIO()
    npy.write_array_header_1_0(member, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 28, 28)})
    member.write(bytes(784))  # one image's bytes behind a header that claims 10^12
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            zf.writestr(f"{name}.npy", member.getvalue())
    data = FileData("npz", (_data_file(path, "npz"),))
    with pytest.raises(PairDataError, match=r"claims an array of shape \(1000000000000, 28, 28\)"):
        data.load("train")
    np.savez(
        tmp_path / "fine.npz",
        x_train=np.zeros((2, 28, 28), np.uint8),
        y_train=np.array([1, 2]),
        x_test=np.zeros((1, 28, 28), np.uint8),
        y_test=np.array([3]),
    )
    x, y = FileData("npz", (_data_file(tmp_path / "fine.npz", "npz"),)).load("train")
    assert x.shape == (2, 28, 28, 1) and y.tolist() == [1, 2]


def test_the_documented_seed_spread_command_runs_with_a_fresh_cache(tmp_path: Path, mnist_dir: Path) -> None:
    """`reproduce --backends numpy ... --seeds 2` probes every trainer after NumPy ran; TensorFlow's pools
    were fixed by then and the probe ended in a RuntimeError traceback.  The threads are set up front now."""
    import os
    import sys

    env = {**os.environ, "SEPBENCH_CACHE_DIR": str(tmp_path / "cache"), "SEPBENCH_RESULTS_DIR": str(tmp_path / "results")}
    env |= {"SEPBENCH_MNIST_DIR": str(mnist_dir), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "sepbench", "reproduce", "--backends", "numpy", "--epochs", "1", "--limit", "64"]
    cmd += ["--test-limit", "64", "--seeds", "2", "--no-progress"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "Test accuracy over 2 seeds" in proc.stdout


def test_a_chunk_whose_activations_pass_the_batch_budget_is_refused_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    """A pair of a large input (a user's) at the largest chunk the option allows: one call's activations would
    need more than the batch budget; said at once, with the largest chunk that fits."""
    from sepbench.core.budget import MAX_BATCH_BYTES, activation_bytes, check_batch
    from sepbench.core.spec import MODELS

    spec = MODELS["regular"]
    fits = MAX_BATCH_BYTES // activation_bytes(spec)
    check_batch(spec, fits, "--chunk")
    with pytest.raises(ValueError, match=rf"--chunk: {fits + 1:,} images of model 'regular' need .* \(at most {fits:,} images\)"):
        check_batch(spec, fits + 1, "--chunk")


@pytest.mark.parametrize(("option", "field"), [("--limit", "limit"), ("--test-limit", "test_limit")])
def test_a_reproduce_limit_past_the_batch_budget_is_refused_before_any_work(option: str, field: str) -> None:
    """`reproduce --limit N` holds N images at once: held to the batch budget as `profile --chunk` is, in the
    options' check (before MNIST is read or a model trained), naming the option and the most images that fit."""
    from sepbench.core.budget import MAX_BATCH_BYTES, activation_bytes
    from sepbench.core.spec import MODELS
    from sepbench.training.reproduce_options import ReproduceOptions, check_options

    most = MAX_BATCH_BYTES // activation_bytes(MODELS["regular"])
    assert check_options(ReproduceOptions(backends=["numpy"], models=["regular"], **{field: most}))[0] == ["numpy"]
    with pytest.raises(ValueError, match=rf"^{option}: {most + 1:,} images of model 'regular' need .* \(at most {most:,} images\)$"):
        check_options(ReproduceOptions(backends=["numpy"], models=["regular"], **{field: most + 1}))


# ---- a user pair's counts: checked against its pair file where the report is given one, said where not -----

MOBILENET = Path(__file__).resolve().parents[1] / "examples" / "pairs" / "mobilenet-block.toml"


def _count_rows(model: str, params: float, macs: float, source: str = "run.json") -> list[dict]:
    row = {"model": model, "stat": "value", "source_file": source, "backend": "numpy"}
    return [
        {**row, "metric": "params", "value": params, "unit": "parameters"},
        {**row, "metric": "macs_per_image", "value": macs, "unit": "MACs"},
    ]


def test_a_count_no_model_within_the_budget_could_have_is_dropped_whatever_the_model() -> None:
    """A model the report has no spec of still cannot have 10^300 parameters, 12.5 of them, or more than the
    weights budget holds: such a count never decides "smaller"."""
    from sepbench.core.budget import MAX_MACS, MAX_PARAMS
    from sepbench.results.tidy import drop_implausible

    bad = [(1e300, 5.0), (12.5, 5.0), (MAX_PARAMS + 1, 5.0), (5.0, MAX_MACS + 1), (5.0, 2.5)]
    rows = [r for params, macs in bad for r in _count_rows("mine", params, macs)]
    kept, warned = drop_implausible(rows + _count_rows("mine", MAX_PARAMS, MAX_MACS, "fine.json"))
    assert {(r["metric"], r["value"]) for r in kept} == {("params", MAX_PARAMS), ("macs_per_image", MAX_MACS)} | {
        ("params", 5.0),
        ("macs_per_image", 5.0),
    }
    assert len(warned) == 1 and f"params 12.5 for model 'mine' is no whole number in [0, {MAX_PARAMS:,}]" in warned[0], warned
    assert "rejected 5 impossible figure(s)" in warned[0]


def test_the_count_budget_admits_models_at_the_edges_of_the_model_budget() -> None:
    """MAX_MACS is derived (each MAC multiplies one of an image's activation values, patches included, by one
    weight), not fitted: a model at the edge of both budgets stays within it."""
    from sepbench.core import budget
    from sepbench.core.spec import LayerSpec, ModelSpec

    assert (budget.MAX_PARAMS, budget.MAX_MACS) == (2**26, 2**50)  # 256 MiB of float32s; x 64 MiB of them (by hand)
    for spec in (
        ModelSpec("a", (LayerSpec("c", "conv", 4, 1),), (2048, 2048, 4)),  # its input at the activation budget
        ModelSpec("d", (LayerSpec("g", "global_avg_pool"), LayerSpec("d", "dense", 2**24 // 1024 - 1)), (4, 4, 1024)),
        ModelSpec("v", (LayerSpec("c", "separable_conv", 4096, 3, 1),), (64, 64, 16)),
    ):
        budget.check_model(spec)
        assert spec.params <= budget.MAX_PARAMS and spec.macs <= budget.MAX_MACS, (spec.name, spec.macs)


def test_a_user_pairs_counts_are_checked_against_the_pair_file_given_to_the_report(tmp_path: Path) -> None:
    from sepbench.core.pairs import known_specs, load_pair_file
    from sepbench.results.tidy import drop_implausible, unchecked_models

    pair = load_pair_file(MOBILENET)
    base = pair.baseline
    rows = _count_rows(base.name, base.params, base.macs) + _count_rows(base.name, base.params + 1, base.macs, "odd.json")
    kept, warned = drop_implausible(rows)  # no pair file given: nothing to check against, and said
    assert len(kept) == 4 and not warned
    assert unchecked_models(kept) == [base.name]
    kept, warned = drop_implausible(rows, known_specs([pair]))
    assert [r["source_file"] for r in kept if r["metric"] == "params"] == ["run.json"]
    assert len(warned) == 1 and f"params {base.params + 1:,} for model {base.name!r}, whose spec has {base.params:,}" in warned[0]
    assert unchecked_models(kept, known_specs([pair])) == []


def test_a_pair_file_may_not_give_a_built_in_models_name_other_layers_for_the_report(tmp_path: Path) -> None:
    from sepbench.core.pairs import PairError, known_specs, load_pair_file

    text = MOBILENET.read_text().replace('name = "block-regular"', 'name = "regular"')
    (tmp_path / "p.toml").write_text(text)
    with pytest.raises(PairError, match="model name 'regular' is a built-in model's: give yours another name"):
        known_specs([load_pair_file(tmp_path / "p.toml")])
    assert known_specs([load_pair_file(MOBILENET)])["block-regular"].params == load_pair_file(MOBILENET).baseline.params
    other = MOBILENET.read_text().replace('name = "mobilenet-block"', 'name = "other"').replace("filters = 64", "filters = 65")
    (tmp_path / "other.toml").write_text(other)  # another pair file, its models named as the first's, other layers
    with pytest.raises(PairError, match="model 'block-regular' has other layers in an earlier pair"):
        known_specs([load_pair_file(MOBILENET), load_pair_file(tmp_path / "other.toml")])


def test_the_report_says_which_models_counts_it_could_not_check_and_checks_those_of_pair_files_given(tmp_path: Path) -> None:
    """`sepbench report` reads a run of a user pair: without the pair file its counts are the file's own, and the
    report's notes say so (naming the models and --pairs); with it, a contradicting count is dropped, warned."""
    import json

    from sepbench.core.pairs import known_specs, load_pair_file
    from sepbench.report.build import missing_notes
    from sepbench.report.sections.machines import history
    from sepbench.results.sources import load_all

    pair = load_pair_file(MOBILENET)
    case = {"name": "test_predict[x]", "stats": {"median": 0.01, "rounds": 5}}
    extra = {"workload": "predict", "backend": "numpy", "path": "default", "batch_size": 32, "n_images": 32}
    benches = [{**case, "extra_info": {**extra, "model": m.name, "params": m.params + 7, "macs_per_image": m.macs}} for m in pair.models]
    (tmp_path / "run.json").write_text(json.dumps({"machine_info": {"machine_name": "m"}, "benchmarks": benches}))
    loaded = load_all([tmp_path], [])
    assert loaded.measurements["metric"].eq("params").sum() == 2  # kept: nothing to check them against
    note = next(n for n in missing_notes(loaded, history(loaded.measurements)) if "not checked" in n)
    assert "'block-regular', 'block-separable'" in note and "--pairs" in note, note
    loaded = load_all([tmp_path], [], known_specs([pair]))
    assert loaded.measurements["metric"].eq("params").sum() == 0 and loaded.unchecked == []
    assert any("whose spec has" in w for w in loaded.warnings), loaded.warnings
    assert not [n for n in missing_notes(loaded, history(loaded.measurements)) if "not checked" in n]


def test_bench_summary_drops_a_count_a_models_spec_contradicts_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bench-summary decides "smaller" from one run as the report does from all: a count the spec contradicts
    (10^300 parameters for the separable model) is dropped with a line naming it; it once decided "NO"."""
    import json

    from sepbench.cli import main
    from sepbench.results.read_pytest_benchmark import read_run

    case = {"name": "test_predict[x]", "stats": {"median": 0.01, "rounds": 5}}
    extra = {"workload": "predict", "backend": "numpy", "path": "default", "batch_size": 32, "n_images": 10_000}
    counts = {"regular": (8586, 40_000), "separable": (1e300, 10_000)}
    benches = [{**case, "extra_info": {**extra, "model": m, "params": p, "native_bytes": b}} for m, (p, b) in counts.items()]
    run = tmp_path / "0001_run.json"
    run.write_text(json.dumps({"machine_info": {"machine_name": "m"}, "benchmarks": benches}))
    warned: list[str] = []
    df, _ = read_run(run, warned)
    assert df[df["metric"].eq("params")]["model"].tolist() == ["regular"]
    assert warned and "params 1e+300 for model 'separable', whose spec has 1,427" in warned[0]
    assert main(["bench-summary", str(run)]) == 0
    out = capsys.readouterr().out
    assert "params 1e+300 for model 'separable'" in out and "NO: params" not in out, out


def test_profile_images_past_the_batch_budget_are_refused_before_they_are_made(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`profile --images N` holds N images at once (MNIST's tiled past 10,000, a synthetic pair's drawn): 10^6
    of a large pair's input were terabytes.  Held to the batch budget before any image is made."""
    from sepbench.cli import main
    from sepbench.commands import profile
    from sepbench.core.budget import MAX_BATCH_BYTES, activation_bytes
    from sepbench.core.spec import MODELS

    def made(*args: object) -> None:
        raise AssertionError("images made before the budget was checked")

    monkeypatch.setattr(profile, "_images", made)
    most = MAX_BATCH_BYTES // activation_bytes(MODELS["regular"])
    assert main(["profile", "--backends", "numpy", "--images", str(most + 1), "--threads", "1"]) == 2
    assert f"--images: {most + 1:,} images of model 'regular' need" in capsys.readouterr().err


def test_the_report_reads_a_pair_files_models_without_its_data_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The report checks counts against a pair file's models: on a machine without the pair's data files (a
    colleague's results) it reads the models and leaves the data table alone; measuring still needs the files."""
    from sepbench.cli import main
    from sepbench.core.pairs import PairError, get_pair

    table = f'data = {{ npz = {{ path = "gone.npz", sha256 = "{"0" * 64}" }} }}'
    text = MOBILENET.read_text().replace('data = "mnist"', table)
    (tmp_path / "p.toml").write_text(text)
    with pytest.raises(PairError, match="gone.npz"):
        get_pair(str(tmp_path / "p.toml"))
    assert get_pair(str(tmp_path / "p.toml"), data_files=False).baseline.name == "block-regular"
    assert (
        main(
            [
                "report",
                "--pairs",
                str(tmp_path / "p.toml"),
                "--results",
                str(tmp_path / "none"),
                "--asv-results",
                str(tmp_path / "none"),
                "--output",
                str(tmp_path / "r"),
            ]
        )
        == 1
    )
    assert "no results to report" in capsys.readouterr().err  # past the pair file: its data files were not asked for
