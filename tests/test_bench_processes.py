"""The process schedule of the paired cases (sepbench/bench/processes.py): which cases the next fresh
process measures, and, end to end, a main run plus the schedule's processes writing records that the
verdict reads as processes (real pytest processes on the NumPy fast path)."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

from sepbench.bench.processes import plan_of, wanted
from sepbench.results.paired_records import read_records_dir
from tests.test_paired_records import IDENTITY, record

REPO = Path(__file__).resolve().parent.parent


def _ours(r, run_id="run-a", node="n1", wall=2.0, identity=IDENTITY):
    return dataclasses.replace(
        r,
        identity=identity,
        process=dataclasses.replace(r.process, run_id=run_id),
        extra={"node": node, "wall_s": wall},
    )


OTHER = dataclasses.replace(IDENTITY, backend="torch")


def test_every_case_reaches_the_first_stage_then_only_the_undecided_go_on():
    decided = [_ours(record(0.5, seed=s)) for s in (1, 2)]  # a clear yes after two processes
    straddling = [_ours(record(0.95 + 0.02 * s, seed=s, noise=0.05), node="n2", identity=OTHER) for s in (1, 2)]
    plan = plan_of([*decided, *straddling], "run-a")
    assert plan.processes == {IDENTITY: 2, OTHER: 2} and plan.case_seconds[IDENTITY] == 2.0
    assert wanted(plan, (3, 6, 10)) == [IDENTITY, OTHER]  # both below the first stage
    third = [_ours(record(0.5, seed=3)), _ours(record(0.97, seed=3, noise=0.05), node="n2", identity=OTHER)]
    plan = plan_of([*decided, *straddling, *third], "run-a")
    assert plan.decided[IDENTITY] and not plan.decided[OTHER]
    assert wanted(plan, (3, 6, 10)) == [OTHER]  # only the undecided one goes on to 6
    assert wanted(plan, (3,)) == []  # a schedule that ends at 3 is done


def test_only_this_runs_cases_are_planned_but_earlier_runs_records_count():
    earlier = [_ours(record(0.5, seed=s), run_id="run-0") for s in (1, 2, 3)]
    plan = plan_of([*earlier, _ours(record(0.5, seed=4))], "run-a")
    assert plan.processes == {IDENTITY: 4} and wanted(plan, (3, 6)) == []  # a rerun adds evidence: nothing more to do
    assert plan_of(earlier, "run-a").nodes == {}  # a case this run did not measure is not this run's to extend


NODE = "tests/bench/test_bench.py::test_separable_vs_regular_paired[numpy-pair-fast-b1024-n10000]"


def test_a_main_run_and_its_processes_write_records_the_verdict_reads_as_processes(tmp_path: Path, mnist_dir: Path) -> None:
    """Real processes: the main pytest run measures one paired case, the schedule adds two processes
    (each a new pid, with its own environment padding), and the records pool into one identity of 3 processes."""
    # the storage is named only on the main run's command line, as nox -s bench names it: the processes find it
    env = {**os.environ, "SEPBENCH_MNIST_DIR": str(mnist_dir), "SEPBENCH_RESULTS_DIR": str(tmp_path / "elsewhere")}
    common = ["--backends", "numpy", "--threads", "1", "--quick"]
    main = [sys.executable, "-m", "pytest", NODE, "-q", "-p", "no:cacheprovider", "--run-id", "job-1"]
    main += ["--benchmark-disable", f"--benchmark-storage=file://{tmp_path / 'bench'}"]
    proc = subprocess.run([*main, *common], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (folder,) = (tmp_path / "bench" / "records").iterdir()
    cmd = [sys.executable, "-m", "sepbench.bench.processes", "--records", str(folder), "--run-id", "job-1", "--budget", "200"]
    proc = subprocess.run([*cmd, "--schedule", "3", "--", *common], cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    launched = int(re.search(r"processes: (\d+) launched", proc.stdout).group(1))
    # a busy CI runner can leave the first added process without a usable record too: the schedule then stops, saying so
    assert (launched >= 2 or "added no usable record" in proc.stdout) and not (tmp_path / "elsewhere").exists()
    records, warnings = read_records_dir(folder)
    assert not warnings and len(records) == launched + 1 and len({r.process.pid for r in records}) == launched + 1
    assert {r.identity for r in records} == {records[0].identity} and records[0].identity.threads == 1
    assert all(r.rounds >= 2 and r.extra["node"] == NODE for r in records)
    from sepbench.results.paired_evidence import evidence_by_identity

    (ev,) = evidence_by_identity(records)
    est = ev.estimate()
    # a process whose cores were taken (a busy CI runner) is recorded but not usable: the main run's is made up
    # by one more process; a later one stops the schedule (the machine is busy now), saying so
    assert ev.processes + len(ev.busy) == launched + 1 and (est.extra.get("processes") or 1) == ev.processes
    assert ev.processes == 3 or "added no usable record" in proc.stdout


def test_a_spent_budget_launches_nothing_and_says_why(tmp_path: Path) -> None:
    from sepbench.results.paired_records import write_records

    write_records(tmp_path / "a.json", [_ours(record(0.5, seed=1), run_id="job-2")])
    cmd = [sys.executable, "-m", "sepbench.bench.processes", "--records", str(tmp_path), "--run-id", "job-2", "--budget", "0"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "processes: 0 launched" in proc.stdout and "the budget has" in proc.stdout


def test_a_process_drops_pytest_benchmarks_options_and_their_values_but_keeps_the_rest():
    from sepbench.bench.processes import _without_benchmark_options

    args = ["--benchmark-sort", "mean", "--benchmark-min-rounds=5", "--quick", "--benchmark-disable-gc", "tests/bench", "-k", "numpy"]
    assert _without_benchmark_options(args) == ["--quick", "tests/bench", "-k", "numpy"]


def test_a_process_that_adds_no_usable_record_stops_the_schedule(tmp_path):
    """A node that writes nothing (here: no node at all) would otherwise be relaunched until the budget ran out."""
    from sepbench.bench.processes import run_schedule
    from sepbench.results.paired_records import write_records

    write_records(tmp_path / "a.json", [_ours(record(0.5, seed=1), run_id="job-3", node="tests/bench/test_bench.py::nothing")])
    lines: list[str] = []
    launched = run_schedule(tmp_path, "job-3", ["--no-such-option-ever"], schedule=(3,), budget_s=600, log=lines.append)
    assert launched == 1 and any("failed" in line or "no usable record" in line for line in lines)


def test_a_gated_run_gets_its_own_processes_though_pooled_records_already_suffice():
    """A compared run on the baseline's commit pools the baseline's records (3 processes: the schedule is
    done), but the gate judges each run's own processes: it still wants 2 of this run's."""
    earlier = [_ours(record(0.5, seed=s), run_id="base") for s in (1, 2, 3)]
    plan = plan_of([*earlier, _ours(record(0.5, seed=4), run_id="compared")], "compared")
    assert plan.processes == {IDENTITY: 4} and plan.own == {IDENTITY: 1}
    assert wanted(plan, (3, 6)) == [] and wanted(plan, (3, 6), own_at_least=2) == [IDENTITY]
    plan = plan_of([*earlier, *(_ours(record(0.5, seed=s), run_id="compared") for s in (4, 5))], "compared")
    assert wanted(plan, (3, 6), own_at_least=2) == []


def test_the_gates_own_processes_run_whatever_the_budget(tmp_path: Path) -> None:
    """A spent budget launches nothing, except the processes a gated run needs (here a node that writes
    nothing: launched once, then stopped for adding nothing)."""
    from sepbench.bench.processes import run_schedule
    from sepbench.results.paired_records import write_records

    write_records(tmp_path / "a.json", [_ours(record(0.5, seed=1), run_id="job-4", node="tests/bench/test_bench.py::nothing")])
    lines: list[str] = []
    assert run_schedule(tmp_path, "job-4", ["--no-such-option-ever"], schedule=(3,), budget_s=0, log=lines.append) == 0
    launched = run_schedule(tmp_path, "job-4", ["--no-such-option-ever"], schedule=(3,), budget_s=0, own_at_least=2, log=lines.append)
    assert launched == 1
