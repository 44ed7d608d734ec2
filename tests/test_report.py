"""``sepbench report`` on real inputs: a reproduce file written with the real schema functions, a
pytest-benchmark run actually executed on real NumPy predictions, and ASV results of a throwaway
ASV project actually run (two commits).  Checks: the tables and notes with each kind missing, no
results at all, malformed and foreign files, no framework imported, and the HTML in headless
Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from sepbench.core.study import MAC_RATIO, STUDY
from tests.browser import dump_dom, require_chromium

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1", **extra}
    env.pop("SEPBENCH_RESULTS_DIR", None)
    return env


# ---------------------------------------------------------------- real inputs

REPRODUCE_ROWS = [
    # figures of the shape `sepbench reproduce` writes (numpy backend: .npz, tensorflow: .h5)
    {
        "backend": "numpy",
        "model": "regular",
        "params": 8586,
        "float32_bytes": 34344,
        "hdf5_bytes": 128_912,
        "native_bytes": 36_120,
        "native_format": ".npz",
        "test_loss": 0.2871,
        "test_accuracy": 0.9203,
        "eval_seconds": 0.412,
        "train_seconds": 30.5,
        "epochs": 5,
        "weights_sha256": "ab" * 32,
    },
    {
        "backend": "numpy",
        "model": "separable",
        "params": 1427,
        "float32_bytes": 5708,
        "hdf5_bytes": 68_712,
        "native_bytes": 7_480,
        "native_format": ".npz",
        "test_loss": 0.3402,
        "test_accuracy": 0.9035,
        "eval_seconds": 0.351,
        "train_seconds": 26.1,
        "epochs": 5,
        "weights_sha256": "cd" * 32,
    },
    {
        "backend": "tensorflow",
        "model": "regular",
        "params": 8586,
        "float32_bytes": 34344,
        "hdf5_bytes": 128_912,
        "native_bytes": 128_912,
        "native_format": ".h5",
        "test_loss": 0.2871,
        "test_accuracy": 0.9203,
        "eval_seconds": 1.21,
        "train_seconds": 30.5,
        "epochs": 5,
        "weights_sha256": "ab" * 32,
    },
    {
        "backend": "tensorflow",
        "model": "separable",
        "params": 1427,
        "float32_bytes": 5708,
        "hdf5_bytes": 68_712,
        "native_bytes": 68_712,
        "native_format": ".h5",
        "test_loss": 0.3402,
        "test_accuracy": 0.9035,
        "eval_seconds": 1.35,
        "train_seconds": 26.1,
        "epochs": 5,
        "weights_sha256": "cd" * 32,
    },
]


@pytest.fixture(scope="session")
def reproduce_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results/ holding one reproduce file written by the real schema functions and real provenance."""
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results

    d = tmp_path_factory.mktemp("reproduce") / "results"
    doc = make_results(
        "reproduce", [dict(r) for r in REPRODUCE_ROWS], collect_provenance(seed=0), recipe={"optimizer": "rmsprop", "epochs": 5}
    )
    write_results(d / "reproduce-20260101T000000Z.json", doc)
    return d


BENCH_FILE = """
import pytest
from sepbench.measure.workloads import EvaluateWorkload, PredictWorkload


def _info(benchmark, w, workload, accuracy, tmp_path):
    median = benchmark.stats.stats.median
    native = w.instance.save_native(tmp_path / "m.npz")
    benchmark.extra_info.update(w.info, workload=workload, images_per_s=w.n_images / median, accuracy=accuracy,
                                native_bytes=native.stat().st_size, native_format=".npz", compute_limit_fraction=None)


@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("model", ["regular", "separable"])
def test_predict_numpy_default(benchmark, model, batch_size, tmp_path):
    benchmark.group = f"{model} batch={batch_size}"
    w = PredictWorkload("numpy", model, batch_size, n_images=64).setup(warmup=1)
    probs = benchmark.pedantic(w.run, rounds=7, iterations=1)
    _info(benchmark, w, "predict", float((probs.argmax(1) == w.labels).mean()), tmp_path)


@pytest.mark.parametrize("model", ["regular", "separable"])
def test_evaluate_numpy_default(benchmark, model, tmp_path):
    benchmark.group = f"{model} evaluate-10k"
    w = EvaluateWorkload("numpy", model).setup(warmup=0)
    ev = benchmark.pedantic(w.run, rounds=2, iterations=1)
    _info(benchmark, w, "evaluate", ev.accuracy, tmp_path)
"""


