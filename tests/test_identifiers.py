"""Identifiers that key saved history never change by accident.

ASV keys its results by ``module.Class.method`` and the parameter values; pytest-benchmark's
``--compare`` and the report key runs by case id, group and ``extra_info`` keys; old result files
are read by their schema.  A rename of any of them silently cuts the history, so they are pinned in
``tests/data/identifiers.json``.  A deliberate change updates that file in the same commit
(``python tests/test_identifiers.py --update``) and says why.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "data" / "identifiers.json"
ASV_PREFIXES = ("time_", "track_", "peakmem_", "mem_")


def asv_benchmarks() -> dict[str, Any]:
    """``module.Class.method`` -> {params, param_names, unit} for every ASV benchmark (as ASV discovers them)."""
    sys.path.insert(0, str(REPO))
    out: dict[str, Any] = {}
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        if path.stem.startswith("_") or path.stem == "common":
            continue
        module = importlib.import_module(f"benchmarks.{path.stem}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or cls_name.startswith("_"):
                continue
            for meth in sorted(m for m in dir(cls) if m.startswith(ASV_PREFIXES)):
                out[f"{path.stem}.{cls_name}.{meth}"] = {
                    "param_names": list(getattr(cls, "param_names", [])),
                    "params": [[repr(v) for v in p] for p in getattr(cls, "params", [])],
                    "unit": getattr(getattr(cls, meth), "unit", None),
                }
    return out


# Both collections in one child process: each mostly imports the frameworks, which a second
# ``pytest.main`` in the same process finds imported already.
_COLLECT_BOTH = """
import sys, pytest
for quick in (False, True):
    print("#collect quick" if quick else "#collect full", flush=True)
    code = pytest.main([*sys.argv[1:], "--quick" if quick else "--full"])
    if code:
        sys.exit(int(code))
"""


def bench_case_ids() -> dict[str, list[str]]:
    """pytest-benchmark case ids of ``nox -s bench -- --full`` ("full": every case) and of the CI smoke run ``--quick`` ("quick")."""
    # --threads: chosen, not probed: two probes in one process beside the other test worker may differ, and
    # TensorFlow's threads cannot change once set
    args = ["tests/bench", "--collect-only", "-q", "-p", "no:cacheprovider", "--threads", "1", "--backends", "numpy,tensorflow,torch"]
    proc = subprocess.run(
        [sys.executable, "-c", _COLLECT_BOTH, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ids: dict[str, list[str]] = {}
    current: list[str] = []  # pytest's own lines before the first marker hold no case id
    for line in proc.stdout.splitlines():
        if line.startswith("#collect "):
            current = ids.setdefault(line.removeprefix("#collect "), [])
        elif "::" in line:
            current.append(line.strip())
    assert set(ids) == {"full", "quick"}, proc.stdout[-3000:]
    return {kind: sorted(found) for kind, found in ids.items()}


def schema_identifiers() -> dict[str, Any]:
    from sepbench.measure.extra_info import EXTRA_INFO_KEYS
    from sepbench.results.schema import (
        REPRODUCE_ROW_FIELDS,
        SCHEMA,
        VERSION,
        WORKLOAD_GRAPH_FORWARD,
        WORKLOAD_PAIRED,
        WORKLOAD_PAIRED_EVALUATE,
    )

    return {
        "extra_info_keys": list(EXTRA_INFO_KEYS),
        "workloads": [WORKLOAD_GRAPH_FORWARD, WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE],
        "results_schema": [SCHEMA, VERSION],
        "reproduce_row_fields": sorted(REPRODUCE_ROW_FIELDS),
    }


def current() -> dict[str, Any]:
    return {
        "asv": asv_benchmarks(),
        "bench_cases": (ids := bench_case_ids())["full"],
        "bench_cases_quick": ids["quick"],
        **schema_identifiers(),
    }


def test_asv_benchmark_names_and_params_are_unchanged():
    """Every pinned benchmark keeps its name, parameter names, unit and parameter values; a new value
    on an axis (a new backend) only adds combinations, which ASV files beside the old ones."""
    now = asv_benchmarks()
    for name, pinned in json.loads(GOLDEN.read_text())["asv"].items():
        assert name in now, f"ASV benchmark {name} renamed or removed: its history would be cut"
        assert now[name]["param_names"] == pinned["param_names"] and now[name]["unit"] == pinned["unit"], name
        assert len(now[name]["params"]) == len(pinned["params"]), name
        for axis, (values, old) in enumerate(zip(now[name]["params"], pinned["params"], strict=True)):
            assert values[: len(old)] == old, f"{name}: values of axis {axis} changed or reordered: {old} -> {values}"


def test_pytest_benchmark_case_ids_are_unchanged(mnist_dir):
    """Case ids may be added (a new path: its cases are new), never renamed or removed: saved runs and
    baselines are matched by them."""
    golden, ids = json.loads(GOLDEN.read_text()), bench_case_ids()
    for kind, key in (("full", "bench_cases"), ("quick", "bench_cases_quick")):
        gone = [i for i in golden[key] if i not in ids[kind]]
        assert not gone, f"{kind}: renamed or removed: {gone[:5]}"
        assert [i for i in ids[kind] if i in golden[key]] == golden[key]  # in the same order


def test_extra_info_keys_and_result_schema_are_unchanged():
    """Keys may be added (old files simply lack them), never renamed or removed."""
    golden, now = json.loads(GOLDEN.read_text()), schema_identifiers()
    for key in ("extra_info_keys", "reproduce_row_fields"):
        assert set(golden[key]) <= set(now[key]), f"{key}: removed or renamed {sorted(set(golden[key]) - set(now[key]))}"
    assert now["workloads"][: len(golden["workloads"])] == golden["workloads"]  # new workloads only add
    assert now["results_schema"] == golden["results_schema"]


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    GOLDEN.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
