"""``bench-summary`` on saved pytest-benchmark runs: study-style vs fastest, separable/regular ratios, clear errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sepbench.bench.storage import NoSavedRunError, resolve_run
from sepbench.results import paired as paired_rules
from sepbench.results import verdict
from sepbench.results.read_pytest_benchmark import read_run
from sepbench.results.schema import ResultsError


def bench_case(backend, model, workload, path, batch, n, median, limit=0.02, **extra):
    return {
        "name": f"test_{workload}[{backend}-{model}-{path}-b{batch}-n{n}]",
        "group": f"{model} x",
        "stats": {"min": median * 0.9, "max": median * 1.2, "mean": median, "median": median, "stddev": 0.0, "iqr": 0.0, "rounds": 5},
        "extra_info": {
            "workload": workload, "backend": backend, "model": model, "path": path, "batch_size": batch,
            "n_images": n, "compute_limit_seconds": limit, **extra,
        },
    }  # fmt: skip


def bench_summary(run: Path) -> subprocess.CompletedProcess:
    """``sepbench bench-summary RUN`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "sepbench", "bench-summary", str(run)], capture_output=True, text=True, timeout=120)


def write_run(storage: Path, number: int, benchmarks: list[dict]) -> Path:
    path = storage / "Linux-CPython-3.11-64bit" / f"{number:04d}_run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine_info": {"cpu_model": "x", "roofline": {"gemm_gflops": 50.0}}, "benchmarks": benchmarks}))
    return path


RUN = [
    bench_case("torch", "regular", "evaluate", "default", 32, 10_000, 0.50),
    bench_case("torch", "regular", "predict", "default", 1024, 10_000, 0.10),
    bench_case("torch", "regular", "predict", "fast", 1024, 10_000, 0.05, batch_free=True),
    bench_case("torch", "regular", "predict", "fast", 32, 32, 0.0001),  # not 10k: never "fastest"
    bench_case("torch", "separable", "evaluate", "default", 32, 10_000, 0.40),
    bench_case("torch", "separable", "predict", "default", 10_000, 10_000, 0.06),
    bench_case("torch", "separable", "graph-forward", "graph", 32, 10_000, 0.01),  # not a way to predict: never "fastest"
]


def test_summary_picks_study_style_and_fastest_and_ratios(tmp_path):
    write_run(tmp_path, 1, RUN[:1])
    newest = write_run(tmp_path, 2, RUN)
    assert resolve_run(tmp_path) == newest
    df, machine = read_run(resolve_run(tmp_path))
    assert machine["roofline"]["gemm_gflops"] == 50.0
    s = verdict.study_vs_fastest(df).set_index("model")
    assert s.loc["regular", "study_style_s"] == 0.50 and s.loc["regular", "fastest_s"] == 0.05
    assert s.loc["regular", "fastest_way"] == "fast"  # a batch-free path: no batch size to name
    assert s.loc["regular", "speedup"] == pytest.approx(10.0)
    # the compute limit at the run's probed 50 GFLOP/s: 2 x 117,384 MACs x 10,000 images / 50e9 = 47 ms
    assert s.loc["regular", "limit_fraction"] == pytest.approx(2 * 117_384 * 10_000 / 50e9 / 0.05)
    assert s.loc["separable", "fastest_way"] == "default b10000"
    r = verdict.separable_ratios(verdict.study_vs_fastest(df)).set_index("backend")
    assert r.loc["torch", "study_style_ratio"] == pytest.approx(0.8)
    assert r.loc["torch", "fastest_ratio"] == pytest.approx(1.2)


def test_clear_errors_for_missing_or_bad_runs(tmp_path):
    with pytest.raises(NoSavedRunError, match="found no saved run"):
        resolve_run(tmp_path)
    with pytest.raises(NoSavedRunError, match="no such benchmark file"):
        resolve_run(tmp_path / "nope")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ResultsError, match="bad.json: not valid JSON"):
        read_run(bad)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(ResultsError, match="not a pytest-benchmark JSON run"):
        read_run(foreign)
    empty = write_run(tmp_path, 1, [])
    with pytest.raises(ResultsError, match="no sepbench benchmark of one model over all 10,000 test images"):
        verdict.study_vs_fastest(read_run(empty)[0])


def test_bench_summary_command(tmp_path):
    write_run(tmp_path, 1, RUN)
    out = bench_summary(tmp_path)
    assert out.returncode == 0, out.stderr
    assert re.search(r"│\s+fast\s+│", out.stdout) and "0.050" in out.stdout and "1.20" in out.stdout
    assert "study-style" in out.stdout and "seed-style" not in out.stdout
    (tmp_path / "empty-storage").mkdir()
    for where in (tmp_path / "x", tmp_path / "empty-storage"):  # no such path; a storage directory without runs
        missing = bench_summary(where)
        assert missing.returncode == 2 and "Traceback" not in missing.stderr and "first" in missing.stderr, missing.stderr
        assert len(missing.stderr.strip().splitlines()) == 1 and missing.stderr.startswith("sepbench bench-summary: error: ")


def paired_case(backend, path, reg, sep, ratio, q1, q3, pairs=10, interval=None):
    """A paired case as the suite saves it; ``interval`` (estimate, low, high): its ratio's 95 % interval
    (without one: a run recorded before the rounds carried an interval)."""
    estimate = {}
    if interval is not None:
        estimate = {**dict(zip(("ratio_estimate", "ratio_low", "ratio_high"), interval)),
                    "ratio_method": f"median of {pairs} paired rounds, 95 % percentile bootstrap"}  # fmt: skip
    return {
        "name": f"test_separable_vs_regular_paired[{backend}-pair-{path}-b1024-n10000]",
        "group": "separable/regular paired-10k",
        "stats": {"min": reg + sep, "max": reg + sep, "mean": reg + sep, "median": reg + sep, "stddev": 0.0, "iqr": 0.0, "rounds": pairs},
        "extra_info": {"workload": "paired-predict", "backend": backend, "path": path, "batch_size": 1024, "n_images": 10_000,
                       "regular_median_s": reg, "separable_median_s": sep, "ratio_median": ratio, "ratio_q1": q1, "ratio_q3": q3,
                       "pairs": pairs, **estimate},
    }  # fmt: skip


def test_paired_cases_give_the_paired_ratio_and_stay_out_of_the_fastest_way(tmp_path):
    pairs = [paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80), paired_case("numpy", "fast", 0.08, 0.07, 0.9, 0.85, 0.95)]
    write_run(tmp_path, 1, [*RUN, *pairs])
    df, _ = read_run(resolve_run(tmp_path))
    p = paired_rules.paired(df).set_index("backend")
    assert list(p.index) == ["numpy", "torch"] and p.loc["torch", "ratio"] == 0.70 and p.loc["torch", "q3"] == 0.80
    assert p.loc["torch", "baseline_s"] == 0.06 and p.loc["torch", "pairs"] == 10 and p.loc["torch", "path"] == "fast"
    # a run from before pairs were data names no pair: it is the study's, regular vs separable
    assert (p.loc["torch", "pair"], p.loc["torch", "baseline"], p.loc["torch", "candidate"]) == ("study", "regular", "separable")
    s = verdict.study_vs_fastest(df).set_index("model")  # a pair's time (0.10 s) is no model's way to predict
    assert s.loc["regular", "fastest_s"] == 0.05 and set(s.index) == {"regular", "separable"}
    out = bench_summary(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "alternating pairs" in out.stdout
    assert re.search(r"study\s+│\s+torch\s+│\s+fast\s+│\s+0\.060\s+│\s+0\.040\s+│\s+0\.70\s+│\s+0\.65-0\.80", out.stdout)
    assert paired_rules.paired(df[~df["workload"].eq("paired-predict")]).empty  # no paired cases: an empty table, not an error


def test_a_run_of_paired_cases_only_prints_the_paired_table(tmp_path):
    write_run(tmp_path, 1, [paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80)])
    out = bench_summary(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "alternating pairs" in out.stdout and "study-style" not in out.stdout and "0.70" in out.stdout
    # the verdict table: a paired ratio recorded without an interval decides nothing, however far below the band
    assert "The verdict of this run" in out.stdout and "inconclusive: 0.70x" in out.stdout and "yes: 0." not in out.stdout
