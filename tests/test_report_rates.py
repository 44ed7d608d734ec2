"""Section 4 of the report: the alert and gate studies (``sepbench ab-rates``, ``sepbench check gate-rates``).

Rates files are written here as ``run_and_save`` writes them: rows from the study's own
:class:`~sepbench.checks.ab_rates.FactorResult`, a configuration as ``run_ab_rates`` / ``run_gate_rates`` record
it, ``kind`` and ``collect_provenance()``.  Checks: each kind shows with its rate and 95 % interval,
the newest study per machine and kind wins, malformed study files are warnings naming them (the
report is still built), and without a study the section is left out with a note naming the commands.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepbench.checks.ab_rates import FactorResult

REPO = Path(__file__).resolve().parent.parent
BASE = "0123456789abcdef0123456789abcdef01234567"
ALERT_SLOWED = "numpy-regular-default-b10-n1000"
GATE_SLOWED = "tests/bench/test_bench.py::test_evaluate[numpy-regular-default-b32-n10000]"
TITLE = "4. The slowdown checks: measured hit and false-alarm rates"


def _factor(factor: float, trials: int, hits: int, other: int, slowdown: float, walls: tuple[float, ...]) -> dict[str, Any]:
    """One factor's row exactly as the study writes it (FactorResult.row)."""
    r = FactorResult(factor, "slowed")
    walls = list(walls) + [walls[0]] * (trials - len(walls))
    for i in range(trials):  # the slowed case alerts in the first `hits` trials, another case in the last `other`
        alarms = {**({"slowed": slowdown} if i < hits else {}), **({"other": 1.0} if i >= trials - other else {})}
        r.record(i + 1, slowdown, i < hits, alarms, walls[i])
    return r.row()


@pytest.fixture(scope="module")
def provenance() -> dict[str, Any]:
    from sepbench.machine.provenance import collect_provenance

    return collect_provenance(extra={"threads": 1})


def _study(prov: dict[str, Any], kind: str, machine: str, created: str, rows: list[dict], base: str = BASE) -> dict[str, Any]:
    prov = copy.deepcopy(prov)
    prov["machine"]["machine_name"] = machine
    prov["created"] = created
    doc: dict[str, Any] = {"base": base, "trials_per_factor": rows[0]["trials"], "rows": rows, "wall_s": 600.0}
    if kind == "ab-rates":
        doc |= {
            "cases": [ALERT_SLOWED, "torch-regular-default-b1-n1"],
            "slowed_case": ALERT_SLOWED,
            "alert": {"rounds": 20, "min_effect": 0.05, "confirm": 1, "sample_s": 0.02},
        }
    else:
        doc |= {
            "cases": [GATE_SLOWED, "tests/bench/test_bench.py::test_predict[torch-regular-default-b1-n1]"],
            "slowed_case": GATE_SLOWED,
            "options": ["--backends", "numpy,torch", "--threads", "1"],
            "gate": {"min_effect": 0.1, "confirm": 1, "baseline_cases_median_s": {GATE_SLOWED: 0.41}},
        }
    return doc | {"kind": kind, "provenance": prov}


def _alert_doc(prov: dict[str, Any], machine: str = "box-a", created: str = "2026-11-29T21:42:12+00:00", **kw: Any) -> dict[str, Any]:
    rows = [
        _factor(1.0, 20, hits=1, other=1, slowdown=1.003, walls=(5.1, 9.7)),  # 1 + 1: two trials with an alert, all false
        _factor(1.05, 20, hits=2, other=0, slowdown=1.05, walls=(5.8, 9.2)),
        _factor(1.1, 20, hits=18, other=0, slowdown=1.094, walls=(6.8, 13.7)),
    ]
    return _study(prov, "ab-rates", machine, created, rows, **kw)


