"""Property tests for every result reader (hypothesis): arbitrary or mutated JSON never raises anything
but the reader's own ResultsError, and valid files with drawn figures read into rows that carry exactly
those figures.  The second half tells a bad file from a reader bug: a valid file must read, and a
reader's own error must surface as itself (the schemas in sepbench/results/formats decide what is a bad
file; nothing turns a TypeError into "not well-formed")."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impls.registry import backend_names
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


STUDY = {
    "kind": "ab-rates",
    "base": "abc",
    "slowed_case": "numpy-regular-default-b1-n1",
    "cases": ["numpy-regular-default-b1-n1"],
    "trials_per_factor": 2,
    "wall_s": 1.0,
    "provenance": {"machine": {"machine_name": "box"}, "created": "2026-01-01T00:00:00"},
    "alert": {"rounds": 20, "min_effect": 0.05, "confirm": 1},
    "rows": [
        {
            "factor": 1.0,
            "trials": 2,
            "alerts": 1,
            "rate": 0.5,
            "rate_low": 0.1,
            "rate_high": 0.9,
            "other_false_alarms": 0,
            "slowdowns": [1.0, None],
            "wall_s": [1.0, 2.0],
            "measured_slowdown": 1.0,
            "wall_s_median": 1.5,
            "wall_s_max": 2.0,
        }
    ],
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=JSON)
def test_a_study_file_with_any_one_value_replaced_gives_rows_or_a_results_error(data, value):
    from sepbench.results.read_rates import load_rates

    assert load_rates(STUDY, SOURCE)
    path = data.draw(st.sampled_from(list(_paths(STUDY))))
    try:
        load_rates(_replace(STUDY, path, value), SOURCE)
    except ResultsError:
        pass


def test_valid_files_round_trip_through_disk(tmp_path):
    for name, (read, valid) in zip(("pb", "rep", "asv"), zip(READERS, (PYTEST_BENCHMARK, REPRODUCE, ASV), strict=True), strict=True):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(valid))
        assert read(read_json(path)) == read(valid) and read(valid), name


def test_an_asv_date_past_year_9999_is_a_malformed_file_not_a_crash():
    """Found by the property test above once the catch-all went: a date no datetime holds."""
    import pytest

    with pytest.raises(ResultsError, match=r"\$\.date: 253402300800000\.0 is greater than the maximum"):
        load_asv_result({**ASV, "date": 253402300800000.0}, SOURCE, {"machine": "box"}, BENCHMARKS)


def test_counts_that_no_int64_holds_are_no_counts():
    """Found by the property test above: batch_size 9.2e18 (and 32.5) broke the tidy table."""
    rows = [{"batch_size": v, "n_images": v, "value": 1.0} for v in (9.223372036854776e18, 32.5, 32, None)]
    df = frame(rows)
    assert df["batch_size"].tolist()[:2] == [pd.NA, pd.NA] and df["batch_size"].iloc[2] == 32


# Valid files with drawn figures: each must read (a ResultsError here is a schema or reader bug) into
# rows that carry exactly the figures drawn.
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=24)
SECONDS = st.floats(min_value=1e-7, max_value=1e4, allow_nan=False, allow_infinity=False)
MODEL = st.sampled_from(["regular", "separable"])
BACKEND = st.sampled_from(backend_names())


@st.composite
def _valid_pytest_benchmark(draw):
    machine, backend, model = draw(NAMES), draw(BACKEND), draw(MODEL)
    batch, median, accuracy = draw(st.integers(1, 10_000)), draw(SECONDS), draw(st.floats(0.0, 1.0))
    params = draw(st.integers(1, 10**7))
    doc = copy.deepcopy(PYTEST_BENCHMARK)
    doc["machine_info"]["machine_name"] = machine
    bench = doc["benchmarks"][0]
    bench["name"] = f"test_predict[{backend}-{model}-default-b{batch}-n{batch}]"
    bench["group"] = f"{model} batch={batch}"
    bench["stats"] = {"min": median, "median": median, "max": median, "mean": median, "stddev": 0.0, "iqr": 0.0, "rounds": 5}
    bench["extra_info"].update(backend=backend, model=model, batch_size=batch, n_images=batch, params=params, accuracy=accuracy)
    return doc, {"machine": machine, "backend": backend, "model": model, "batch_size": batch, "median": median, "params": params}


@settings(max_examples=150, deadline=None)
@given(drawn=_valid_pytest_benchmark())
def test_any_valid_pytest_benchmark_file_reads_into_its_own_figures(drawn):
    doc, want = drawn
    rows = [r for r in load_pytest_benchmark(doc, SOURCE) if r["workload"] == "predict"]
    assert rows and all(r["machine"] == want["machine"] and r["backend"] == want["backend"] for r in rows)
    assert all(r["model"] == want["model"] and r["batch_size"] == want["batch_size"] for r in rows)
    (median,) = [r["value"] for r in rows if r["metric"] == "latency_s" and r["stat"] == "median"]
    (params,) = [r["value"] for r in rows if r["metric"] == "params"]
    assert median == want["median"] and params == want["params"]


@settings(max_examples=150, deadline=None)
@given(machine=NAMES, backend=BACKEND, model=MODEL, accuracy=st.floats(0.0, 1.0), seconds=SECONDS, params=st.integers(1, 10**7))
def test_any_valid_reproduce_file_reads_into_its_own_figures(machine, backend, model, accuracy, seconds, params):
    row = {**REPRODUCE["rows"][0], "backend": backend, "model": model, "test_accuracy": accuracy, "eval_seconds": seconds, "params": params}
    doc = make_results("reproduce", [row], {"machine": {"machine_name": machine}}, None)
    got = {r["metric"]: r for r in load_reproduce(doc, SOURCE)}
    assert got["test_accuracy"]["value"] == accuracy and got["eval_seconds"]["value"] == seconds and got["params"]["value"] == params
    assert all(r["machine"] == machine and r["backend"] == backend and r["model"] == model for r in got.values())


@settings(max_examples=150, deadline=None)
@given(machine=NAMES, backends=st.lists(BACKEND, min_size=1, max_size=5, unique=True), data=st.data())
def test_any_valid_asv_file_reads_into_its_own_figures(machine, backends, data):
    models = ["regular", "separable"]
    values = data.draw(st.lists(SECONDS | st.none(), min_size=len(backends) * 2, max_size=len(backends) * 2))
    doc = copy.deepcopy(ASV)
    doc["params"]["machine"] = machine
    doc["results"]["predict.PredictLatency.time_predict"] = [values, [[repr(b) for b in backends], [repr(m) for m in models]]]
    rows = load_asv_result(doc, SOURCE, {"machine": machine}, BENCHMARKS)
    # ASV's result list runs over the parameter product, the last parameter fastest; a missing figure (None) gives no row
    want = {(b, m): v for (b, m), v in zip([(b, m) for b in backends for m in models], values, strict=True) if v is not None}
    assert {(r["backend"], r["model"]): r["value"] for r in rows} == want
    assert all(r["machine"] == machine for r in rows)


def test_a_bug_in_a_reader_surfaces_as_itself_not_as_a_malformed_file(monkeypatch):
    """A TypeError planted in a label helper once passed as "not a well-formed file"."""
    import pytest

    from sepbench.results import read_pytest_benchmark

    def broken(config):
        raise TypeError("a bug in the reader")

    monkeypatch.setattr(read_pytest_benchmark, "describe_config", broken)
    with pytest.raises(TypeError, match="a bug in the reader"):
        load_pytest_benchmark(copy.deepcopy(PYTEST_BENCHMARK), SOURCE)


def test_the_schemas_are_valid_and_name_the_field_that_fails():
    from jsonschema import Draft202012Validator

    from sepbench.results.formats import FORMATS, problem, schema, schema_documents

    assert all(schema(f)["$schema"].endswith("2020-12/schema") for f in FORMATS)
    docs = schema_documents()  # every format and the shared definitions, against the draft's metaschema
    assert {f"{f}.schema.json" for f in FORMATS} | {"defs.schema.json"} == set(docs)
    for doc in docs.values():
        Draft202012Validator.check_schema(doc)
    assert problem(PYTEST_BENCHMARK, "pytest_benchmark") is None and problem(REPRODUCE, "reproduce") is None
    bad = copy.deepcopy(REPRODUCE)
    bad["rows"][0]["test_accuracy"] = float("inf")  # infinity is no figure; NaN is "not measured"
    assert problem(bad, "reproduce") == "$.rows[0].test_accuracy: inf is not of type 'number', 'null'"
    bad["rows"][0]["test_accuracy"] = float("nan")
    assert problem(bad, "reproduce") is None
    bad["rows"][0]["batch_size"] = True  # a bool is no count
    assert problem(bad, "reproduce").startswith("$.rows[0].batch_size: True is not of type 'integer'")


def test_nan_is_a_missing_figure_never_a_name_a_label_or_a_flag():
    """Found in review: NaN counted as null for labels too, and ``NaN or fallback`` is NaN."""
    from sepbench.results.formats import problem

    ok = copy.deepcopy(REPRODUCE)
    ok["rows"][0]["test_accuracy"] = float("nan")  # not measured
    assert problem(ok, "reproduce") is None
    for path, value in ((("provenance", "machine", "machine_name"), float("nan")), (("provenance", "git", "dirty"), float("nan"))):
        doc = copy.deepcopy(REPRODUCE)
        doc["provenance"].setdefault("git", {})
        doc = _replace(doc, path, value)
        assert problem(doc, "reproduce") is not None, path
    for name in ("numpy\n", "numpy\nX", " numpy"):  # Python's $ matches before a final newline: not here
        assert problem(_replace(REPRODUCE, ("rows", 0, "backend"), name), "reproduce") is not None, repr(name)
