"""Fresh processes for the paired cases, on a schedule fixed in advance: after the main run (one process),
every paired case of the run is measured again in new processes until it has rounds from the first stage's
count of processes (3); a case whose verdict still straddles a band edge goes on to the next stage's (6,
then 10), while the job's time budget lasts.

Each process is ``pytest`` on the cases' node ids alone (``--benchmark-disable``: nothing is saved but the
records), in its own random order of cases, with an environment of a random size (pyperf's way to move
the stack's alignment), at the main run's threads.  What a process measured reaches the verdict through
its records file (:mod:`sepbench.bench.record_writer`); nothing here computes a statistic of its own.

Run by ``nox -s bench`` after the main run: ``python -m sepbench.bench.processes --run-id ID ... -- PYTEST ARGS``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sepbench.bench.record_writer import ENV_PAD
from sepbench.results.paired_records import PairedIdentity, PairedRecord, read_records_dir
from sepbench.results.schema import ResultsError

FULL_SCHEDULE = (3, 6, 10)  # processes per case: every case reaches the first, an undecided one the next
QUICK_SCHEDULE = (2,)
# the whole job's wall-clock targets on a 2-core machine (install, training, every process, the report)
FIRST_RUN_S = 600.0  # a run that set up its environment or trained weights
RERUN_S = 240.0  # a rerun at every core
SHORT_OF_CORES_S = 360.0  # a rerun at fewer threads than cores (other processes hold some)
QUICK_S = 180.0  # --quick
SET_UP_S = 60.0  # seconds before the benchmarks that mark a first run (a venv installed, weights trained)
REPORT_RESERVE_S = 30.0  # kept for bench-summary and the report after the processes
ENV_PAD_MAX = 4096  # bytes of the random-size variable
STARTUP_GUESS_S = 15.0  # a process's start-up (imports, collection) before one was measured


@dataclass
class ProcessPlan:
    """What the run measured so far: per identity of this run, its node id, processes and verdict."""

    nodes: dict[PairedIdentity, str]
    processes: dict[PairedIdentity, int]
    decided: dict[PairedIdentity, bool]
    case_seconds: dict[PairedIdentity, float] = field(default_factory=dict)  # one process's wall seconds for the case, set-up included
    own: dict[PairedIdentity, int] = field(default_factory=dict)  # processes of this run alone (pooled ones not counted)


def plan_of(records: Sequence[PairedRecord], run_id: str) -> ProcessPlan:
    """The identities this run measured (its records' ``run_id``), with every record that pools counted."""
    from sepbench.core.claims import INCONCLUSIVE, decide
    from sepbench.results.paired_evidence import evidence_by_identity
    from sepbench.results.schema import WORKLOAD_PAIRED_TRAIN

    ours = {r.identity: r for r in records if r.process.run_id == run_id and isinstance(r.extra.get("node"), str)}
    plan = ProcessPlan({}, {}, {})
    for ev in evidence_by_identity(r for r in records if r.identity in ours):
        i = ev.identity
        claim = "trains_faster" if i.workload == WORKLOAD_PAIRED_TRAIN else "faster"
        plan.nodes[i] = ours[i].extra["node"]
        plan.processes[i] = ev.processes
        plan.decided[i] = decide(claim, ev.estimate()).outcome != INCONCLUSIVE
        plan.own[i] = len({(r.process.pid, r.process.started) for r in records if r.identity == i and r.process.run_id == run_id})
        walls = [r.extra["wall_s"] for r in ev.records if isinstance(r.extra.get("wall_s"), (int, float))]
        plan.case_seconds[i] = float(sorted(walls)[len(walls) // 2]) if walls else 0.0
    return plan


def wanted(plan: ProcessPlan, schedule: Sequence[int], own_at_least: int = 0) -> list[PairedIdentity]:
    """The identities the next process measures: those with fewer than ``own_at_least`` processes of this
    run (the gate compares runs: each needs its own), else below the first stage's count, or undecided and
    below a later stage's (the lowest stage not yet reached decides which)."""
    if not plan.nodes:
        return []
    short = [i for i in plan.nodes if plan.own.get(i, 0) < own_at_least]
    if short:
        return sorted(short)
    for stage, target in enumerate(schedule):
        need = [i for i in plan.nodes if plan.processes[i] < target and (stage == 0 or not plan.decided[i])]
        if need:
            return sorted(need)
    return []


def pytest_command(
    nodes: Sequence[str],
    backends: Sequence[str],
    pytest_args: Sequence[str],
    run_id: str,
    threads: int,
    pool_since: str,
    storage: Path,
) -> list[str]:
    """One process's command line: the nodes, the user's pytest options, only the ``backends`` the nodes
    run (collection builds a model on every selected backend), nothing saved but the records, which go
    beside the main run's (``storage``: the pytest-benchmark storage the records folder belongs to)."""
    from sepbench.bench.nox_args import pop_option

    keep = list(pytest_args)
    for name in ("--threads", "--run-id", "--pool-since", "--backends"):
        keep = pop_option(keep, name)[1]
    keep = _without_benchmark_options(keep)
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--benchmark-disable",
        f"--benchmark-storage=file://{storage}",
        *keep,
        "--backends",
        ",".join(dict.fromkeys(backends)),
        "--threads",
        str(threads),
        "--run-id",
        run_id,
        *(["--pool-since", pool_since] if pool_since else []),
        *nodes,
    ]


def _without_benchmark_options(args: list[str]) -> list[str]:
    """``args`` less pytest-benchmark's options (a process saves nothing), their values too where given as the
    next word (``--benchmark-sort mean``): a word that names no file or test is taken for a value."""
    out: list[str] = []
    it = iter(range(len(args)))
    for i in it:
        arg = args[i]
        if not arg.startswith("--benchmark-"):
            out.append(arg)
            continue
        nxt = args[i + 1] if i + 1 < len(args) else None
        if "=" not in arg and nxt is not None and not nxt.startswith("-") and not os.path.exists(nxt.split("::")[0]):
            next(it, None)  # its value
    return out


def run_schedule(
    records_folder: Path,
    run_id: str,
    pytest_args: Sequence[str],
    *,
    schedule: Sequence[int] = FULL_SCHEDULE,
    budget_s: float,
    pool_since: str = "",
    own_at_least: int = 0,
    log: object = print,
) -> int:
    """Launch processes until every case of the run is where the schedule wants it or the budget is spent;
    the number of processes launched.  ``own_at_least``: processes of this run every case gets whatever the
    budget (a saved baseline and a compared run: the gate judges each run's own processes)."""
    deadline = time.monotonic() + budget_s
    startup = STARTUP_GUESS_S
    launched = 0
    before: dict[PairedIdentity, tuple[int, int]] | None = None
    while True:
        try:
            records, warnings = read_records_dir(records_folder)
        except ResultsError as exc:  # too many files to read: the main run's records still decide
            log(f"processes: {exc}; no more processes")
            return launched
        for w in warnings:
            log(f"processes: {w}")
        plan = plan_of(records, run_id)
        if before is not None and not _progressed(plan, before, own_at_least):
            log("processes: the last process added no usable record (its cores were taken, or it wrote none); stopping")
            return launched
        need = wanted(plan, schedule, own_at_least)
        if not need:
            return launched
        cost = startup + sum(plan.case_seconds[i] for i in need)
        left = deadline - time.monotonic()
        required = all(plan.own.get(i, 0) < own_at_least for i in need)
        if cost > left and not required:  # a process cut short would leave nothing usable for the cases it did not reach
            fits = _fitting(need, plan, left - startup)
            if not fits:
                log(
                    f"processes: the budget has {left:.0f} s left, the next process needs about {cost:.0f} s: "
                    f"stopping ({len(need)} cases wanted more)"
                )
                return launched
            need = fits
        target = next((t for t in schedule if min(plan.processes[i] for i in need) < t), schedule[-1])
        log(f"process {launched + 2}: {len(need)} paired cases towards {target} processes each, {need[0].threads} thread(s)")
        env = {**os.environ, ENV_PAD: "x" * secrets.randbelow(ENV_PAD_MAX + 1)}
        start = time.monotonic()
        storage = records_folder.parent.parent  # <storage>/records/<machine>
        command = pytest_command(
            [plan.nodes[i] for i in need], [i.backend for i in need], pytest_args, run_id, need[0].threads, pool_since, storage
        )
        done = subprocess.run(command, env=env)
        launched += 1
        before = {i: (plan.own.get(i, 0), plan.processes[i]) for i in need}
        if done.returncode not in (0, 5):
            log(f"processes: a process failed (exit {done.returncode}); stopping")
            return launched
        startup = max(1.0, time.monotonic() - start - sum(plan.case_seconds[i] for i in need))


def _progressed(plan: ProcessPlan, before: dict[PairedIdentity, tuple[int, int]], own_at_least: int) -> bool:
    """Whether the last process added something for a case it ran: a record of this run, and (past the
    gate's own processes) a usable one; ``before``: each case's (own, usable) processes before it."""
    return any(
        plan.own.get(i, 0) > own and (own < own_at_least or plan.processes.get(i, 0) > usable) for i, (own, usable) in before.items()
    )


def _fitting(need: list[PairedIdentity], plan: ProcessPlan, seconds: float) -> list[PairedIdentity]:
    """The wanted cases (fewest processes first) whose cost fits ``seconds``."""
    out, total = [], 0.0
    for i in sorted(need, key=lambda i: (plan.processes[i], plan.case_seconds[i])):
        if total + plan.case_seconds[i] <= seconds:
            out.append(i)
            total += plan.case_seconds[i]
    return sorted(out)


def job_budget(elapsed_s: float, setup_s: float, threads: int, cores: int, quick: bool) -> float:
    """Seconds the extra processes may take: the job's target less what it spent so far and the report's
    reserve.  The target is :data:`FIRST_RUN_S` after a set-up of more than :data:`SET_UP_S`, else
    :data:`SHORT_OF_CORES_S` at fewer threads than cores, else :data:`RERUN_S` (:data:`QUICK_S` for
    ``--quick``)."""
    if quick:
        target = QUICK_S
    elif setup_s > SET_UP_S:
        target = FIRST_RUN_S
    else:
        target = SHORT_OF_CORES_S if threads < cores else RERUN_S
    return max(0.0, target - elapsed_s - REPORT_RESERVE_S)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sepbench.bench.processes", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", required=True, help="this machine's records folder")
    p.add_argument("--run-id", required=True)
    p.add_argument(
        "--budget", type=float, default=None, help="seconds the processes may take in all (default: the job's target less --elapsed)"
    )
    p.add_argument("--elapsed", type=float, default=0.0, help="seconds the job has run so far")
    p.add_argument("--setup", type=float, default=0.0, help="seconds the job spent before the benchmarks (install, training)")
    p.add_argument("--schedule", default=",".join(map(str, FULL_SCHEDULE)), help="processes per case, stage by stage (default 3,6,10)")
    p.add_argument("--pool-since", default="")
    p.add_argument(
        "--own-at-least", type=int, default=0, help="processes of this run every case gets, whatever the budget (a gated run: 2)"
    )
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    schedule = tuple(int(x) for x in args.schedule.split(","))
    extra = [a for a in args.pytest_args if a != "--"]
    budget = args.budget
    if budget is None:
        from sepbench.machine.threads import usable_cores

        try:
            records, _ = read_records_dir(Path(args.records))
        except ResultsError:
            records = []
        threads = min((r.identity.threads for r in records if r.process.run_id == args.run_id), default=usable_cores())
        budget = job_budget(args.elapsed, args.setup, threads, usable_cores(), "--quick" in extra)
        print(f"processes: {budget:.0f} s of the job's budget left for them ({args.elapsed:.0f} s spent, {args.setup:.0f} s of it set-up)")
    since, own = args.pool_since, args.own_at_least
    n = run_schedule(Path(args.records), args.run_id, extra, schedule=schedule, budget_s=budget, pool_since=since, own_at_least=own)
    print(f"processes: {n} launched after the main run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
