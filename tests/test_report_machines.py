"""The report across machines (issue 16): section 3 puts each machine's figures side by side (the
fastest way per backend path, the paired separable/regular ratio, the fraction of the compute limit),
section 3a shows each machine's fingerprint, and ASV results committed under ``history/`` are read
by default, a result also present in ``.asv/results`` once.

Inputs are files in the tools' own formats, written here: pytest-benchmark runs whose
``machine_info`` carries a real :class:`~sepbench.machine.fingerprint.Fingerprint`, and ASV result
folders (results API version 2) whose ``machine.json`` is made from ``sepbench.asv.history.machine_facts``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepbench.core.spec import MODELS
from sepbench.machine.fingerprint import GIB, Fingerprint

REPO = Path(__file__).resolve().parent.parent
TEST_IMAGES = 10_000
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["ram", "num_cpu", "cpu", "memory_bytes", "physical_cores", "machine", "brand", "gemm_gflops", "fingerprint"])
            | st.text(max_size=8),
            inner,
            max_size=4,
        )
    ),
    max_leaves=25,
)

XEON = Fingerprint("x86_64", "GenuineIntel", "Intel(R) Xeon(R) Processor", "6.207", 2, 2, "avx512", 24 * GIB, "linux-debian-12", "")
EPYC = Fingerprint(
    "x86_64", "AuthenticAMD", "AMD EPYC 7763 64-Core Processor", "25.1", 4, 8, "avx2", 16 * GIB, "linux-ubuntu-24.04", "1x NVIDIA H200"
)
ARM = Fingerprint("aarch64", "ARM", "Neoverse-N1", "neoverse-n1", 4, 4, "neon", 8 * GIB, "linux-debian-12", "")
A, B, C = XEON.name(), EPYC.name(), ARM.name()
GEMM = {A: 100.0, B: 400.0}  # each run's probed float32 GEMM GFLOP/s
SCALE = {A: 1.0, B: 0.5}  # machine B takes half machine A's time
PAIR_RATIO = {A: 0.80, B: 0.85}  # the per-pair median separable / regular of numpy's fast path


# ---------------------------------------------------------------- pytest-benchmark runs


def _case(model: str, path: str, batch: int, seconds: float, batch_free: bool = False) -> dict:
    """One benchmark of a 10,000-image NumPy predict, as the suite saves it (stats in seconds)."""
    return {
        "name": f"test_predict[numpy-{model}-{path}-b{batch}-n{TEST_IMAGES}]",
        "group": f"{model} batch={batch}",
        "stats": {"median": seconds, "min": seconds, "max": seconds, "mean": seconds, "q1": seconds, "q3": seconds, "rounds": 5},
        "extra_info": {
            "workload": "predict",
            "backend": "numpy",
            "model": model,
            "path": path,
            "batch_size": batch,
            "n_images": TEST_IMAGES,
            "weights_source": "trained",
            "batch_free": batch_free,
        },
    }


def _paired(reg: float, sep: float, ratio: float) -> dict:
    """The paired separable/regular case of NumPy's fast path (its stats time a whole pair)."""
    return {
        "name": "test_separable_vs_regular_paired[numpy-pair-fast-b1024-n10000]",
        "group": "separable/regular paired-10k",
        "stats": {"median": reg + sep, "min": reg + sep, "max": reg + sep, "mean": reg + sep},
        "extra_info": {
            "workload": "paired-predict",
            "backend": "numpy",
            "path": "fast",
            "batch_size": 1024,
            "n_images": TEST_IMAGES,
            "weights_source": {"regular": "trained", "separable": "trained"},
            "regular_median_s": reg,
            "separable_median_s": sep,
            "ratio_median": ratio,
            "ratio_q1": ratio - 0.05,
            "ratio_q3": ratio + 0.05,
            "pairs": 12,
        },
    }