@pytest.fixture(scope="session")
def bench_dir(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """results/ holding a real pytest-benchmark autosave run (NumPy backend, real MNIST predictions)."""
    work = tmp_path_factory.mktemp("bench")
    (work / "bench_tiny.py").write_text(BENCH_FILE)
    results = work / "results"
    proc = subprocess.run(
        [
            PY,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(work),
            "bench_tiny.py",
            f"--benchmark-storage=file://{results / 'bench'}",
            "--benchmark-autosave",
            "--benchmark-disable-gc",
        ],
        cwd=work,
        env=_env(SEPBENCH_MNIST_DIR=str(mnist_dir), SEPBENCH_CACHE_DIR=str(work / "empty-cache")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list(results.rglob("*.json")), "pytest-benchmark saved nothing"
    return results


ASV_CONF = {
    "version": 1,
    "project": "tiny",
    "repo": ".",
    "environment_type": "existing",
    "benchmark_dir": "benchmarks",
    "results_dir": ".asv/results",
    "html_dir": ".asv/html",
    "branches": ["HEAD"],
}
ASV_BENCH = """
import numpy as np

SCALE = {scale}

class Predict:
    params = (["numpy"], ["regular", "separable"], [1, 8])
    param_names = ["backend", "model", "batch_size"]

    def setup(self, backend, model, batch_size):
        self.a = np.ones((batch_size * SCALE, 64 if model == "regular" else 8))

    def time_predict(self, backend, model, batch_size):
        self.a @ self.a.T

    def track_accuracy(self, backend, model, batch_size):
        return 0.92 if model == "regular" else 0.90
    track_accuracy.unit = "fraction"
"""


@pytest.fixture(scope="session")
def asv_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """.asv/results of a throwaway ASV project really run at two commits (asv 0.6 format)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot make an ASV project")
    try:
        import asv  # noqa: F401
    except ImportError:
        pytest.skip("asv is not installed (pip install asv)")
    proj = tmp_path_factory.mktemp("asvproj")
    (proj / "benchmarks").mkdir()
    (proj / "benchmarks" / "__init__.py").write_text("")
    (proj / "asv.conf.json").write_text(json.dumps(ASV_CONF))
    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "."], cwd=proj, check=True)
    asv_cmd = [PY, "-m", "asv"]
    subprocess.run([*asv_cmd, "machine", "--yes", "--machine", "testbox"], cwd=proj, check=True, capture_output=True, env=_env())
    for scale in (1, 4):
        (proj / "benchmarks" / "bench_tiny.py").write_text(ASV_BENCH.format(scale=scale))
        subprocess.run([*git, "add", "-A"], cwd=proj, check=True)
        subprocess.run([*git, "commit", "-qm", f"scale {scale}"], cwd=proj, check=True)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=proj, check=True, capture_output=True, text=True).stdout.strip()
        proc = subprocess.run(
            [*asv_cmd, "run", "--quick", "--environment", f"existing:{PY}", "--set-commit-hash", head, "--machine", "testbox"],
            cwd=proj,
            capture_output=True,
            text=True,
            env=_env(),
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    root = proj / ".asv" / "results"
    assert len(list((root / "testbox").glob("*-existing*.json"))) == 2
    return root


def _report_cli(results: Path, asv: Path, out: Path) -> subprocess.CompletedProcess:
    """``sepbench report`` run as a user runs it, in a child process."""
    cmd = [PY, "-m", "sepbench", "report", "--results", str(results), "--asv-results", str(asv), "--output", str(out)]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)


def _build(tmp_path: Path, results: list[Path], asv: list[Path] | None = None, this_machine: str | None = None):
    from sepbench.report.build import build_report

    return build_report(results, asv or [tmp_path / "no-asv"], tmp_path / "out", this_machine=this_machine)


# ---------------------------------------------------------------- tests


def test_report_imports_no_framework(reproduce_dir: Path, tmp_path: Path) -> None:
    """Building a report through the CLI imports neither impls/ nor TensorFlow/PyTorch/Keras."""
    code = textwrap.dedent(
        f"""
        import sys
        from sepbench.cli import main
        rc = main(["report", "--results", {str(reproduce_dir)!r}, "--asv-results", {str(tmp_path / "none")!r},
                   "--output", {str(tmp_path / "out")!r}])
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("impls", "tensorflow", "torch", "keras", "jax"))
        # nor what would only slow it: the checks' pytest (the CLI builds the report's parser alone), SciPy (t table)
        slow = sorted(m for m in ("pytest", "scipy") if m in sys.modules)
        print("RC", rc, "BAD", bad, "SLOW", slow)
        """
    )
    proc = subprocess.run([PY, "-c", code], env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RC 0 BAD [] SLOW []" in proc.stdout, proc.stdout[-3000:]
    assert (tmp_path / "out" / "index.html").is_file()


def test_only_reproduce(reproduce_dir: Path, tmp_path: Path) -> None:
    report = _build(tmp_path, [reproduce_dir])
    svm = report.sections["study_vs_measured"].raw
    got = svm[(svm.metric == "params") & (svm.model == "separable") & (svm.backend == "numpy")]
    assert got["measured"].tolist() == [1427] and got["difference"].tolist() == [0]
    acc = svm[(svm.metric == "test_accuracy") & (svm.model == "regular") & (svm.backend == "tensorflow")].iloc[0]
    assert acc["difference"] == pytest.approx(0.9203 - STUDY["test_accuracy"]["regular"])
    # the claims as records: outcome, estimate, interval, n, method, unit, note and the figures (JSON)
    claims = report.sections["claims"].raw
    columns = ["machine", "pair", "backend", "claim", "outcome", "estimate", "low", "high", "n", "method", "unit", "note", "busy", "figures"]  # noqa: E501  # fmt: skip
    assert list(claims.columns) == columns
    tf_rows = claims[claims.backend == "tensorflow"].set_index("claim")
    assert list(tf_rows.index) == ["smaller", "faster", "small_accuracy_cost", "trains_faster"]
    assert set(tf_rows["pair"]) == {"study"}  # a reproduce run names no pair: the study's
    # size: exact counts, the larger of params 1,427 / 8,586 = 0.166 and HDF5 68,712 / 128,912 = 0.533, both below 1
    smaller = tf_rows.loc["smaller"]
    assert smaller["outcome"] == "yes" and smaller["estimate"] == pytest.approx(0.533, abs=5e-4) and smaller["unit"] == "x"
    assert json.loads(smaller["figures"])["params_separable"] == 1427 and json.loads(smaller["figures"])["hdf5_bytes_regular"] == 128_912
    # speed: only two unpaired evaluate times (1.35 s vs 1.21 s), no paired rounds: nothing decides "faster"
    faster = tf_rows.loc["faster"]
    assert faster["outcome"] == "not measured" and pd.isna(faster["estimate"]) and "paired" in faster["note"]
    # accuracy: one seed, 92.03 % - 90.35 % = +1.68 points, inside (0, 5], decided on its point and labelled so
    acc = tf_rows.loc["small_accuracy_cost"]
    assert acc["outcome"] == "yes" and acc["estimate"] == pytest.approx(1.68, abs=1e-6) and acc["n"] == 1
    assert pd.isna(acc["low"]) and pd.isna(acc["high"]) and "1 seed" in acc["method"] and acc["unit"] == "points"
    # the study's own row first, decided on its published points: all three hold; it did not time training
    study = claims[claims.machine == "(the study)"].set_index("claim")
    assert claims["machine"].iloc[0] == "(the study)" and (study["outcome"].drop("trains_faster") == "yes").all()
    assert study.loc["trains_faster", "outcome"] == "not measured"
    assert study.loc["faster", "estimate"] == pytest.approx(1.11 / 1.43) and "published" in study.loc["faster", "method"]
    # the verdict: the study's row, then this machine's (the reproduce file's), every cell the record rendered
    cells = report.sections["verdict"].raw.set_index("backend")
    assert list(cells.index) == ["keras (published)", "numpy", "tensorflow"]
    assert cells.loc["tensorflow", "faster?"].startswith("not measured: ") and "paired" in cells.loc["tensorflow", "faster?"]
    assert cells.loc["tensorflow", "a little accuracy?"] == "yes: +1.68 points, 1 seed"
    assert cells.loc["tensorflow", "smaller?"] == "yes: params 0.166x, hdf5_bytes 0.533x"
    assert cells.loc["tensorflow", "trains faster?"].startswith("not measured: no paired training rounds")
    assert cells.loc["keras (published)", "trains faster?"] == "not measured: the study did not time its training"
    assert any("pytest-benchmark" in m for m in report.missing) and any("ASV" in m for m in report.missing)
    assert report.sections["latency"].raw.empty
    out = tmp_path / "out"
    for name in (
        "index.html",
        "report.md",
        "study_vs_measured.csv",
        "claims.csv",
        "matrix.csv",
        "ratios.csv",
        "accuracy_params.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "latency.png").exists() and not (out / "forest.png").exists()  # no paired rounds: no interval to draw
    md = (out / "report.md").read_text()
    assert "No pytest-benchmark run" in md and "| test_accuracy" in md
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "atomic-write temporaries left behind"
    csv = pd.read_csv(out / "ratios.csv")
    row = csv[(csv.backend == "numpy") & (csv.figure == "eval_seconds")].iloc[0]
    assert row["ratio"] == pytest.approx(0.351 / 0.412) and row["mac_ratio"] == pytest.approx(MAC_RATIO)


def test_only_pytest_benchmark(bench_dir: Path, tmp_path: Path) -> None:
    report = _build(tmp_path, [bench_dir])
    lat = report.sections["latency"].raw
    assert sorted(lat["batch_size"].unique().tolist()) == [1, 16]
    assert set(lat["model"]) == {"regular", "separable"} and (lat["median_s"] > 0).all()
    # figures are the run's own statistics, unchanged
    raw = json.loads(next(bench_dir.rglob("*.json")).read_text())
    b = next(b for b in raw["benchmarks"] if b["extra_info"]["workload"] == "predict")
    row = lat[(lat.model == b["extra_info"]["model"]) & (lat.batch_size == b["extra_info"]["batch_size"])].iloc[0]
    assert row["median_s"] == b["stats"]["median"] and row["iqr_s"] == b["stats"]["iqr"]
    assert row["images_per_s"] == pytest.approx(64 / b["stats"]["median"])
    svm = report.sections["study_vs_measured"].raw
    ev = svm[(svm.metric == "eval_seconds") & (svm.backend == "numpy")]
    assert len(ev) == 2 and (ev["measured"] > 0).all() and set(ev["source"]) == {"pytest-benchmark"}
    # untrained weights: accuracy not compared with the study, and the report says so
    assert svm[svm.metric == "test_accuracy"]["measured"].isna().all()
    assert any("seeded-init" in m for m in report.missing)
    assert any("sepbench reproduce" in m for m in report.missing)
    ratios = report.sections["ratios"].raw
    assert {"latency_s batch=1", "latency_s batch=16", "eval_seconds"} <= set(ratios["figure"])
    assert (tmp_path / "out" / "latency.png").stat().st_size > 0


def test_nothing_at_all_exits_nonzero_with_help(tmp_path: Path) -> None:
    empty = tmp_path / "results"
    empty.mkdir()
    proc = _report_cli(empty, tmp_path / "asv", tmp_path / "out")
    assert proc.returncode != 0
    assert str(empty) in proc.stderr and "does not exist" in proc.stderr
    assert "sepbench reproduce" in proc.stderr and "nox -s bench" in proc.stderr and "nox -s asv" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "index.html").exists()


def test_default_directories(reproduce_dir: Path, tmp_path: Path) -> None:
    """Without options: $SEPBENCH_RESULTS_DIR (results_dir()) and ./.asv/results, output ./reports."""
    proc = subprocess.run(
        [PY, "-m", "sepbench", "report"],
        cwd=tmp_path,
        env={**_env(), "SEPBENCH_RESULTS_DIR": str(reproduce_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "reports" / "index.html").is_file()
    assert "The study vs our measurements" in proc.stdout and "8,586" in proc.stdout


def test_malformed_and_foreign_files_are_named_and_skipped(reproduce_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(reproduce_dir, results)
    (results / "broken.json").write_text('{"schema": "sepbench-results", "rows": [')
    (results / "foreign.json").write_text(json.dumps({"hello": "world"}))
    (results / "sub").mkdir()
    (results / "sub" / "future.json").write_text(
        json.dumps({"schema": "sepbench-results", "version": 99, "kind": "reproduce", "provenance": {}, "rows": []})
    )
    (results / "sub" / "bad-bench.json").write_text(json.dumps({"machine_info": {}, "benchmarks": [{"name": "x"}]}))
    (results / "list.json").write_text("[1, 2, 3]")
    proc = _report_cli(results, tmp_path / "none", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "out" / "index.html").read_text()
    for name in ("broken.json", "foreign.json", "future.json", "bad-bench.json", "list.json"):
        assert f"warning: skipped {results}" in proc.stderr and name in proc.stderr, name
        assert name in html, name
    assert "not valid JSON" in proc.stderr and "unsupported sepbench result version 99" in proc.stderr
    assert "reproduce-20260101T000000Z.json" not in proc.stderr  # the good file was read
    assert "8,586" in proc.stdout


def test_asv_history(asv_results: Path, tmp_path: Path) -> None:
    report = _build(tmp_path, [tmp_path / "no-results"], [asv_results])
    hist = report.sections["history"].raw
    assert hist["commit"].nunique() == 2
    assert set(hist["metric"]) == {"latency_s", "accuracy"}
    assert len(hist[hist.metric == "latency_s"]) == 2 * 2 * 2  # commits x models x batch sizes
    assert (tmp_path / "out" / "history.png").stat().st_size > 0
    wide = pd.read_csv(tmp_path / "out" / "history.csv")
    assert len(wide) == len(hist)
    assert any("one machine only" in m for m in report.missing)
    # ASV's predict timings feed the latency table when no pytest-benchmark run exists
    lat = report.sections["latency"].raw
    assert set(lat["source"]) == {"asv"} and len(lat) == 4


def test_asv_dir_found_inside_results(asv_results: Path, tmp_path: Path) -> None:
    """An ASV results tree inside a results directory is recognised, not reported as foreign."""
    results = tmp_path / "results"
    shutil.copytree(asv_results, results / "asv")
    report = _build(tmp_path, [results])
    assert not report.warnings
    assert report.loaded.kinds() == {"asv"}


def test_several_machines(reproduce_dir: Path, tmp_path: Path) -> None:
    from sepbench.results.schema import read_results, write_results

    results = tmp_path / "results"
    shutil.copytree(reproduce_dir, results)
    doc = read_results(next(results.glob("reproduce-*.json")))
    doc["provenance"]["machine"]["machine_name"] = "other-box"
    for row in doc["rows"]:
        row["eval_seconds"] *= 2
    write_results(results / "reproduce-20260102T000000Z.json", doc)
    from sepbench.machine.fingerprint import machine_name

    here = machine_name()
    report = _build(tmp_path, [results], this_machine=here)  # as `sepbench report` passes it
    machines = report.sections["machines"].raw
    assert "other-box" in machines.columns
    ev = machines[(machines.metric == "eval_seconds") & (machines.backend == "numpy") & (machines.model == "regular")].iloc[0]
    assert ev["other-box"] == pytest.approx(2 * 0.412)
    claims = report.sections["claims"].raw
    assert set(claims["machine"]) >= {"other-box", "(the study)"}
    # the verdict is this machine's (the fixture's file was written here, with this machine's name), though
    # other-box's file is newer; other-box has its own section
    assert set(claims["machine"]) == {"(the study)", here, "other-box"}
    assert set(report.sections["verdict"].raw["machine"]) == {"(the study)", here}
    others = report.sections["verdict_other_machines"].raw
    assert set(others["machine"]) == {"other-box"} and set(others["backend"]) == {"numpy", "tensorflow"}
    assert (others["a little accuracy?"] == "yes: +1.68 points, 1 seed").all()  # its figures but for time: 92.03 % - 90.35 %


def test_html_renders_in_headless_chromium(reproduce_dir: Path, bench_dir: Path, asv_results: Path, tmp_path: Path) -> None:
    chromium = require_chromium("the HTML")
    report = _build(tmp_path, [reproduce_dir, bench_dir], [asv_results])
    index = report.files["index.html"]
    n_images = sum(1 for k in report.files if k.endswith(".png"))
    assert n_images == 3 and "forest.png" not in report.files  # no paired rounds in these runs: no interval to draw
    profile = tmp_path / "profile"
    dom = dump_dom(chromium, index.as_uri(), profile)
    n_tables = sum(1 for s in report.sections.values() if s.shown is not None)
    assert n_tables >= 8
    # every image decoded, every table has rows, and the first table on the page is the verdict
    assert f'data-check="images={n_images}/{n_images} tables={n_tables}/{n_tables} first=verdict"' in dom, dom[:500]
    assert dom.index('id="verdict"') < dom.index('id="plots"') < dom.index('id="matrix"')
    assert "8,586" in dom and "1,427" in dom


def test_only_unreadable_files_is_nothing_to_report(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "notes.json").write_text('{"todo": 1}')
    proc = _report_cli(results, tmp_path / "asv", tmp_path / "out")
    assert proc.returncode == 1
    assert "no results to report" in proc.stderr and str(results / "notes.json") in proc.stderr


def test_fast_path_claims_use_the_10k_predict_and_full_test_accuracy() -> None:
    """A path with no Keras-style evaluate: its figure is the fastest 10,000-image predict and accuracy comes from all
    10,000 images; two lone predicts timed apart (no paired rounds) decide no "faster"."""
    import pandas as pd

    from sepbench.report.sections.verdict import claims
    from sepbench.results.verdict import figures

    base = {
        "machine": "m",
        "backend": "torch",
        "path": "fast",
        "workload": "predict",
        "source_kind": "pytest-benchmark",
        "source_file": "run.json",
        "created": "2026-01-01",
        "weights_source": "trained",
        "unit": "",
    }
    rows = []
    for model, times, acc in (("regular", (0.10, 0.06), 0.9127), ("separable", (0.09, 0.07), 0.9009)):
        for batch, t in zip((32, 10_000), times):
            rows.append(
                {**base, "model": model, "batch_size": batch, "n_images": 10_000, "metric": "latency_s", "stat": "median", "value": t}
            )
            rows.append(
                {**base, "model": model, "batch_size": batch, "n_images": 10_000, "metric": "accuracy", "stat": "value", "value": acc}
            )
        rows.append({**base, "model": model, "batch_size": 1, "n_images": 1, "metric": "accuracy", "stat": "value", "value": 1.0})
        rows.append(
            {
                **base,
                "model": model,
                "batch_size": 1,
                "n_images": 1,
                "metric": "params",
                "stat": "value",
                "value": 8586 if model == "regular" else 1427,
            }
        )
    fig = figures(pd.DataFrame(rows))
    t = fig[fig.metric == "predict_10k_seconds"].set_index("model")["value"]
    assert t["regular"] == 0.06 and t["separable"] == 0.07  # the fastest batch, per model
    acc = fig[fig.metric == "test_accuracy"].set_index("model")["value"]
    assert acc["regular"] == 0.9127 and acc["separable"] == 0.9009  # not the 1-image accuracy
    verdicts = claims(pd.DataFrame(rows)).set_index(["backend", "claim"])
    assert verdicts.loc[("torch (fast)", "faster"), "outcome"] == "not measured"  # 0.07 s vs 0.06 s, but not paired
    assert pd.isna(verdicts.loc[("torch (fast)", "faster"), "estimate"])
    acc = verdicts.loc[("torch (fast)", "small_accuracy_cost")]  # 91.27 % - 90.09 % = +1.18 points, one seed
    assert acc["outcome"] == "yes" and acc["estimate"] == pytest.approx(1.18, abs=1e-6) and acc["n"] == 1
    assert json.loads(acc["figures"]) == {"accuracy_regular": 0.9127, "accuracy_separable": 0.9009}
    assert verdicts.loc[("torch (fast)", "smaller"), "outcome"] == "not measured"  # no file size measured


def test_evaluate_vs_study_takes_keras_evaluate_apart() -> None:
    """Study-style evaluation beside the study's; for TensorFlow the measured floor, graph and rest, and a 'why'."""
    import pandas as pd

    from sepbench.report.sections.study import evaluate_vs_study

    base = {
        "machine": "m",
        "path": "default",
        "source_kind": "pytest-benchmark",
        "source_file": "run2.json",
        "created": "2026-01-02",
        "weights_source": "trained",
        "unit": "seconds",
        "batch_size": 32,
        "n_images": 10_000,
    }
    rows = []
    for backend, model, seconds in (("tensorflow", "regular", 1.20), ("tensorflow", "separable", 1.50), ("torch", "separable", 0.50)):
        rows.append(
            {
                **base,
                "backend": backend,
                "model": model,
                "workload": "evaluate",
                "metric": "eval_seconds",
                "stat": "median",
                "value": seconds,
            }
        )
    for model, graph in (("regular", 0.35), ("separable", 0.60)):
        g = {**base, "backend": "tensorflow", "path": "graph", "model": model, "workload": "graph-forward"}
        rows.append({**g, "metric": "latency_s", "stat": "median", "value": graph})
        rows.append({**g, "metric": "keras_evaluate_floor_s", "stat": "value", "value": 0.50})
    # an older run of the same machine: its figures must not be mixed into the newer run's anatomy
    old = {**base, "source_file": "run1.json", "created": "2026-01-01"}
    rows.append(
        {
            **old,
            "backend": "tensorflow",
            "model": "separable",
            "workload": "evaluate",
            "metric": "eval_seconds",
            "stat": "median",
            "value": 9.0,
        }
    )
    rows.append(
        {
            **old,
            "backend": "tensorflow",
            "path": "graph",
            "model": "separable",
            "workload": "graph-forward",
            "metric": "latency_s",
            "stat": "median",
            "value": 5.0,
        }
    )
    df = pd.DataFrame(rows)
    table = evaluate_vs_study(df).set_index(["backend", "model"])
    tf_reg, tf_sep, torch_sep = (
        table.loc[("tensorflow", "regular")],
        table.loc[("tensorflow", "separable")],
        table.loc[("torch", "separable")],
    )
    assert tf_reg["beats_study"] == True and tf_sep["beats_study"] == False and torch_sep["beats_study"] == True  # noqa: E712  1.43 / 1.11 s
    assert abs(tf_sep["rest_s"] - (1.50 - 0.50 - 0.60)) < 1e-12 and abs(tf_sep["ms_per_step"] - 1.50 / 313 * 1e3) < 1e-9
    assert "0.50 s (1.60 ms/step" in tf_sep["why"] and "1.71x the regular one's time for 0.129x the MACs" in tf_sep["why"]
    assert torch_sep["why"].startswith("beats the study's 1.11 s") and pd.isna(torch_sep["keras_floor_s"])
    assert tf_sep["source"] == "pytest-benchmark run2.json"
    # the graph-forward case is not an inference path of its own in the other tables
    from sepbench.report.sections.speed import latency
    from sepbench.report.sections.verdict import claims

    assert "tensorflow (graph)" not in set(claims(df)["backend"]) and "tensorflow (graph)" not in set(latency(df)["backend"])


def test_roofline_table_uses_the_probe_of_the_run_that_measured_the_time(tmp_path: Path) -> None:
    import pandas as pd

    from sepbench.report.sections.speed import roofline
    from sepbench.results.read_pytest_benchmark import load_pytest_benchmark

    doc = {
        "machine_info": {"node": "m", "roofline": {"gemm_gflops": 100.0, "mem_bandwidth_gbs": 10.0}},
        "commit_info": {},
        "datetime": "2026-01-01",
        "benchmarks": [
            {
                "name": f"t[{model}]",
                "group": "g",
                "stats": {"median": t, "min": t, "max": t, "mean": t},
                "extra_info": {
                    "workload": "predict",
                    "backend": "torch",
                    "model": model,
                    "path": "fast",
                    "batch_size": 1024,
                    "n_images": 10_000,
                    "weights_source": "trained",
                },
            }
            for model, t in (("regular", 0.05), ("separable", 0.04))
        ],
    }
    doc["benchmarks"][1]["extra_info"]["fast_config"] = {
        "memory_format": "channels_last",
        "chunk": 2048,
        "layers": {"conv1": "fold", "conv2": "split"},
    }
    rows = load_pytest_benchmark(doc, tmp_path / "run.json")
    assert {r["metric"] for r in rows if r["workload"] == "roofline"} == {"roofline_gemm_gflops", "roofline_mem_gbs"}
    table = roofline(pd.DataFrame(rows)).set_index("model")
    limit = 2 * 117_384 * 10_000 / 100e9  # 23.5 ms
    assert abs(table.at["regular", "compute_limit_s"] - limit) < 1e-12
    assert abs(table.at["regular", "x_limit"] - 0.05 / limit) < 1e-9 and table.at["regular", "backend"] == "torch (fast)"
    assert abs(table.at["separable", "x_limit"] - 0.04 / (2 * 15_089 * 10_000 / 100e9)) < 1e-9
    assert table.at["separable", "chosen"] == "channels_last, chunk 2048; conv1 fold, conv2 split"
    assert table.at["regular", "chosen"] == ""  # a run that recorded no choice
    assert roofline(pd.DataFrame([r for r in rows if r["workload"] != "roofline"])).empty  # no probe: no row
    assert set(table["floor_source"]) == {""}  # a run from before the probe named its sources
    # issue 38: the table names the GEMM source that set the compute floor (machine_info.roofline.compute)
    doc["machine_info"]["roofline"]["compute"] = {"gemm_gflops_by_source": {"numpy": 90.0, "torch": 100.0}, "floor_source": "torch"}
    named = roofline(pd.DataFrame(load_pytest_benchmark(doc, tmp_path / "run.json"))).set_index("model")
    assert (
        list(named["floor_source"]) == ["torch", "torch"]
        and list(named.columns).index("floor_source") == list(named.columns).index("gemm_gflops") + 1
    )
    doc["machine_info"]["roofline"]["compute"]["floor_source"] = "line\nbreak"  # a table cell: one line or the file is refused
    from sepbench.results.schema import ResultsError

    with pytest.raises(ResultsError, match=r"floor_source"):
        load_pytest_benchmark(doc, tmp_path / "run.json")


def test_describe_config_of_each_backends_fast_path() -> None:
    from sepbench.results.read_pytest_benchmark import describe_config

    assert (
        describe_config({"chunk": 512, "layers": {"conv1": "rows+b", "gap+dense": "fused"}}) == "chunk 512; conv1 rows+b, gap+dense fused"
    )
    assert describe_config({"chunk": 1024, "parallel_chunk": 5000, "xla": False, "layers": {}}) == "chunk 1024"
    assert describe_config(None) is None and describe_config({}) is None and describe_config("junk") is None


def test_paired_cases_give_their_own_table_and_decide_faster_for_a_fast_path(tmp_path: Path) -> None:
    """A paired case's stats time a whole pair (no model's latency); its medians and per-pair ratio
    make section 2e, and its ratio's 95 % interval decides "faster" for a path that has no Keras-style
    evaluate: below the band 0.95-1.05 yes, inside it a tie, straddling it or without an interval inconclusive."""
    import pandas as pd

    from sepbench.report.sections.speed import latency, paired, ratios
    from sepbench.report.sections.verdict import claims, verdict
    from sepbench.results.read_pytest_benchmark import load_pytest_benchmark

    def case(path: str, reg: float, sep: float, ratio: float, q1: float, q3: float, interval: tuple | None = None) -> dict:
        estimate = {}
        if interval is not None:  # what a paired case records since its rounds carry a 95 % interval
            estimate = dict(zip(("ratio_estimate", "ratio_low", "ratio_high"), interval))
            estimate["ratio_method"] = "median of 12 paired rounds, 95 % percentile bootstrap"
        return {
            "name": f"test_separable_vs_regular_paired[torch-pair-{path}-b1024-n10000]",
            "group": "separable/regular paired-10k",
            "stats": {"median": reg + sep, "min": reg + sep, "max": reg + sep, "mean": reg + sep},
            "extra_info": {
                "workload": "paired-predict",
                "backend": "torch",
                "path": path,
                "batch_size": 1024,
                "n_images": 10_000,
                "weights_source": {"regular": "trained", "separable": "trained"},
                "regular_median_s": reg,
                "separable_median_s": sep,
                "ratio_median": ratio,
                "ratio_q1": q1,
                "ratio_q3": q3,
                "pairs": 12,
                **estimate,
            },
        }

    fast_10k = [
        {
            "name": f"t[{m}]",
            "group": "g",
            "stats": {"median": t, "min": t, "max": t, "mean": t},
            "extra_info": {
                "workload": "predict",
                "backend": "torch",
                "model": m,
                "path": "fast",
                "batch_size": 1024,
                "n_images": 10_000,
                "weights_source": "trained",
            },
        }
        for m, t in (("regular", 0.050), ("separable", 0.049))
    ]  # a tie, minutes apart
    doc = {
        "machine_info": {"node": "m"},
        "commit_info": {},
        "datetime": "2026-01-01",
        "benchmarks": [
            *fast_10k,
            case("fast", 0.060, 0.040, 0.68, 0.62, 0.75, (0.67, 0.63, 0.72)),
            case("default", 0.07, 0.07, 1.01, 0.97, 1.04, (1.01, 0.98, 1.03)),
        ],
    }
    df = pd.DataFrame(load_pytest_benchmark(doc, tmp_path / "run.json"))
    assert not df[df["workload"].eq("paired-predict")]["metric"].isin(["latency_s", "images_per_s"]).any()  # a pair is no latency
    assert set(latency(df)["backend"]) == {"torch (fast)"}
    table = paired(df).set_index("backend")
    assert table.at["torch (fast)", "ratio"] == 0.68 and table.at["torch (fast)", "q1"] == 0.62 and table.at["torch (fast)", "pairs"] == 12
    assert table.at["torch (fast)", "baseline_s"] == 0.060 and table.at["torch", "candidate_s"] == 0.07
    faster = claims(df).set_index(["backend", "claim"])
    fast = faster.loc[("torch (fast)", "faster")]  # decided by the pairs' interval (0.63-0.72, below 0.95), not the tie of lone cases
    assert fast["outcome"] == "yes" and (fast["estimate"], fast["low"], fast["high"], fast["n"]) == (0.67, 0.63, 0.72, 12)
    assert "paired rounds" in fast["method"] and fast["unit"] == "x"
    figs = json.loads(fast["figures"])
    assert (figs["regular_s"], figs["separable_s"], figs["rounds"], figs["source"]) == (0.060, 0.040, 12, "run.json")
    default = faster.loc[("torch", "faster")]  # the default path's pairs: 0.98-1.03, inside the band
    assert default["outcome"] == "tie" and (default["low"], default["high"]) == (0.98, 1.03)
    cells = verdict(df).set_index("backend")
    assert cells.at["torch (fast)", "faster?"] == "yes: 0.67x [0.63, 0.72], 12 rounds"
    assert cells.at["torch", "faster?"] == "tie: 1.01x [0.98, 1.03], 12 rounds"
    # an interval that straddles the band's lower edge, and a paired run recorded without one: neither decides
    straddles = case("fast", 0.060, 0.055, 0.92, 0.88, 0.99, (0.92, 0.90, 0.99))
    no_interval = case("default", 0.07, 0.05, 0.71, 0.68, 0.74)
    undecided = pd.DataFrame(load_pytest_benchmark({**doc, "benchmarks": [straddles, no_interval]}, tmp_path / "run2.json"))
    undecided = claims(undecided).set_index(["backend", "claim"])
    assert undecided.loc[("torch (fast)", "faster"), "outcome"] == "inconclusive"
    assert (undecided.loc[("torch (fast)", "faster"), "low"], undecided.loc[("torch (fast)", "faster"), "high"]) == (0.90, 0.99)
    assert undecided.loc[("torch", "faster"), "outcome"] == "inconclusive"  # 0.71x far below the band, but no interval
    assert undecided.loc[("torch", "faster"), "estimate"] == 0.71 and pd.isna(undecided.loc[("torch", "faster"), "low"])
    rt = ratios(df)
    row = rt[(rt["backend"] == "torch (fast)") & (rt["figure"] == "paired_10k_seconds")].iloc[0]
    assert abs(row["ratio"] - 0.040 / 0.060) < 1e-12 and row["mac_ratio"] > 0 and row["study_ratio"] > 0
    assert paired(df[~df["workload"].eq("paired-predict")]).empty  # a run without pairs: no section 2e rows


def test_a_subset_run_never_decides_speed_or_accuracy_against_the_study(tmp_path: Path) -> None:
    """Two `reproduce` runs on subsets of MNIST (the hostile case of the robustness issue): the report
    keeps them out of the claims and says why; size, which does not depend on the data, is still decided."""
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results

    results = tmp_path / "results"
    for day, (train, test) in enumerate([(6400, 2000), (64, 64)], start=1):
        rows = [
            dict(r, train_images=train, test_images=test, test_accuracy=0.3 if r["model"] == "separable" else 0.9)
            for r in REPRODUCE_ROWS
            if r["backend"] == "numpy"
        ]
        write_results(
            results / f"reproduce-2026010{day}T000000Z.json",
            make_results("reproduce", rows, collect_provenance(seed=0), recipe={"epochs": 1}),
        )
    report = _build(tmp_path, [results])
    claims = report.sections["claims"].raw
    ours = claims[claims.backend == "numpy"].set_index("claim")
    assert ours.loc["smaller", "outcome"] == "yes" and ours.loc["smaller", "estimate"] == pytest.approx(0.533, abs=5e-4)
    for claim in ("faster", "small_accuracy_cost"):  # a 60-point "cost" from 64 test images is no figure against the study's
        assert ours.loc[claim, "outcome"] == "not comparable" and pd.isna(ours.loc[claim, "estimate"])
        assert ours.loc[claim, "note"].startswith("not comparable with the study") and "subset of MNIST" in ours.loc[claim, "note"]
    assert any("subset of MNIST" in m and "not comparable" in m for m in report.missing)
    # the newest file's own counts: 64 training and 64 test images (not a made-up count)
    assert "trained on 64 of the 60,000 training images" in ours.loc["small_accuracy_cost", "note"]
    assert "measured on 64 of the 10,000 test images" in ours.loc["faster", "note"]
    tidy = pd.read_csv(tmp_path / "out" / "measurements.csv")  # the images each figure was measured on, never a default
    assert set(tidy.loc[tidy.source_kind.eq("reproduce"), "n_images"]) == {2000, 64}


def test_accuracy_over_seeds_is_a_section_and_a_plot_of_points(tmp_path: Path) -> None:
    """A `reproduce --seeds` result: the report's table holds each model's interval from the per-seed
    accuracies (as sepbench.core.seed_stats computes it), and the plot shows them."""
    from sepbench.core.seed_stats import interval
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results

    accs = {"regular": [0.9131, 0.9127, 0.9142], "separable": [0.9009, 0.8991, 0.9020]}
    per_seed = [
        {"seed": s, "model": m, "trainer": "numpy", "test_accuracy": a[s], "test_loss": 0.3, "weights_source": "cache"}
        for m, a in accs.items()
        for s in range(3)
    ]
    doc = make_results("reproduce", [dict(r) for r in REPRODUCE_ROWS], collect_provenance(seed=0), recipe={"epochs": 20})
    doc["seeds"] = {"trainer": "numpy", "seeds": [0, 1, 2], "per_seed": per_seed, "summary": {}}
    write_results(tmp_path / "results" / "reproduce-20260101T000000Z.json", doc)
    report = _build(tmp_path, [tmp_path / "results"])
    table = report.sections["accuracy_seeds"].raw.set_index("model")
    expected = interval(accs["separable"])
    assert table.loc["separable", "seeds"] == 3 and table.loc["separable", "low"] == pytest.approx(expected.low)
    assert table.loc["regular", "per_seed"] == "0.9131 0.9127 0.9142" and table.loc["regular", "study"] == STUDY["test_accuracy"]["regular"]
    assert (tmp_path / "out" / "accuracy_seeds.png").stat().st_size > 0
    claims = report.sections["claims"].raw
    assert not claims["backend"].astype(str).str.contains("seeds").any()  # per-seed rows are no inference path


def test_report_output_never_touches_files_it_did_not_write(reproduce_dir: Path, tmp_path: Path) -> None:
    """A user's files in the output folder survive a build; one that a build would overwrite stops it
    before anything changes; files of the previous build that this one no longer makes are removed."""
    from sepbench.util.ownership import sha256_of_file, unseal

    out = tmp_path / "out"
    out.mkdir()
    (out / "history.csv").write_text("my own notes\n")
    (out / "machines.csv").write_text("mine too\n")
    _build(tmp_path, [reproduce_dir])
    assert (out / "history.csv").read_text() == "my own notes\n" and (out / "machines.csv").read_text() == "mine too\n"
    owned = unseal((out / "sepbench-manifest.json").read_text(), "sepbench-report-files")["files"]
    assert owned["index.html"] == [sha256_of_file(out / "index.html")] and "history.csv" not in owned
    (out / "stale.png").write_bytes(b"x")  # not the report's: left alone by the next build
    before = (out / "index.html").read_bytes()
    (out / "accuracy_params.png").unlink()
    (out / "accuracy_params.png").write_bytes(b"the user's own plot")  # now a user's file where the report writes one
    from sepbench.util.owned_dir import NotOwnedError

    with pytest.raises(NotOwnedError, match="accuracy_params.png"):
        _build(tmp_path, [reproduce_dir])
    assert (out / "accuracy_params.png").read_bytes() == b"the user's own plot" and (out / "index.html").read_bytes() == before
    assert (out / "stale.png").exists() and not [p for p in out.iterdir() if p.name.startswith(".sepbench-build")]


def test_impossible_figures_are_rejected_with_a_warning_not_shown_as_measurements(tmp_path: Path) -> None:
    """Negative seconds, accuracy 7.5, params -1, a zero median: rejected and named; the rest still reported."""
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results

    rows = [dict(r) for r in REPRODUCE_ROWS if r["backend"] == "numpy"]
    rows[0].update(eval_seconds=-0.4, test_accuracy=7.5)
    rows[1].update(params=-1, test_loss=float("inf"))
    write_results(
        tmp_path / "results" / "reproduce-20260101T000000Z.json",
        make_results("reproduce", rows, collect_provenance(seed=0), recipe={"epochs": 20}),
    )
    report = _build(tmp_path, [tmp_path / "results"])
    assert any("rejected 3 impossible figure(s)" in w and "test_accuracy = 7.5 fraction" in w for w in report.warnings), report.warnings
    df = report.loaded.measurements
    assert (
        not ((df["metric"] == "eval_seconds") & (df["value"] <= 0)).any() and df.loc[df["metric"] == "test_accuracy", "value"].le(1).all()
    )
    assert (df["metric"] == "hdf5_bytes").sum() == 2  # the plausible figures of the same rows are kept


def test_one_full_data_run_decides_even_beside_an_old_subset_run(reproduce_dir: Path, tmp_path: Path) -> None:
    """A subset run must not override a full-data run of the same variant (review finding)."""
    import shutil

    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results

    results = tmp_path / "results"
    shutil.copytree(reproduce_dir, results)
    rows = [dict(r, train_images=640, test_images=10_000) for r in REPRODUCE_ROWS if r["backend"] == "numpy"]  # a training subset only
    write_results(
        results / "reproduce-20260102T000000Z.json", make_results("reproduce", rows, collect_provenance(seed=0), recipe={"epochs": 1})
    )
    claims = _build(tmp_path, [results]).sections["claims"].raw
    numpy = claims[claims.backend == "numpy"].set_index("claim")
    assert numpy.loc["faster", "outcome"] == "not measured"  # no paired rounds in either run, but not "not comparable"
    acc = numpy.loc["small_accuracy_cost"]  # the full-data run's one seed: 92.03 % - 90.35 % = +1.68 points
    assert acc["outcome"] == "yes" and acc["estimate"] == pytest.approx(1.68, abs=1e-6) and not acc["note"]


def test_the_report_decides_accuracy_on_the_seeds_interval_like_reproduce(tmp_path: Path) -> None:
    from sepbench.core.seed_stats import summarize_seeds
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results

    accs = {"regular": [0.9131, 0.9127, 0.9142], "separable": [0.9129, 0.9130, 0.9141]}  # no measurable cost
    per_seed = [
        {"seed": s, "model": m, "trainer": "numpy", "test_accuracy": a[s], "test_loss": 0.3} for m, a in accs.items() for s in range(3)
    ]
    doc = make_results("reproduce", [dict(r) for r in REPRODUCE_ROWS], collect_provenance(seed=0), recipe={"epochs": 20})
    doc["seeds"] = {"trainer": "numpy", "seeds": [0, 1, 2], "per_seed": per_seed, "summary": {}}
    write_results(tmp_path / "results" / "reproduce-20260101T000000Z.json", doc)
    claims = _build(tmp_path, [tmp_path / "results"]).sections["claims"].raw
    ours = claims[(claims.claim == "small_accuracy_cost") & (claims.machine != "(the study)")]
    assert len(ours) == 2  # numpy and tensorflow: the seeds decide every backend path of the machine
    # by hand: costs +0.02, -0.03, +0.01 points; mean 0, sd sqrt(0.0014 / 2) = 0.02646, t(2) = 4.303,
    # half-width 4.303 x 0.02646 / sqrt(3) = 0.0657: the interval straddles 0, a cost cannot be told from none
    for r in ours.itertuples():
        assert r.outcome == "inconclusive" and r.n == 3 and "3 seeds" in r.method and r.unit == "points"
        assert r.estimate == pytest.approx(0.0, abs=1e-9)
        assert r.low == pytest.approx(-0.0657, abs=1e-3) and r.high == pytest.approx(0.0657, abs=1e-3)
        assert json.loads(r.figures)["cost_points_per_seed"] == pytest.approx([0.02, -0.03, 0.01])
    # and `reproduce --seeds` decides the same record from the same seeds
    from_reproduce = summarize_seeds(per_seed, STUDY)["claim"]
    assert from_reproduce["outcome"] == "inconclusive"
    for r in ours.itertuples():
        assert (r.estimate, r.low, r.high, r.n) == pytest.approx(tuple(from_reproduce[k] for k in ("estimate", "low", "high", "n")))
        assert r.method == from_reproduce["method"]


def test_a_report_folder_of_an_earlier_version_is_not_taken_for_ours(reproduce_dir: Path, tmp_path: Path) -> None:
    """An old report's marker proves nothing (a user's saved copy carries it too): the build stops, names
    the files in the way, and changes nothing (issue 41)."""
    from sepbench.util.owned_dir import NotOwnedError

    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text('<body data-report="sepbench">OLD-BUILD-MARKER</body>')
    (out / "report.md").write_text("the user's own notes\n")
    with pytest.raises(NotOwnedError, match="index.html, report.md"):
        _build(tmp_path, [reproduce_dir])
    assert "OLD-BUILD-MARKER" in (out / "index.html").read_text() and (out / "report.md").read_text() == "the user's own notes\n"
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "report.md"]


def test_history_wide_has_no_rows_of_combinations_that_hold_no_figure() -> None:
    """Two benchmarks with their own units: two rows, not four (a pivot keeps every level combination)."""
    import pandas as pd

    from sepbench.report.sections.machines import history_wide

    hist = pd.DataFrame(
        [
            {
                "machine": "m",
                "commit": "a" * 40,
                "date": 1,
                "benchmark": "b.time",
                "params": "x",
                "metric": "b.time",
                "value": 1.0,
                "unit": "seconds",
            },
            {
                "machine": "m",
                "commit": "b" * 40,
                "date": 2,
                "benchmark": "b.time",
                "params": "x",
                "metric": "b.time",
                "value": 2.0,
                "unit": "seconds",
            },
            {
                "machine": "m",
                "commit": "b" * 40,
                "date": 2,
                "benchmark": "c.track",
                "params": "x",
                "metric": "c.track",
                "value": 5.0,
                "unit": "MACs",
            },
        ]
    )
    wide = history_wide(hist)
    assert sorted(zip(wide["benchmark"], wide["unit"])) == [("b.time", "seconds"), ("c.track", "MACs")]
    assert wide.loc[wide["benchmark"] == "b.time", "aaaaaaaa"].iloc[0] == 1.0 and pd.isna(
        wide.loc[wide["benchmark"] == "c.track", "aaaaaaaa"].iloc[0]
    )


@pytest.mark.parametrize("claim_key", ["faster", "trains_faster"])
def test_the_forest_plots_legend_hides_no_rows_point(claim_key):
    """Each path's point and interval stays visible: the legend sits where no row is drawn (it once covered
    the last row's point, PyTorch's "trains faster" NO 1.29x, in the lower right corner)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sepbench.core.claims import CLAIMS_BY_KEY, NO, YES, Verdict
    from sepbench.report.forest import Panel, _draw

    rows = [("numpy", Verdict(claim_key, NO, 1.41, 1.29, 1.53)), ("tensorflow", Verdict(claim_key, YES, 0.60, 0.41, 0.90))]
    rows.append(("torch", Verdict(claim_key, NO, 1.29, 1.20, 1.39)))
    fig, ax = plt.subplots(figsize=(5.5, 1.2))
    _draw(ax, Panel(CLAIMS_BY_KEY[claim_key], "t", "study", tuple(rows)))
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    for i, (_, v) in enumerate(rows):
        for x in (v.low, v.estimate, v.high):
            px, py = ax.transData.transform((x, i))
            assert not box.contains(px, py), f"the legend covers row {i} at {x}"
    plt.close(fig)
