"""Property tests for every result reader: arbitrary or mutated JSON never raises anything but the
reader's own ResultsError, and valid files round-trip (hypothesis)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepbench.results.read_asv import load_asv_result
from sepbench.results.read_pytest_benchmark import load_pytest_benchmark
from sepbench.results.read_reproduce import load_reproduce
from sepbench.results.schema import ResultsError, make_results, read_json
from sepbench.results.tidy import drop_implausible, frame

SOURCE = Path("/nonexistent/fuzzed.json")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)
PYTEST_BENCHMARK = {
    "machine_info": {"machine_name": "box", "cpu_model": "cpu", "roofline": {"gemm_gflops": 100.0, "mem_bandwidth_gbs": 10.0}},
    "commit_info": {"id": "abc", "dirty": False},
    "datetime": "2026-11-29T00:00:00",
    "benchmarks": [
        {
            "name": "test_predict[numpy-regular-default-b32-n32]",
            "group": "regular batch=32",
            "stats": {"min": 0.001, "median": 0.002, "max": 0.003, "mean": 0.002, "stddev": 0.0, "iqr": 0.0, "rounds": 5},
            "extra_info": {
                "workload": "predict",
                "backend": "numpy",
                "model": "regular",
                "batch_size": 32,
                "n_images": 32,
                "path": "default",
                "params": 8586,
                "accuracy": 0.9,
            },
        }
    ],
}
REPRODUCE = make_results(
    "reproduce",
    [
        {
            "backend": "numpy",
            "model": "regular",
            "params": 8586,
            "test_accuracy": 0.91,
            "eval_seconds": 0.3,
            "test_images": 10_000,
            "train_images": 60_000,
        }
    ],
    {"machine": {"machine_name": "box"}},
    None,
)
ASV = {
    "version": 2,
    "commit_hash": "abc",
    "date": 1700000000000,
    "params": {"machine": "box"},
    "result_columns": ["result", "params"],
    "results": {"predict.PredictLatency.time_predict": [[0.001, 0.002], [["'numpy'"], ["'regular'", "'separable'"]]]},
}
BENCHMARKS = {"predict.PredictLatency.time_predict": {"unit": "seconds", "param_names": ["backend", "model"]}}
READERS = (
    lambda doc: load_pytest_benchmark(doc, SOURCE),
    lambda doc: load_reproduce(doc, SOURCE),
    lambda doc: load_asv_result(doc, SOURCE, {"machine": "box"}, BENCHMARKS),
)


def _paths(doc, prefix=()):
    """Every (path of keys/indices) inside a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _replace(doc, path, value):
    doc = copy.deepcopy(doc)
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def _only_results_errors(read, doc) -> None:
    try:
        rows = read(doc)
    except ResultsError:
        return
    kept, _ = drop_implausible(rows)  # what the report does next must not raise either
    frame(kept)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=JSON)
def test_arbitrary_json_gives_rows_or_a_results_error(doc):
    for read in READERS:
        _only_results_errors(read, doc)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=JSON)
def test_a_valid_file_with_any_one_value_replaced_gives_rows_or_a_results_error(data, value):
    for read, valid in zip(READERS, (PYTEST_BENCHMARK, REPRODUCE, ASV), strict=True):
        path = data.draw(st.sampled_from(list(_paths(valid))))
        _only_results_errors(read, _replace(valid, path, value))


def test_valid_files_round_trip_through_disk(tmp_path):
    for name, (read, valid) in zip(("pb", "rep", "asv"), zip(READERS, (PYTEST_BENCHMARK, REPRODUCE, ASV), strict=True), strict=True):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(valid))
        assert read(read_json(path)) == read(valid) and read(valid), name


def test_counts_that_no_int64_holds_are_no_counts():
    """Found by the property test above: batch_size 9.2e18 (and 32.5) broke the tidy table."""
    rows = [{"batch_size": v, "n_images": v, "value": 1.0} for v in (9.223372036854776e18, 32.5, 32, None)]
    df = frame(rows)
    assert df["batch_size"].tolist()[:2] == [pd.NA, pd.NA] and df["batch_size"].iloc[2] == 32