def _bench_run(fp: Fingerprint) -> dict:
    """A saved run of one machine: NumPy's default path at batch 1024 and 32 (regular fastest at 1024,
    separable at 32), its fast path, and the fast path's pairs; times scaled by ``SCALE``."""
    name, s = fp.name(), SCALE[fp.name()]
    return {
        "machine_info": {
            "node": "vm",  # the host name: every VM has the same one
            "machine_name": name,
            "fingerprint": fp.as_dict(),
            "cpu_model": fp.brand,
            "roofline": {"gemm_gflops": GEMM[name], "mem_bandwidth_gbs": 10.0},
        },
        "commit_info": {"id": "c0ffee", "dirty": False},
        "datetime": "2026-03-01T00:00:00+00:00",
        "benchmarks": [
            _case("regular", "default", 1024, 0.20 * s),
            _case("separable", "default", 1024, 0.22 * s),
            _case("regular", "default", 32, 0.25 * s),
            _case("separable", "default", 32, 0.21 * s),
            _case("regular", "fast", 1024, 0.10 * s, batch_free=True),
            _case("separable", "fast", 1024, 0.08 * s, batch_free=True),
            _paired(0.10 * s, 0.08 * s, PAIR_RATIO[name]),
        ],
    }


def _write_runs(results: Path, *fps: Fingerprint, number: int = 1) -> Path:
    """pytest-benchmark storage under ``results/bench/<machine>/NNNN_<commit>_<date>.json``, one run per machine."""
    for fp in fps:
        path = results / "bench" / fp.name() / f"{number:04d}_c0ffee_20260301_000000.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_bench_run(fp)))
    return results


# ---------------------------------------------------------------- ASV result folders

RESULT_COLUMNS = [
    "result",
    "params",
    "version",
    "started_at",
    "duration",
    "stats_ci_99_a",
    "stats_ci_99_b",
    "stats_q_25",
    "stats_q_75",
    "stats_number",
    "stats_repeat",
    "samples",
    "profile",
]
LATENCY = "predict.PredictLatency.time_predict"
FAST = "predict.PredictFast.time_predict_10k"  # seconds to predict the 10,000 test images on the fast path
RATIO = "predict.SeparableRatio.track_separable_ratio"  # separable / regular in alternating pairs (unitless)
BENCHMARKS = {
    LATENCY: {"name": LATENCY, "type": "time", "unit": "seconds", "param_names": ["backend", "model", "batch_size"], "version": "1"},
    FAST: {"name": FAST, "type": "time", "unit": "seconds", "param_names": ["backend", "model"], "version": "1"},
    RATIO: {"name": RATIO, "type": "track", "unit": "ratio", "param_names": ["backend", "path"], "version": "1"},
    "version": 2,
}
ENV = "existing-py_usr_bin_python3.11"


def _machine_json(fp: Fingerprint, monkeypatch: pytest.MonkeyPatch) -> dict:
    """``machine.json`` as ``sepbench.asv.machine_file`` writes it from ``sepbench.asv.history.machine_facts``
    on a machine with fingerprint ``fp``."""
    import sepbench.machine.fingerprint as fingerprint_module
    from sepbench.asv.history import machine_facts

    monkeypatch.setattr(fingerprint_module, "fingerprint", lambda: fp)
    return machine_facts(fp.name()) | {"version": 1}


def _asv_row(values: tuple[float, ...], params: list[list[str]]) -> list:
    """One benchmark's row of an ASV result file (aligned with ``RESULT_COLUMNS``), quartiles at -10 % / +10 %."""
    n = len(values)
    row = [list(values), params, "1", 0, 1.0, list(values), list(values)]
    return row + [[v * 0.9 for v in values], [v * 1.1 for v in values], [10] * n, [5] * n]


def _write_asv(root: Path, machine: dict, commit: str, day: int, results: dict[str, list]) -> Path:
    """One ASV result file (asv 0.6, API version 2) of ``commit`` dated ``day`` days after 2026-01-01."""
    mdir = root / machine["machine"]
    mdir.mkdir(parents=True, exist_ok=True)
    (root / "benchmarks.json").write_text(json.dumps(BENCHMARKS))
    (mdir / "machine.json").write_text(json.dumps(machine))
    doc = {
        "commit_hash": commit,
        "env_name": ENV,
        "date": 1_767_225_600_000 + day * 86_400_000,
        "params": {"machine": machine["machine"], "python": "3.11"},
        "python": "3.11",
        "requirements": {},
        "env_vars": {},
        "result_columns": RESULT_COLUMNS,
        "results": results,
        "durations": {},
        "version": 2,
    }
    path = mdir / f"{commit[:8]}-{ENV}.json"
    path.write_text(json.dumps(doc))
    return path


