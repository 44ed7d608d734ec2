"""The ASV suite itself, in this environment: the configuration pins the frameworks, ``asv check``
passes, discovery imports no framework, and the quick run executes every benchmark once, on every
installed backend where its code differs by backend (a broken benchmark fails CI).  The end-to-end history and alert tests, in a
throw-away repository, are in ``tests/test_asv.py`` (a file of their own so the two halves of the
slow ASV work run side by side under ``pytest -n 2 --dist loadfile``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sepbench.asv.history import read_asv_conf
from tests.conftest import REPO
from tests.test_asv import PY, _asv, _asv_env, _run, _tail

pytestmark = pytest.mark.slow


def test_asv_conf_pins_every_backends_framework_as_pyproject_does() -> None:
    req = read_asv_conf(REPO / "asv.conf.json")["matrix"]["req"]
    assert read_asv_conf(REPO / "asv.conf.json")["environment_type"] == "virtualenv"
    pyproject = (REPO / "pyproject.toml").read_text()
    for package in ("tensorflow-cpu", "torch", "onnxruntime", "onnx", "ai-edge-litert", "openvino", "nncf", "numba", "halide"):
        (version,) = req[package]
        assert f'"{package}=={version}"' in pyproject, f"asv.conf.json and pyproject.toml pin different {package} versions"


def test_asv_check(tmp_path: Path) -> None:
    proc = _asv(["check", "--python=same"], REPO, _asv_env(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "No problems found" in proc.stdout


def test_discovery_imports_no_framework() -> None:
    code = (
        "import sys, benchmarks.predict, benchmarks.size, benchmarks.training; "
        "print(sorted(m for m in ('tensorflow', 'torch') if m in sys.modules))"
    )
    proc = _run([PY, "-c", code], REPO, dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# The quick run, one ASV process: two halves side by side did not make the test command faster (267.7 s
# against 269.7 s, within the noise), as the other pytest worker already keeps the second core busy.  Every
# benchmark runs, and every backend runs in every benchmark whose code differs by backend; each process
# imports its framework (TensorFlow: 4 s), so a combination that would only repeat code another one ran is
# left out: PredictLatency predicts (regular, default path) on every backend, so PredictFast (the same
# set-up on the fast path: each backend's fast path, its autotuning included, is tested against NumPy in
# tests/test_fast_paths.py; on all six backends it took 32 s of this run's 127 on a 2-core EPYC),
# SeparableRatio and PairRatio (the same predicts, paired; the latter on the fast path) and
# PredictMemory (the same predict under a memory probe) run on NumPy only; ModelSize's and ErrorRate's
# setup_cache builds, saves and trains every backend x model (their track_* functions only return what it
# found, one model each but track_params, whose table is checked below); TrainEpoch runs every backend's trainer.
QUICK_SELECTION = (
    r"predict\.SeparableRatio\.\w+\('numpy'",
    r"predict\.PairRatio\.\w+\('spatial', 'numpy', 'fast'",
    r"predict\.PredictLatency\.time_predict\(.*'regular'",
    r"predict\.PredictFast\.time_predict_10k\('numpy', 'separable'",
    r"predict\.PredictMemory\.peakmem_predict\('numpy', 'regular'",
    r"size\.ModelCost",
    r"size\.ModelSize\.track_params",
    r"size\.ModelSize\.track_native_bytes\(.*'separable'",
    r"training\.TrainEpoch\.time_train_epoch\(.*'separable'",
    r"training\.ErrorRate\.track_error_rate\(.*'regular'",
)


def test_quick_run_of_the_whole_suite(tmp_path: Path) -> None:
    """Every benchmark once, every installed backend where its code differs: what `.ci/run` relies on to catch a broken one."""
    # smoke-test knobs of benchmarks/common.py: one batch size, 200 test images, 256 training images
    env = _asv_env(tmp_path, SEPBENCH_ASV_BATCHES="1", SEPBENCH_ASV_TEST_IMAGES="200", SEPBENCH_ASV_TRAIN_IMAGES="256")
    assert _asv(["machine", "--yes", "--machine", "ci-quick"], REPO, env).returncode == 0
    base = [PY, "-m", "asv", "run", "--python=same", "--quick", "--dry-run", "--show-stderr", "--machine", "ci-quick"]
    proc = _run([*base, *(x for b in QUICK_SELECTION for x in ("--bench", b))], REPO, env, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "failed" not in out, _tail(out)
    from impls.registry import available_backends

    for name in (
        "time_predict",
        "time_predict_10k",
        "peakmem_predict",
        "track_separable_ratio",
        "track_pair_ratio",
        "track_params",
        "track_native_bytes",
        "track_macs_per_image",
        "time_train_epoch",
        "track_error_rate",
    ):
        assert re.search(rf"\.{name}\s+ok$", out, re.M), f"{name} did not run"
    params_table = out[out.index("size.ModelSize.track_params") :]
    for backend in available_backends():
        assert re.search(rf"{backend}\s+8586\s+1427", params_table), params_table[:800]
