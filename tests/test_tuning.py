"""Choices measured once per machine and remembered (sepbench/util/tuning.py), and the fast paths that use them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sepbench.util import tuning
from sepbench.util.ownership import seal, unseal


def _entries(record: Path) -> dict:
    """The entries of the sealed record at ``record`` (a KeyError/TypeError if it is not one)."""
    return unseal(record.read_text(), tuning.RECORD_KIND)["entries"]


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache" / "tuning.json"
    monkeypatch.setenv(tuning.TUNING_FILE_ENV_VAR, str(path))
    monkeypatch.delenv(tuning.RETUNE_ENV_VAR, raising=False)
    return path


def test_a_choice_is_measured_once_then_reused_until_a_retune(record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def choose() -> dict:
        calls.append(1)
        return {"chunk": 128 * len(calls)}

    key = {"model": "regular", "threads": 2}
    assert tuning.remembered("demo", key, choose) == {"chunk": 128}
    assert tuning.remembered("demo", key, choose) == {"chunk": 128} and len(calls) == 1  # reused, not measured
    assert tuning.remembered("demo", {**key, "threads": 1}, choose) == {"chunk": 256}  # another key: its own choice
    monkeypatch.setenv(tuning.RETUNE_ENV_VAR, "1")
    assert tuning.remembered("demo", key, choose) == {"chunk": 384} and len(calls) == 3  # measured again...
    monkeypatch.delenv(tuning.RETUNE_ENV_VAR)
    assert tuning.remembered("demo", key, choose) == {"chunk": 384}  # ...and that choice recorded
    doc = _entries(record)
    assert len(doc) == 2 and all(e["kind"] == "demo" and tuning.cpu_identity() in e["key"] for e in doc.values())


@pytest.mark.parametrize("content", ["{half", "[1, 2]", '{"x": 3}', "", "{}"])
def test_a_file_that_is_no_sealed_record_is_measured_anew_and_left_as_it_is(record: Path, content: str, capsys) -> None:
    """Its name (tuning.json) proves nothing: only a sealed record of ours, or no file, is replaced (issue 41)."""
    record.parent.mkdir(parents=True)
    record.write_text(content)
    assert tuning.remembered("demo", {"k": 1}, lambda: {"v": 1}) == {"v": 1}
    assert record.read_text() == content and tuning.recall("demo", {"k": 1}) is None
    assert "not a record of tuned choices this program wrote" in capsys.readouterr().err


def test_an_unwritable_cache_keeps_the_choice_for_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv(tuning.TUNING_FILE_ENV_VAR, str(blocker / "tuning.json"))
    assert tuning.remembered("demo", {"k": 1}, lambda: {"v": 2}) == {"v": 2}
    assert blocker.read_text() == "x"


def test_the_numpy_fast_path_reuses_the_plan_recorded_on_this_machine(record: Path) -> None:
    """A new process (the in-process plans cleared) takes the recorded plan, not a new measurement: here
    a plan that autotuning would not pick (chunk 64, every group's first lowering), recorded by hand."""
    from impls import numpy_fast
    from impls.registry import get_backend
    from sepbench.core.spec import get_model_spec
    from sepbench.core.weights import init_weights

    spec, weights = get_model_spec("separable"), init_weights("separable", 0)
    numpy_fast._PLANS.clear()
    first = numpy_fast.cached_plan(spec, weights)  # measured and recorded
    (kind_key,) = _entries(record).values()
    assert kind_key["kind"] == "numpy-fast-plan" and kind_key["choice"]["chunk"] == first.chunk
    groups = numpy_fast.layer_groups(spec, weights)
    other_chunk = next(c for c in numpy_fast.CHUNK_SIZES if c != first.chunk)
    forced = {"chunk": other_chunk, "methods": {name: next(iter(cands)) for name, cands in groups}, "timings": {}}
    entry = next(iter(_entries(record)))
    doc = _entries(record)
    doc[entry]["choice"] = forced
    record.write_text(seal(tuning.RECORD_KIND, {"entries": doc}))
    numpy_fast._PLANS.clear()
    model = get_backend("numpy").build_model("separable", weights)
    assert model.fast_config() == {"chunk": other_chunk, "layers": forced["methods"]}
    x = np.random.default_rng(0).integers(0, 256, (70, 28, 28, 1), dtype=np.uint8)
    np.testing.assert_allclose(model.predict(x, path="fast"), model.predict(x), atol=1e-5)  # the recorded plan, at parity
    # a record this code cannot run (unknown group, unknown lowering, a chunk it never tunes, not a number)
    # is measured again, not trusted
    bad_plans = [
        {"chunk": first.chunk, "methods": {"conv9": "x"}},
        {"chunk": first.chunk, "methods": {**forced["methods"], groups[0][0]: "no-such-lowering"}},
        {"chunk": 10**9, "methods": forced["methods"]},
        {"chunk": "many", "methods": forced["methods"]},
    ]
    for bad in bad_plans:
        doc[entry]["choice"] = bad
        record.write_text(seal(tuning.RECORD_KIND, {"entries": doc}))
        numpy_fast._PLANS.clear()
        plan = numpy_fast.cached_plan(spec, weights)
        assert plan.chunk in numpy_fast.CHUNK_SIZES and set(plan.methods) == {name for name, _ in groups}, bad
        assert all(plan.methods[name] in cands for name, cands in groups), bad
    numpy_fast._PLANS.clear()


def test_an_oversized_record_is_not_read(record: Path) -> None:
    record.parent.mkdir(parents=True)
    record.write_text(" " * (tuning.MAX_RECORD_BYTES + 1))
    assert tuning.recall("demo", {"k": 1}) is None
    assert tuning.remembered("demo", {"k": 1}, lambda: {"v": 3}) == {"v": 3} and tuning.recall("demo", {"k": 1}) is None
    assert record.stat().st_size == tuning.MAX_RECORD_BYTES + 1  # not ours to replace
