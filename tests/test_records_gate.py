"""The gate across processes (:mod:`sepbench.bench.records_gate`): real records of two runs of one commit
(tests/data/paired_records.json) pass; the same records slowed fail; a case's lucky narrow spread is
floored by its peers'; a single-process case's interval is widened by what a fresh process moves."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sepbench.bench.gate import CaseSamples, confirm_records, judge_case, judge_runs
from sepbench.bench.records_gate import ProcessSpread, judge_records, of_runs, process_times, run_ids, widened
from sepbench.results.paired_records import PairedIdentity, PairedRecord, ProcessFacts, read_records
from sepbench.results.slowdown import REGRESSION, SAME, Slowdown

RECORDED = Path(__file__).parent / "data" / "paired_records.json"
RUN_1, RUN_2 = "20261207T065708Z-6489", "20261207T070323Z-e357"  # two quiet runs of one commit, 2 and 3 processes a case


@pytest.fixture(scope="module")
def recorded() -> list[PairedRecord]:
    return read_records(RECORDED)


def _scaled(records: list[PairedRecord], factor: float) -> list[PairedRecord]:
    """The records as if the code had been ``factor`` times slower (both models: e.g. a backend's forward)."""
    return [
        replace(r, baseline_s=tuple(t * factor for t in r.baseline_s), candidate_s=tuple(t * factor for t in r.candidate_s))
        for r in records
    ]


def test_two_real_runs_of_one_commit_pass_and_the_same_runs_slowed_twofold_fail(recorded) -> None:
    base, run = of_runs(recorded, {RUN_1}), of_runs(recorded, {RUN_2})
    same, spread = judge_records(base, run, 0.10)
    assert same and all(v.slowdown.verdict == SAME for v in same)
    assert spread.df >= 4 and spread.variance > 0  # measured from the records, not assumed
    slowed, _ = judge_records(base, _scaled(run, 2.0), 0.10)
    assert {v.key for v in slowed} == {v.key for v in same}
    assert any(v.regressed for v in slowed)
    for v in slowed:  # every interval is about the factor, whether or not it clears the bar
        assert v.slowdown.low < 2.0 * math.exp(0.3) and v.slowdown.high > 2.0 / math.exp(0.3)
    # the interval spans what the processes moved: the recorded run's spread shows in its width
    widths = [math.log(v.slowdown.high / v.slowdown.low) for v in same]
    assert min(widths) > 0.1


def test_a_case_with_one_process_on_a_side_is_not_judged(recorded) -> None:
    base, run = of_runs(recorded, {RUN_1}), of_runs(recorded, {RUN_2})
    verdicts, _ = judge_records(base, run, 0.10)
    one = {k for k, v in process_times(run, False).items() if len(v) < 2}
    assert one and not one & {v.key for v in verdicts}


def _record(
    pid: int, run: str, model_s: tuple[float, float], backend: str = "numpy", path: str = "fast", workload: str = "w"
) -> PairedRecord:
    identity = PairedIdentity("study", "regular", "separable", backend, path, workload, 1024, 10_000, 1, "m", f"c-{run}")
    rounds = 4
    return PairedRecord(
        identity,
        (model_s[0],) * rounds,
        (model_s[1],) * rounds,
        ("regular",) * rounds,
        (0.0,) * rounds,
        ProcessFacts(run, pid, "2026-12-07T08:00:00Z", 0, 2),
        extra={"node": f"tests/bench/test_bench.py::test_separable_vs_regular_paired[{backend}-{path}-{workload}]"},
    )


def test_a_lucky_narrow_case_is_floored_by_its_peers_spread() -> None:
    """Key 'a' measured the same in every process of each run (spread 0) and 1.12x slower in the second
    run; its peer 'b' (same backend and path) scatters 15 % between processes.  Judged alone 'a' fails;
    beside its peer its interval is as wide as the peers' scatter and it passes."""
    rng = np.random.default_rng(0)

    def runs(with_peer: bool) -> tuple[list[PairedRecord], list[PairedRecord]]:
        out: tuple[list[PairedRecord], list[PairedRecord]] = ([], [])
        for side, factor in ((0, 1.0), (1, 1.12)):
            for pid in range(3):
                out[side].append(_record(pid, f"r{side}", (0.1 * factor, 0.05 * factor), workload="a"))
                if with_peer:
                    out[side].append(_record(pid, f"r{side}", tuple(0.2 * math.exp(rng.normal(0, 0.15)) for _ in range(2)), workload="b"))
        return out

    alone, _ = judge_records(*runs(False), 0.10)
    assert all(v.regressed for v in alone)
    beside, spread = judge_records(*runs(True), 0.10)
    a = [v for v in beside if v.key.identity.workload == "a"]
    assert a and not any(v.regressed for v in a) and math.sqrt(spread.variance) > 0.05


def test_confirmation_processes_clear_a_one_off_and_keep_a_real_slowdown() -> None:
    base = [_record(pid, "b", (0.1, 0.05)) for pid in range(3)]
    slow = [_record(pid, "r", (0.13 * (1 + 0.01 * pid), 0.065)) for pid in range(3)]
    outcome = judge_runs(_doc([]), _doc([]), 0.10, (base, slow))
    assert len(outcome.flagged_records) == 2 and outcome.failed == 2
    cleared = confirm_records(outcome, base, [_record(pid, "c", (0.1 * (1 + 0.01 * pid), 0.05)) for pid in range(2)])
    assert cleared.failed == 0
    kept = confirm_records(outcome, base, [_record(pid, "c", (0.13 * (1 + 0.01 * pid), 0.065)) for pid in range(2)])
    assert kept.failed == 2
    # a re-run that measured the case in one process only does not clear it
    assert confirm_records(outcome, base, [_record(0, "c", (0.1, 0.05))]).failed == 2


def _doc(cases: list[tuple[str, str, list[float]]]) -> dict:
    info = {"machine_name": "m", "versions": {"numpy": "2"}, "threads": {"requested": 1}}
    benches = [
        {
            "fullname": f"tests/bench/test_bench.py::test_predict_10k[{backend}-regular-{path}-b1024-n10000]",
            "stats": {"data": times},
            "extra_info": {"backend": backend, "path": path, "workload": "predict-10k", "run_id": "r"},
        }
        for backend, path, times in cases
    ]
    return {"machine_info": info, "benchmarks": benches}


def test_a_single_process_case_is_widened_by_its_backends_between_process_spread() -> None:
    """A latency case 1.15x slower in a run, its rounds tight: alone it fails; beside records in which its
    backend's times move 10 % between processes, the same samples pass (two runs, two process draws)."""
    rng = np.random.default_rng(1)
    base_t = list(0.1 * np.exp(rng.normal(0, 0.005, 20)))
    run_t = list(0.115 * np.exp(rng.normal(0, 0.005, 20)))
    bare = judge_case("x", CaseSamples(base_t, None), CaseSamples(run_t, None), 0.10)
    assert bare.regressed
    records = [
        [_record(pid, side, tuple(0.2 * math.exp(rng.normal(0, 0.1)) for _ in range(2)), path="fast") for pid in range(3)]
        for side in ("b", "r")
    ]
    outcome = judge_runs(_doc([("numpy", "fast", base_t)]), _doc([("numpy", "fast", run_t)]), 0.10, (records[0], records[1]))
    (case,) = outcome.verdicts
    assert case.allowance > 0.1 and not case.regressed and case.slowdown.low < 1 < case.slowdown.high
    # a backend the records do not hold borrows the pooled spread
    other = judge_runs(_doc([("torch", "fast", base_t)]), _doc([("torch", "fast", run_t)]), 0.10, (records[0], records[1]))
    assert other.verdicts[0].allowance == pytest.approx(case.allowance, rel=0.5)


def test_widening_decides_again_on_the_wider_interval() -> None:
    s = Slowdown(1.15, 1.10, 1.20, 0.10, 20, 20, False, REGRESSION)
    assert widened(s, 0.0) is s
    wide = widened(s, math.log(1.2))
    assert wide.verdict == SAME and wide.low < 1 < wide.high and wide.ratio == s.ratio
    assert widened(Slowdown(2.0, 1.9, 2.1, 0.10, 20, 20, False, REGRESSION), math.log(1.2)).verdict == REGRESSION


def test_the_runs_records_are_found_by_the_run_ids_in_its_file() -> None:
    doc = _doc([("numpy", "fast", [0.1])])
    assert run_ids(doc) == {"r"}
    assert run_ids({"benchmarks": [{"extra_info": {}}, "junk"]}) == set()


def test_the_pooled_spread_is_per_backend_and_path() -> None:
    a = {k: v for k, v in process_times([_record(p, "b", (0.1 * (1 + 0.1 * p), 0.05)) for p in range(3)], False).items()}
    b = {k: v for k, v in process_times([_record(p, "b", (0.1, 0.05 * (1 + 0.01 * p)), backend="torch") for p in range(3)], False).items()}
    spread = ProcessSpread.of(a, b)
    assert spread.for_variant(("numpy", "fast"))[0] > 10 * spread.for_variant(("torch", "fast"))[0]
    assert spread.for_variant(("litert", "int8")) == (spread.variance, spread.df)
