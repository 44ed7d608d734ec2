"""Reading saved pytest-benchmark runs: seed-style vs fastest, separable/regular ratios, clear errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sepbench.bench.saved_runs import load_run, separable_ratios, summarize
from sepbench.bench.storage import NoSavedRunError, resolve_run
from sepbench.results.schema import ResultsError


def _bench(backend, model, workload, path, batch, n, median, limit=0.02, **extra):
    return {
        "name": f"test_{workload}[{backend}-{model}-{path}-b{batch}-n{n}]",
        "group": f"{model} x",
        "stats": {"min": median * 0.9, "max": median * 1.2, "mean": median, "median": median, "stddev": 0.0, "iqr": 0.0, "rounds": 5},
        "extra_info": {
            "workload": workload, "backend": backend, "model": model, "path": path, "batch_size": batch,
            "n_images": n, "compute_limit_seconds": limit, **extra,
        },
    }  # fmt: skip


def write_run(storage: Path, number: int, benchmarks: list[dict]) -> Path:
    path = storage / "Linux-CPython-3.11-64bit" / f"{number:04d}_run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine_info": {"cpu_model": "x", "roofline": {"gemm_gflops": 50.0}}, "benchmarks": benchmarks}))
    return path


RUN = [
    _bench("torch", "regular", "evaluate", "default", 32, 10_000, 0.50),
    _bench("torch", "regular", "predict", "default", 1024, 10_000, 0.10),
    _bench("torch", "regular", "predict", "fast", 1024, 10_000, 0.05, batch_free=True),
    _bench("torch", "regular", "predict", "fast", 32, 32, 0.0001),  # not 10k: never "fastest"
    _bench("torch", "separable", "evaluate", "default", 32, 10_000, 0.40),
    _bench("torch", "separable", "predict", "default", 10_000, 10_000, 0.06),
    _bench("torch", "separable", "graph-forward", "graph", 32, 10_000, 0.01),  # not a way to predict: never "fastest"
]


def test_summary_picks_seed_style_and_fastest_and_ratios(tmp_path):
    write_run(tmp_path, 1, RUN[:1])
    newest = write_run(tmp_path, 2, RUN)
    assert resolve_run(tmp_path) == newest
    df, machine = load_run(tmp_path)
    assert machine["roofline"]["gemm_gflops"] == 50.0
    s = summarize(df).set_index("model")
    assert s.loc["regular", "seed_s"] == 0.50 and s.loc["regular", "fastest_s"] == 0.05
    assert s.loc["regular", "fastest_way"] == "fast"  # a batch-free path: no batch size to name
    assert s.loc["regular", "speedup"] == pytest.approx(10.0)
    assert s.loc["regular", "limit_fraction"] == pytest.approx(0.4)
    assert s.loc["separable", "fastest_way"] == "default b10000"
    r = separable_ratios(summarize(df)).set_index("backend")
    assert r.loc["torch", "seed_ratio"] == pytest.approx(0.8)
    assert r.loc["torch", "fastest_ratio"] == pytest.approx(1.2)


def test_clear_errors_for_missing_or_bad_runs(tmp_path):
    with pytest.raises(NoSavedRunError, match="found no saved run"):
        resolve_run(tmp_path)
    with pytest.raises(NoSavedRunError, match="no such benchmark file"):
        resolve_run(tmp_path / "nope")
    with pytest.raises(ResultsError, match="found no saved run"):
        load_run(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ResultsError, match="not a pytest-benchmark JSON"):
        load_run(bad)
    empty = write_run(tmp_path, 1, [])
    with pytest.raises(ResultsError, match="no sepbench benchmarks"):
        summarize(load_run(empty)[0])


def test_bench_summary_command(tmp_path):
    write_run(tmp_path, 1, RUN)
    out = subprocess.run([sys.executable, "-m", "sepbench", "bench-summary", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert re.search(r"│\s+fast\s+│", out.stdout) and "0.050" in out.stdout and "1.20" in out.stdout
    missing = subprocess.run([sys.executable, "-m", "sepbench", "bench-summary", str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "run `nox -s bench` first" in missing.stderr


def _paired(backend, path, reg, sep, ratio, q1, q3, pairs=10):
    return {
        "name": f"test_separable_vs_regular_paired[{backend}-pair-{path}-b1024-n10000]", "group": "separable/regular paired-10k",
        "stats": {"min": reg + sep, "max": reg + sep, "mean": reg + sep, "median": reg + sep, "stddev": 0.0, "iqr": 0.0, "rounds": pairs},
        "extra_info": {"workload": "paired-predict", "backend": backend, "path": path, "batch_size": 1024, "n_images": 10_000,
                       "regular_median_s": reg, "separable_median_s": sep, "ratio_median": ratio, "ratio_q1": q1, "ratio_q3": q3, "pairs": pairs},
    }  # fmt: skip


def test_paired_cases_give_the_paired_ratio_and_stay_out_of_the_fastest_way(tmp_path):
    from sepbench.bench.saved_runs import paired_ratios

    write_run(tmp_path, 1, [*RUN, _paired("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80), _paired("numpy", "fast", 0.08, 0.07, 0.9, 0.85, 0.95)])
    df, _ = load_run(tmp_path)
    p = paired_ratios(df).set_index("backend")
    assert list(p.index) == ["numpy", "torch"] and p.loc["torch", "ratio"] == 0.70 and p.loc["torch", "q3"] == 0.80
    assert p.loc["torch", "regular_s"] == 0.06 and p.loc["torch", "pairs"] == 10
    s = summarize(df).set_index("model")  # a pair's time (0.10 s) is no model's way to predict
    assert s.loc["regular", "fastest_s"] == 0.05 and set(s.index) == {"regular", "separable"}
    out = subprocess.run([sys.executable, "-m", "sepbench", "bench-summary", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "alternating pairs" in out.stdout and re.search(r"torch\s+│\s+fast\s+│\s+0\.060\s+│\s+0\.040\s+│\s+0\.70\s+│\s+0\.65-0\.80", out.stdout)
    assert paired_ratios(summarize(df)).empty  # no paired columns: an empty table, not an error
