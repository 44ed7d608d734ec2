"""Built model files kept between processes (:mod:`sepbench.util.built_files`): reused when they match what
was written, never used or replaced when they do not, and a cache that cannot be written costs time only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sepbench.util.built_files import BUILT_DIR, BUILT_MANIFEST, MAX_PART_BYTES, cached_parts, key_of

REPO = Path(__file__).resolve().parents[1]


class Builder:
    def __init__(self, data: dict[str, bytes]) -> None:
        self.data, self.calls = data, 0

    def __call__(self) -> dict[str, bytes]:
        self.calls += 1
        return dict(self.data)


def test_a_second_process_reads_what_the_first_built(tmp_path: Path) -> None:
    build = Builder({"xml": b"<net/>", "bin": b"\x00\x01"})
    first = cached_parts({"backend": "x", "weights": "w1"}, build, tmp_path)
    again = cached_parts({"backend": "x", "weights": "w1"}, build, tmp_path)
    assert first == again == build.data and build.calls == 1
    other = cached_parts({"backend": "x", "weights": "w2"}, build, tmp_path)  # other weights: another entry
    assert other == build.data and build.calls == 2
    assert len(list((tmp_path / BUILT_DIR).iterdir())) == 2


def test_an_entry_someone_changed_is_neither_used_nor_replaced(tmp_path: Path) -> None:
    parts = {"backend": "x"}
    build = Builder({"model": b"the real model"})
    cached_parts(parts, build, tmp_path)
    entry = tmp_path / BUILT_DIR / key_of(parts)
    (entry / "model").write_bytes(b"planted model!")  # same size, other bytes
    with pytest.warns(RuntimeWarning, match="not used"):
        assert cached_parts(parts, build, tmp_path) == {"model": b"the real model"}
    assert (entry / "model").read_bytes() == b"planted model!" and build.calls == 2  # left as it was


def test_a_manifest_asking_more_than_the_budget_is_refused_before_reading(tmp_path: Path) -> None:
    parts = {"backend": "x"}
    entry = tmp_path / BUILT_DIR / key_of(parts)
    entry.mkdir(parents=True)
    (entry / BUILT_MANIFEST).write_text(json.dumps({"format": 1, "parts": {"model": {"bytes": MAX_PART_BYTES + 1, "sha256": "0" * 64}}}))
    with pytest.warns(RuntimeWarning, match="outside the budget"):
        assert cached_parts(parts, Builder({"model": b"m"}), tmp_path) == {"model": b"m"}


def test_a_cache_path_that_is_a_file_costs_time_not_the_result(tmp_path: Path) -> None:
    (tmp_path / BUILT_DIR).write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="could not keep"):
        assert cached_parts({"b": 1}, Builder({"model": b"m"}), tmp_path) == {"model": b"m"}
    assert (tmp_path / BUILT_DIR).read_text() == "not a folder"


def test_bad_part_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="parts named"):
        cached_parts({"b": 1}, Builder({"../escape": b"m"}), tmp_path)


SCRIPT = """
import json, sys, numpy as np
from impls.registry import build_model
from sepbench.core.weights import init_weights
calls = []
m = build_model(sys.argv[1], "separable", init_weights("separable", 3))
before = type(m)._build_file
def counting(self, weights, calibration):
    calls.append(calibration is not None)
    return before(self, weights, calibration)
type(m)._build_file = counting
x = np.random.default_rng(0).random((32, 28, 28, 1), dtype=np.float32)
p = m.predict(x, batch_size=32, path="int8")
print(json.dumps({"int8_builds": sum(calls), "probs": p.round(6).tolist()}))
"""


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_a_fresh_process_reuses_the_int8_file_and_predicts_the_same(backend: str, tmp_path: Path, mnist_dir: Path) -> None:
    """Two fresh processes quantize one model: the first builds its int8 file, the second reads it and
    gives the same probabilities."""
    pytest.importorskip({"onnxruntime": "onnxruntime", "openvino": "openvino"}[backend])
    env = {**os.environ, "SEPBENCH_CACHE_DIR": str(tmp_path), "SEPBENCH_MNIST_DIR": str(mnist_dir), "OMP_NUM_THREADS": "1"}
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", SCRIPT, backend], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert runs[0]["int8_builds"] == 1 and runs[1]["int8_builds"] == 0
    assert runs[0]["probs"] == runs[1]["probs"]