def _asv_result(root: Path, machine: dict, commit: str, seconds: tuple[float, float], day: int) -> Path:
    """One ASV result file of NumPy's predict at batch 32 for both models (``seconds`` per call)."""
    row = _asv_row(seconds, [["'numpy'"], ["'regular'", "'separable'"], ["32"]])
    return _write_asv(root, machine, commit, day, {LATENCY: row})


def _asv_fast_result(root: Path, machine: dict, commit: str, fast: tuple[float, float], ratio: tuple[float, float], day: int) -> Path:
    """One ASV result file of NumPy's ``PredictFast`` (``fast``: regular, separable seconds for the 10,000
    images) and ``SeparableRatio`` (``ratio``: separable / regular on the default, the fast path)."""
    results = {
        FAST: _asv_row(fast, [["'numpy'"], ["'regular'", "'separable'"]]),
        RATIO: [list(ratio), [["'numpy'"], ["'default'", "'fast'"]], "1", 0, 1.0],  # a track: no statistics
    }
    return _write_asv(root, machine, commit, day, results)


# ---------------------------------------------------------------- helpers


def _build(tmp_path: Path, results: Path, asv: list[Path]):
    from sepbench.report.build import build_report

    return build_report([results], asv, tmp_path / "out")


def _cell(table, machine: str, backend: str, model: str, metric: str) -> float:
    row = table[(table.backend == backend) & (table.model == model) & (table.metric == metric)]
    assert len(row) == 1, (backend, model, metric, table[["backend", "model", "metric"]].to_string())
    return float(row.iloc[0][machine])


def _limit_fraction(model: str, gemm_gflops: float, seconds: float) -> float:
    """Compute limit / time: 2 FLOP per MAC x MACs/image x 10,000 images at the probed rate, over the time."""
    return 2 * MODELS[model].macs * TEST_IMAGES / (gemm_gflops * 1e9) / seconds


# ---------------------------------------------------------------- tests


def test_across_machines_has_one_column_per_machine_with_its_own_figures(tmp_path: Path) -> None:
    results = _write_runs(tmp_path / "results", XEON, EPYC)
    report = _build(tmp_path, results, [tmp_path / "no-asv"])
    table = report.sections["machines"].raw
    assert list(table.columns) == ["backend", "model", "metric", "unit", B, A]  # machines in sorted order
    for machine, s in SCALE.items():
        # the fastest way per path (verdict.predict_10k): regular at batch 1024, separable at batch 32
        assert _cell(table, machine, "numpy", "regular", "predict_10k_seconds") == pytest.approx(0.20 * s)
        assert _cell(table, machine, "numpy", "separable", "predict_10k_seconds") == pytest.approx(0.21 * s)
        assert _cell(table, machine, "numpy (fast)", "separable", "predict_10k_seconds") == pytest.approx(0.08 * s)
        assert _cell(table, machine, "numpy", "separable", "latency_s batch=32") == pytest.approx(0.21 * s)
        assert _cell(table, machine, "numpy (fast)", "separable/regular", "paired_ratio") == pytest.approx(PAIR_RATIO[machine])
        for model, seconds in (("regular", 0.10), ("separable", 0.08)):
            expected = _limit_fraction(model, GEMM[machine], seconds * s)
            assert _cell(table, machine, "numpy (fast)", model, "compute_limit_fraction") == pytest.approx(expected)
    # a path's figures stay together, in the documented order
    fast = table[table.backend == "numpy (fast)"]
    assert list(dict.fromkeys(fast.metric)) == ["predict_10k_seconds", "latency_s batch=1024", "paired_ratio", "compute_limit_fraction"]
    # shown: times in ms, ratios with 3 decimals
    shown = report.sections["machines"].shown.set_index(["backend", "model", "metric"])
    assert shown.at[("numpy (fast)", "regular", "predict_10k_seconds"), A] == "100"
    assert shown.at[("numpy (fast)", "regular", "predict_10k_seconds"), "unit"] == "ms"
    assert shown.at[("numpy (fast)", "separable/regular", "paired_ratio"), B] == "0.850"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## 3. Across machines" in md
    head = md[md.index("## 3. Across machines") :].splitlines()
    # the section's table has one column per machine, in its header row
    assert any(line.startswith("| backend") and A in line and B in line for line in head), head[:12]
    assert 'id="machines"' in (tmp_path / "out" / "index.html").read_text()
    assert not any("one machine only" in m for m in report.missing)