def _gate_doc(prov: dict[str, Any], machine: str = "box-a", created: str = "2026-11-30T08:00:00+00:00") -> dict[str, Any]:
    rows = [
        _factor(1.0, 10, hits=0, other=0, slowdown=1.001, walls=(40.0, 55.0)),
        _factor(1.25, 10, hits=10, other=1, slowdown=1.24, walls=(42.0, 61.0)),
    ]
    return _study(prov, "gate-rates", machine, created, rows)


def _write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))  # NaN as NaN, as atomic_write_json writes it
    return path


def _reproduce(results: Path) -> Path:
    """A small reproduce file (real schema functions), so the rest of the report has figures."""
    from sepbench.results.schema import make_results, write_results

    rows = [
        {"backend": "numpy", "model": "regular", "params": 8586, "test_accuracy": 0.92, "eval_seconds": 0.41},
        {"backend": "numpy", "model": "separable", "params": 1427, "test_accuracy": 0.90, "eval_seconds": 0.35},
    ]
    prov = {"created": "2026-11-29T00:00:00+00:00", "machine": {"machine_name": "box-a"}, "git": {"commit": BASE}}
    return write_results(results / "reproduce-20261129T000000Z.json", make_results("reproduce", rows, prov))


def _build(tmp_path: Path, results: Path):
    from sepbench.report.build import build_report

    return build_report([results], [tmp_path / "no-asv"], tmp_path / "out")


def _row(table, study: str, factor: float, machine: str = "box-a"):
    got = table[(table["check"] == study) & (table["machine"] == machine) & (table["factor"] == factor)]
    assert len(got) == 1, table.to_string()
    return got.iloc[0]


# ---------------------------------------------------------------- tests


def test_a_study_of_each_kind_shows_with_its_rate_and_95_interval(tmp_path: Path, provenance: dict) -> None:
    results = tmp_path / "results"
    _reproduce(results)
    alert = _write(results / "ab-rates-box-a-20261129T214212Z.json", _alert_doc(provenance))
    gate = _write(results / "gate-rates-box-a-20261130T080000Z.json", _gate_doc(provenance))
    report = _build(tmp_path, results)
    assert report.warnings == []
    assert report.loaded.files["ab-rates"] == [alert] and report.loaded.files["gate-rates"] == [gate]
    sec = report.sections["check_rates"]
    assert sec.title == TITLE
    raw = sec.raw
    assert len(raw) == 5 and list(raw["check"]) == ["ab-rates"] * 3 + ["gate-rates"] * 2
    # 18 hits in 20 trials: 0.90 in the Wilson interval [0.699, 0.972] (z = 1.96)
    hit = _row(raw, "ab-rates", 1.1)
    assert (hit["trials"], hit["alerts"], hit["rate"]) == (20, 18, 0.9)
    assert hit["rate_low"] == pytest.approx(0.6989663528, abs=1e-9) and hit["rate_high"] == pytest.approx(0.9721335190, abs=1e-9)
    assert hit["measured_slowdown"] == pytest.approx(1.094) and hit["other_false_alarms"] == 0
    assert (hit["wall_s_median"], hit["wall_s_max"]) == (6.8, 13.7)
    assert (hit["commit"], hit["date"], hit["source_file"]) == (BASE, "2026-11-29T21:42:12+00:00", str(alert))
    # at 1.00 every alert is a false alarm: the slowed case's one and the other case's one
    noop = _row(raw, "ab-rates", 1.0)
    assert (noop["alerts"], noop["rate"], noop["other_false_alarms"]) == (2, 0.1, 1)
    assert noop["rate_low"] == pytest.approx(0.0278664810, abs=1e-9) and noop["rate_high"] == pytest.approx(0.3010336472, abs=1e-9)
    gate_hit = _row(raw, "gate-rates", 1.25)
    assert (gate_hit["alerts"], gate_hit["rate"], gate_hit["other_false_alarms"]) == (10, 1.0, 1)
    assert gate_hit["rate_low"] == pytest.approx(0.7224672, abs=1e-6) and gate_hit["rate_high"] == pytest.approx(1.0)
    gate_noop = _row(raw, "gate-rates", 1.0)
    assert (gate_noop["alerts"], gate_noop["rate"], gate_noop["rate_low"]) == (0, 0.0, 0.0)
    assert gate_noop["rate_high"] == pytest.approx(0.2775327, abs=1e-6)
    # shown: per cent with the interval, alerts named for what they are, median / max wall time
    shown = sec.shown.set_index(["check", "factor"])
    assert shown.loc[("ab-rates", "1.10"), "rate"] == "90 %"
    assert shown.loc[("ab-rates", "1.10"), "95 % interval"] == "70 % - 97 %"
    assert shown.loc[("ab-rates", "1.10"), "alerts"] == "18 hits"
    assert shown.loc[("ab-rates", "1.00"), "alerts"] == "2 false alarms"
    assert shown.loc[("ab-rates", "1.10"), "wall s (median / max)"] == "6.8 / 13.7"
    assert shown.loc[("ab-rates", "1.10"), "date (UTC)"] == "2026-11-29 21:42"
    assert shown.loc[("ab-rates", "1.10"), "commit"] == BASE[:10]
    assert shown.loc[("gate-rates", "1.25"), "95 % interval"] == "72 % - 100 %"
    # the caption: what an alert means at 1.00 and above, and each study's configuration
    assert "At factor 1.00 every alert is a false alarm" in sec.note and "an alert on the slowed case is a hit" in sec.note
    assert "ab-rates on box-a: rounds 20, min_effect 0.05, confirm 1" in sec.note
    assert "gate-rates on box-a: min_effect 0.1;" in sec.note and GATE_SLOWED in sec.note
    assert not [m for m in report.missing if "rates" in m]
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"## {TITLE}" in md and "| ab-rates   | box-a" in md and "| 1.10     | 20       | 18 hits" in md
    html = (tmp_path / "out" / "index.html").read_text()
    assert 'data-section="check_rates"' in html and "70 % - 97 %" in html
    assert (tmp_path / "out" / "check_rates.csv").read_text().count("\n") == 6  # header + 5 factors
    srcs = report.sections["sources"].raw
    assert set(srcs[srcs["source_kind"].isin(["ab-rates", "gate-rates"])]["measurements"]) == {3, 2}


