"""Paired records (sepbench/results/paired_records.py): one paired case in one process, raw rounds and the
process's facts, written and read back through the schema; their statistics computed when read
(sepbench/results/paired_evidence.py): grouped by identity, pooled across reruns unless started afresh,
processes short of cores set aside, one process never decides."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sepbench.core.claims import INCONCLUSIVE, NO, TIE, YES, decide
from sepbench.results.paired_evidence import ProcessEvidence, evidence_by_identity, group
from sepbench.results.paired_records import (
    PairedIdentity,
    PairedRecord,
    ProcessFacts,
    read_records,
    read_records_dir,
    records_document,
    write_records,
)
from sepbench.results.schema import ResultsError

IDENTITY = PairedIdentity("study", "regular", "separable", "numpy", "fast", "paired-predict", 1024, 10_000, 2, "epyc-x", "a" * 40)


def record(
    ratio: float, rounds: int = 8, noise: float = 0.01, seed: int = 0, *, started: str = "", others: float | None = 0.0, **kw
) -> PairedRecord:
    """A record of ``rounds`` rounds whose candidate takes ``ratio`` x the baseline's time (``noise``: relative
    sd of a round's ratio) under a load that moves both halves of a round."""
    rng = np.random.default_rng(seed)
    base = 0.1 * np.exp(rng.normal(0, 0.2, rounds))
    cand = base * ratio * np.exp(rng.normal(0, noise, rounds))
    started = started or f"2026-12-07T06:{seed % 60:02d}:00+00:00"
    process = ProcessFacts(run_id=f"run{seed}", pid=1000 + seed, started=started, position=0, cores=2, **kw)
    return PairedRecord(IDENTITY, tuple(base), tuple(cand), ("regular",) * rounds, (others,) * rounds, process)


def test_a_record_round_trips_through_its_file(tmp_path):
    recs = [record(0.5, seed=1), record(0.6, seed=2, others=None)]
    path = write_records(tmp_path / "p.json", recs)
    assert read_records(path) == recs


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda r: r["baseline_s"].__setitem__(0, -1.0), "baseline_s"),
        (lambda r: r["identity"].__setitem__("backend", "numpy\x1b[31m"), "backend"),
        (lambda r: r["identity"].__setitem__("workload", "paired-10k"), "workload"),
        (lambda r: r["identity"].__setitem__("threads", 0), "threads"),
        (lambda r: r["candidate_s"].pop(), "one baseline time, candidate time"),
        (lambda r: r["identity"].__setitem__("commit", "main; rm -rf"), "commit"),
    ],
)
def test_a_damaged_record_is_refused_naming_the_file_and_field(tmp_path, change, problem):
    doc = records_document([record(0.5)])
    change(doc["records"][0])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=problem) as err:
        read_records(path)
    assert "bad.json" in str(err.value)


def test_a_folder_reads_every_good_file_and_names_each_bad_one(tmp_path):
    write_records(tmp_path / "a.json", [record(0.5, seed=1)])
    write_records(tmp_path / "b.json", [record(0.5, seed=2)])
    (tmp_path / "c.json").write_text("{not json")
    recs, warnings = read_records_dir(tmp_path)
    assert len(recs) == 2 and len(warnings) == 1 and "c.json" in warnings[0]


def test_records_of_other_threads_or_commits_never_pool():
    a = record(0.5, seed=1)
    b = dataclasses.replace(record(0.5, seed=2), identity=dataclasses.replace(IDENTITY, threads=1))
    c = dataclasses.replace(record(0.5, seed=3), identity=dataclasses.replace(IDENTITY, commit="b" * 40 + "+dirty-0123abcd"))
    groups = group([a, b, c])
    assert len(groups) == 3 and all(len(v) == 1 for v in groups.values())


def test_a_rerun_pools_and_a_fresh_start_drops_what_came_before():
    old = [record(0.5, seed=s, started=f"2026-12-07T05:0{s}:00+00:00") for s in (1, 2)]
    rerun = record(0.5, seed=3, started="2026-12-07T06:00:00+00:00")
    assert len(group([*old, rerun])[IDENTITY]) == 3
    fresh = record(0.5, seed=4, started="2026-12-07T06:00:00+00:00", pool_since="2026-12-07T06:00:00+00:00")
    assert group([*old, fresh])[IDENTITY] == [fresh]


def _decide(records: list[PairedRecord]) -> tuple[str, ProcessEvidence]:
    (ev,) = evidence_by_identity(records)
    return decide("faster", ev.estimate()).outcome, ev


def test_one_process_never_decides_however_sure_it_is():
    outcome, ev = _decide([record(0.5, rounds=30, seed=1)])
    assert outcome == INCONCLUSIVE and ev.processes == 1
    assert "2 processes or more" in ev.estimate().note


def test_processes_that_disagree_are_inconclusive_and_the_between_part_shows():
    outcome, ev = _decide([record(0.80, seed=1), record(1.00, seed=2)])
    est = ev.estimate()
    assert outcome == INCONCLUSIVE and est.low < 0.80 and est.high > 1.00
    assert est.extra["between_share"] > 0.9 and "add processes" in est.note


@pytest.mark.parametrize("ratio, outcome", [(0.5, YES), (1.0, TIE), (1.25, NO)])
def test_agreeing_processes_decide(ratio, outcome):
    got, ev = _decide([record(ratio, seed=s) for s in (1, 2, 3)])
    assert got == outcome and ev.processes == 3
    assert ev.figures()["processes"] == 3 and ev.figures()["rounds"] == 24 and ev.figures()["threads"] == 2


def test_a_process_short_of_cores_is_set_aside_and_all_short_is_busy():
    # 2 threads on 2 cores while others held 1.2 cores: its rounds measure the scheduler, not the models
    recs = [record(0.5, seed=1), record(0.5, seed=2), record(3.0, seed=3, others=1.2)]
    outcome, ev = _decide(recs)
    assert ev.processes == 2 and outcome == YES and "set aside" in ev.estimate().note
    outcome, ev = _decide([record(3.0, seed=s, others=1.2) for s in (1, 2, 3)])
    assert outcome == INCONCLUSIVE and ev.estimate().unusable.startswith("the machine was busy")


def test_a_long_machine_name_with_a_gpu_is_a_valid_identity(tmp_path):
    name = "core13800h-14c-avx2-32g-1x-nvidia-rtx-2000-ada-generation-laptop-gpu"  # 68 characters
    rec = dataclasses.replace(record(0.5), identity=dataclasses.replace(IDENTITY, machine=name))
    assert read_records(write_records(tmp_path / "p.json", [rec])) == [rec]