def test_fingerprint_table_shows_each_machine_from_benchmarks_and_asv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = _write_runs(tmp_path / "results", XEON, EPYC)
    asv = tmp_path / "asv"
    _asv_result(asv, _machine_json(ARM, monkeypatch), "a" * 40, (0.004, 0.003), day=1)
    report = _build(tmp_path, results, [asv])
    fp = report.sections["machine_fingerprints"].raw.set_index("machine")
    assert sorted(fp.index) == sorted([A, B, C])
    assert fp.at[A, "cpu_model"] == "Intel(R) Xeon(R) Processor" and fp.at[A, "isa"] == "avx512" and fp.at[A, "cores"] == 2
    assert fp.at[A, "memory_gib"] == pytest.approx(24) and fp.at[A, "gemm_gflops"] == pytest.approx(100)
    assert fp.at[A, "digest"] == XEON.digest() and fp.at[A, "os"] == "linux-debian-12"
    assert fp.at[B, "accelerator"] == "1x NVIDIA H200" and fp.at[B, "cores"] == 4 and fp.at[B, "gemm_gflops"] == pytest.approx(400)
    # the ASV machine, from the machine.json sepbench writes: ISA level parsed back, memory from "<n> MB"
    assert fp.at[C, "cpu_model"] == "Neoverse-N1" and fp.at[C, "isa"] == "neon" and fp.at[C, "cores"] == 4
    assert fp.at[C, "memory_gib"] == pytest.approx(8) and pd.isna(fp.at[C, "gemm_gflops"]) and fp.at[C, "sources"] == "asv 1"
    shown = report.sections["machine_fingerprints"].shown.set_index("machine")
    assert shown.at[A, "memory_gib"] == "24.0" and shown.at[C, "gemm_gflops"] == ""
    md = (tmp_path / "out" / "report.md").read_text()
    section = md[md.index("## 3a. The machines") :]
    assert all(name in section for name in (A, B, C))
    # the ASV machine's latency is a column of the across-machines table
    assert _cell(report.sections["machines"].raw, C, "numpy", "regular", "latency_s batch=32") == pytest.approx(0.004)


def test_asv_history_counts_as_a_machine_and_one_machine_keeps_the_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = _write_runs(tmp_path / "results", XEON)
    alone = _build(tmp_path, results, [tmp_path / "no-asv"])
    assert "machines" not in alone.sections and "machine_fingerprints" not in alone.sections
    assert any(f"one machine only ({A})" in m for m in alone.missing)
    asv = tmp_path / "asv"
    _asv_result(asv, _machine_json(ARM, monkeypatch), "b" * 40, (0.004, 0.003), day=1)
    both = _build(tmp_path, results, [asv])
    assert {A, C} <= set(both.sections["machines"].raw.columns)
    assert not any("one machine only" in m for m in both.missing)