def test_the_newest_study_of_each_kind_per_machine_is_shown(tmp_path: Path, provenance: dict) -> None:
    results = tmp_path / "results"
    _reproduce(results)
    # file names sort the other way round from the dates: the date written decides
    _write(results / "z-old.json", _alert_doc(provenance, created="2026-11-01T00:00:00+00:00", base="1" * 40))
    _write(results / "a-new.json", _alert_doc(provenance, created="2026-11-20T00:00:00+00:00", base="2" * 40))
    _write(results / "other.json", _alert_doc(provenance, machine="box-b", created="2026-10-01T00:00:00+00:00", base="3" * 40))
    report = _build(tmp_path, results)
    raw = report.sections["check_rates"].raw
    assert raw.groupby("machine")["commit"].unique().map(list).to_dict() == {"box-a": ["2" * 40], "box-b": ["3" * 40]}
    assert len(raw) == 6
    assert any("No gate-rates result" in m and "`sepbench check gate-rates`" in m for m in report.missing)
    assert not any("No ab-rates result" in m for m in report.missing)


BAD = {
    "no-rows": lambda d: d.pop("rows"),
    "rows-not-a-list": lambda d: d.__setitem__("rows", {"factor": 1.0}),
    "rows-empty": lambda d: d.__setitem__("rows", []),
    "row-not-an-object": lambda d: d["rows"].__setitem__(1, [1.05, 20]),
    "string-factor": lambda d: d["rows"][2].__setitem__("factor", "1.10"),
    "string-trials": lambda d: d["rows"][0].__setitem__("trials", "20"),
    "bool-alerts": lambda d: d["rows"][0].__setitem__("alerts", True),
    "rate-not-alerts-over-trials": lambda d: d["rows"][2].__setitem__("rate", 0.5),
    "interval-missing-the-rate": lambda d: d["rows"][2].__setitem__("rate_high", 0.8),
    "more-alerts-than-trials": lambda d: d["rows"][2].__setitem__("alerts", 21),
    "slowdown-a-string": lambda d: d["rows"][1].__setitem__("measured_slowdown", "fast"),
    "no-alert-config": lambda d: d.pop("alert"),
    "provenance-a-list": lambda d: d.__setitem__("provenance", []),
    "duplicate-factor": lambda d: d["rows"][1].__setitem__("factor", 1.0),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_malformed_study_is_a_warning_naming_the_file(tmp_path: Path, provenance: dict, name: str) -> None:
    from sepbench.results.sources import load_all

    doc = _alert_doc(provenance)
    BAD[name](doc)
    bad = _write(tmp_path / "results" / f"ab-rates-{name}.json", doc)
    _write(tmp_path / "results" / "gate.json", _gate_doc(provenance))
    loaded = load_all([tmp_path / "results"], [])
    assert len(loaded.warnings) == 1 and loaded.warnings[0].startswith(f"skipped {bad}: not a well-formed rates file")
    assert loaded.files["ab-rates"] == [] and set(loaded.rates["kind"]) == {"gate-rates"}


def test_malformed_studies_never_break_the_report(tmp_path: Path, provenance: dict) -> None:
    """``sepbench report`` as a user runs it: every malformed study named on stderr, no traceback, the good ones shown."""
    results = tmp_path / "results"
    _reproduce(results)
    names = []
    for name, spoil in BAD.items():
        doc = _alert_doc(provenance)
        spoil(doc)
        names.append(_write(results / f"ab-rates-{name}.json", doc).name)
    _write(results / "gate.json", _gate_doc(provenance))
    untagged = _alert_doc(provenance)
    del untagged["kind"], untagged["provenance"]
    _write(results / "study20.json", untagged)  # as the first studies were written
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sepbench", "report", "--results", str(results), "--asv-results", str(tmp_path / "no-asv")]
    proc = subprocess.run([*cmd, "--output", str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for name in names:
        assert f"warning: skipped {results / name}: not a well-formed rates file" in proc.stderr, name
    assert f'skipped {results / "study20.json"}: an ab-rates or gate-rates file without "kind"' in proc.stderr
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"## {TITLE}" in md and "| gate-rates | box-a" in md and "| ab-rates " not in md
    assert "string-factor.json" in md  # listed under "Skipped files"
    assert "No ab-rates result" in md and "`nox -s check-ab-rates`" in md


def test_no_study_leaves_section_4_out_with_a_note_naming_the_commands(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _reproduce(results)
    report = _build(tmp_path, results)
    assert "check_rates" not in report.sections
    notes = [m for m in report.missing if "rates" in m]
    assert len(notes) == 1 and "`nox -s check-ab-rates`" in notes[0] and "`sepbench check gate-rates`" in notes[0]
    md = (tmp_path / "out" / "report.md").read_text()
    assert TITLE not in md and "No measured hit and false-alarm rates" in md
    assert not (tmp_path / "out" / "check_rates.csv").exists()


def test_study_files_alone_make_a_report(tmp_path: Path, provenance: dict) -> None:
    results = tmp_path / "results"
    _write(results / "ab-rates-box-a-20261129T214212Z.json", _alert_doc(provenance))
    report = _build(tmp_path, results)
    assert list(report.sections["check_rates"].raw["factor"]) == [1.0, 1.05, 1.1]
    assert any("No `sepbench reproduce` result" in m for m in report.missing)
    assert report.loaded.measurements.empty and (tmp_path / "out" / "index.html").is_file()


def test_machine_and_date_come_from_the_file_name_when_provenance_lacks_them(tmp_path: Path, provenance: dict) -> None:
    from sepbench.results.sources import load_all

    doc = _alert_doc(provenance)
    doc["provenance"] = {"machine": {"machine_name": None}}  # no name, no date
    _write(tmp_path / "r" / "ab-rates-xeon-f6m207-2c-avx512-24g-20261129T214212Z-2.json", doc)
    loaded = load_all([tmp_path / "r"], [])
    assert loaded.warnings == []
    assert set(loaded.rates["machine"]) == {"xeon-f6m207-2c-avx512-24g"}
    assert set(loaded.rates["created"]) == {"2026-11-29T21:42:12+00:00"}
    # a name of the wrong kind is a malformed file, named with its field (not silently replaced)
    doc["provenance"] = {"machine": {"machine_name": 7}}
    _write(tmp_path / "r" / "ab-rates-xeon-f6m207-2c-avx512-24g-20261129T214212Z-2.json", doc)
    loaded = load_all([tmp_path / "r"], [])
    assert loaded.rates.empty and len(loaded.warnings) == 1
    assert "$.provenance.machine.machine_name: 7 is not of type 'string' or null" in loaded.warnings[0]


# ---------------------------------------------------------------- any content: rows or a ResultsError

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
VALID = _study(
    {"created": "2026-11-29T21:42:12+00:00", "machine": {"machine_name": "box"}, "git": {"commit": BASE}},
    "ab-rates",
    "box",
    "2026-11-29T21:42:12+00:00",
    [_factor(1.0, 4, 0, 1, 1.0, (5.0,)), _factor(1.1, 4, 3, 0, 1.1, (6.0, float("nan")))],
)


def _paths(doc: Any, prefix: tuple = ()):
    yield prefix
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        yield from _paths(v, (*prefix, k))


def _rows_or_results_error(doc: Any) -> list[dict]:
    """What the report does with a study document: rows, tabulated and formatted without an error, or a ResultsError."""
    from sepbench.report import fmt
    from sepbench.report.sections.rates import check_rates
    from sepbench.results.read_rates import frame, load_rates
    from sepbench.results.schema import ResultsError

    try:
        rows = load_rates(doc, Path("/nonexistent/study.json"))
    except ResultsError:
        return []
    table = check_rates(frame(rows))
    fmt.rates(table), fmt.rate_configs(table)
    assert all(math.isfinite(r["factor"]) and 0 <= r["rate_low"] <= r["rate"] + 1e-6 for r in rows)
    return rows


def test_the_valid_document_gives_rows() -> None:
    assert [r["alerts"] for r in _rows_or_results_error(copy.deepcopy(VALID))] == [1, 3]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=JSON)
def test_arbitrary_json_as_a_study_gives_rows_or_a_results_error(doc: Any) -> None:
    if isinstance(doc, dict):
        doc["kind"] = "gate-rates"
    _rows_or_results_error(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=JSON)
def test_a_study_with_any_one_value_replaced_gives_rows_or_a_results_error(data: st.DataObject, value: Any) -> None:
    path = data.draw(st.sampled_from([p for p in _paths(VALID) if p]))
    doc = copy.deepcopy(VALID)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _rows_or_results_error(doc)


def test_a_rates_file_of_the_old_kinds_reads_as_the_new(tmp_path: Path, provenance: dict) -> None:
    """Files written before the checks were one family ("alert-study", "gate-study") still count, under the new names."""
    results = tmp_path / "results"
    _reproduce(results)
    old_alert = _alert_doc(provenance) | {"kind": "alert-study"}
    old_gate = _gate_doc(provenance) | {"kind": "gate-study"}
    alert = _write(results / "alert-study-box-a-20261129T214212Z.json", old_alert)
    gate = _write(results / "gate-study-box-a-20261130T080000Z.json", old_gate)
    report = _build(tmp_path, results)
    assert report.warnings == []
    assert report.loaded.files["ab-rates"] == [alert] and report.loaded.files["gate-rates"] == [gate]
    raw = report.sections["check_rates"].raw
    assert list(raw["check"]) == ["ab-rates"] * 3 + ["gate-rates"] * 2
    assert _row(raw, "ab-rates", 1.1)["rounds"] == 20 and pd.isna(_row(raw, "gate-rates", 1.0)["rounds"])