def test_same_machine_name_from_benchmarks_and_asv_is_one_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ASV history of the benchmarked machine adds no column: still one machine, and its fingerprint
    comes from the benchmark runs (with the GEMM probe), ASV only counted in ``sources``; other hardware
    under the same name shows as a second digest."""
    results = _write_runs(tmp_path / "results", XEON)
    twin = dataclasses.replace(XEON, logical_cpus=4)  # hyper-threads on: the same name, another machine
    _write_runs(results, twin, number=2)
    asv = tmp_path / "asv"
    _asv_result(asv, _machine_json(XEON, monkeypatch), "c" * 40, (0.004, 0.003), day=1)
    report = _build(tmp_path, results, [asv])
    assert "machines" not in report.sections and any("one machine only" in m for m in report.missing)
    from sepbench.report.sections.machines import machine_fingerprints

    fp = machine_fingerprints(report.loaded.machines).set_index("machine")
    assert list(fp.index) == [A]
    assert fp.at[A, "gemm_gflops"] == pytest.approx(100) and fp.at[A, "sources"] == "asv 1, pytest-benchmark 2"
    assert twin.name() == A and fp.at[A, "digest"] == ", ".join(sorted([XEON.digest(), twin.digest()]))


def test_history_is_a_default_asv_root_and_a_result_in_both_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sepbench.results.sources import load_all
    from sepbench.util.paths import asv_results_dirs

    assert asv_results_dirs(tmp_path) == [tmp_path / ".asv" / "results"]  # no history/: not looked in
    arm = _machine_json(ARM, monkeypatch)
    local = _asv_result(tmp_path / ".asv" / "results", arm, "d" * 40, (0.004, 0.003), day=1)
    _asv_result(tmp_path / "history", arm, "d" * 40, (0.040, 0.030), day=1)  # the same result, other figures
    older = _asv_result(tmp_path / "history", arm, "e" * 40, (0.005, 0.004), day=0)
    roots = asv_results_dirs(tmp_path)
    assert roots == [tmp_path / ".asv" / "results", tmp_path / "history"]
    loaded = load_all([tmp_path / "no-results"], roots)
    assert sorted(loaded.files["asv"]) == sorted([local, older])
    medians = loaded.measurements[loaded.measurements["stat"].eq("median")]
    assert len(medians) == 2 * 2  # two commits x two models, not three results
    commit_d = medians[medians["commit"].eq("d" * 40)].set_index("model")["value"]
    assert commit_d.to_dict() == {"regular": 0.004, "separable": 0.003}  # .asv/results wins
    assert len(loaded.machines) == 2 and set(loaded.machines["machine"]) == {C}


def test_asv_only_machine_shows_its_newest_commits_fast_path_and_paired_ratio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine known only from ASV fills ``predict_10k_seconds`` of ``numpy (fast)`` (PredictFast) and
    ``paired_ratio`` of both paths (SeparableRatio) from its newest commit by date, not from the file
    read last; on a benchmarked machine, ASV fills only the cells its benchmark runs left empty."""
    results = _write_runs(tmp_path / "results", XEON)
    asv, arm, xeon = tmp_path / "asv", _machine_json(ARM, monkeypatch), _machine_json(XEON, monkeypatch)
    _asv_fast_result(asv, arm, "1" * 40, (0.30, 0.20), (0.70, 0.60), day=3)  # the newest, its file read first
    _asv_fast_result(asv, arm, "f" * 40, (0.90, 0.95), (1.50, 1.40), day=2)
    _asv_fast_result(asv, xeon, "2" * 40, (0.50, 0.40), (0.66, 0.55), day=3)
    report = _build(tmp_path, results, [asv])
    table = report.sections["machines"].raw
    assert list(table.columns) == ["backend", "model", "metric", "unit", C, A]
    assert _cell(table, C, "numpy (fast)", "regular", "predict_10k_seconds") == pytest.approx(0.30)
    assert _cell(table, C, "numpy (fast)", "separable", "predict_10k_seconds") == pytest.approx(0.20)
    assert _cell(table, C, "numpy", "separable/regular", "paired_ratio") == pytest.approx(0.70)
    assert _cell(table, C, "numpy (fast)", "separable/regular", "paired_ratio") == pytest.approx(0.60)
    # the benchmarked machine keeps its pytest-benchmark figures; ASV adds the default path's ratio it lacked
    assert _cell(table, A, "numpy (fast)", "regular", "predict_10k_seconds") == pytest.approx(0.10)
    assert _cell(table, A, "numpy (fast)", "separable/regular", "paired_ratio") == pytest.approx(PAIR_RATIO[A])
    assert _cell(table, A, "numpy", "separable/regular", "paired_ratio") == pytest.approx(0.66)
    assert pd.isna(_cell(table, C, "numpy", "regular", "predict_10k_seconds"))  # PredictFast is the fast path only
    fast = table[table.backend == "numpy (fast)"]
    assert list(dict.fromkeys(fast.metric)) == ["predict_10k_seconds", "latency_s batch=1024", "paired_ratio", "compute_limit_fraction"]
    md = (tmp_path / "out" / "report.md").read_text()
    section = md[md.index("## 3. Across machines") : md.index("## 3a. The machines")]
    assert "ASV-only machines show their newest ASV commit" in section
    shown = report.sections["machines"].shown.set_index(["backend", "model", "metric"])
    assert shown.at[("numpy (fast)", "regular", "predict_10k_seconds"), C] == "300"
    assert shown.at[("numpy", "separable/regular", "paired_ratio"), C] == "0.700"
    assert shown.at[("numpy (fast)", "separable/regular", "paired_ratio"), A] == "0.800"


def _report_cli(cwd: Path, *args: str) -> str:
    """``sepbench report`` run as a user runs it, in ``cwd``; returns the Markdown it wrote."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("SEPBENCH_RESULTS_DIR", None)
    cmd = [sys.executable, "-m", "sepbench", "report", "--results", str(cwd / "results"), "--output", str(cwd / "out"), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return (cwd / "out" / "report.md").read_text()


def test_the_report_command_reads_history_unless_asv_results_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_runs(tmp_path / "results", XEON)
    _asv_result(tmp_path / ".asv" / "results", _machine_json(XEON, monkeypatch), "f" * 40, (0.004, 0.003), day=1)
    _asv_result(tmp_path / "history", _machine_json(ARM, monkeypatch), "f" * 40, (0.006, 0.005), day=1)
    md = _report_cli(tmp_path)
    assert "## 3. Across machines" in md and "## 3a. The machines" in md
    section = md[md.index("## 3. Across machines") : md.index("## 3a. The machines")]
    assert A in section and C in section
    override = _report_cli(tmp_path, "--asv-results", ".asv/results")
    assert "## 3. Across machines" not in override and f"one machine only ({A})" in override


def test_machine_descriptions_take_any_content_without_raising(tmp_path: Path) -> None:
    from sepbench.results import machines

    weird = {"machine_info": {"machine_name": ["x"], "fingerprint": "junk", "roofline": {"gemm_gflops": "fast"}, "node": "vm"}}
    d = machines.from_pytest_benchmark(weird, tmp_path / "run.json")
    assert d["machine"] == "vm" and d["cpu_model"] is None and d["gemm_gflops"] is None and d["cores"] is None
    fp = machines.describe("m", {"physical_cores": True, "logical_cpus": 10**400, "memory_bytes": "9" * 400, "isa": 3}, "asv", tmp_path)
    assert fp["cores"] is None and fp["logical_cpus"] is None and fp["memory_bytes"] is None and fp["isa"] is None
    assert machines.from_reproduce([], tmp_path)["machine"] is None
    asv = machines.from_asv_machine({"cpu": "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", "num_cpu": "12"}, "box", tmp_path)
    assert asv["machine"] == "box" and asv["cpu_model"] == "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz" and asv["isa"] is None
    assert asv["cores"] == 12


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(JSON)
def test_machine_descriptions_of_arbitrary_json_never_raise(tmp_path: Path, doc: object) -> None:
    """Whatever a file holds where the machine is described, each field is a value of its kind or empty."""
    from sepbench.results import machines

    for d in (
        machines.from_pytest_benchmark({"machine_info": {"machine_name": "m", "fingerprint": doc, "roofline": doc}}, tmp_path),
        machines.from_reproduce({"provenance": {"machine": doc}}, tmp_path),
        machines.from_asv_machine(doc, "folder", tmp_path),
    ):
        assert set(d) == set(machines.FIELDS)
        assert all(d[k] is None or (isinstance(d[k], int) and d[k] >= 1) for k in ("cores", "logical_cpus", "memory_bytes"))
        assert all(d[k] is None or isinstance(d[k], str) for k in ("machine", "cpu_model", "isa", "os", "accelerator", "digest"))


@pytest.mark.parametrize(
    "ram, expected",
    [
        ("24105 MB", 24105 * 2**20),
        ("4GB", 4 * 2**30),
        ("16309248000", 16_309_248_000),
        (1024, 1024),
        ("lots", None),
        (True, None),
        ("", None),
        ("9" * 400, None),  # no finite number of bytes
        (10**400, None),
        ("1.5 GB", 3 * 2**29),
        ("1.3 kB", 1331),
    ],
)
def test_asv_ram_in_bytes(ram: object, expected: int | None) -> None:
    from sepbench.results.machines import parse_ram

    assert parse_ram(ram) == expected
