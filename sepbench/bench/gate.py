"""The benchmark gate: is a pytest-benchmark run slower than a saved baseline, case by case?

Two saved runs are minutes apart, so nothing pairs their samples; each case is judged on both runs'
samples (``--benchmark-save-data``) by :func:`sepbench.results.slowdown.judge`, unpaired: the ratio of
medians with a 95 % bootstrap interval must exceed ``1 + threshold`` and the interval must lie above 1.

* **Normalized by the machine's speed.**  A shared machine has slow spells of seconds (another tenant,
  a lower clock) that slowed a case by up to 1.57x between two runs of the same code here.  Every round
  is preceded by a small reference matmul (``extra_info["reference_s"]``); each sample is divided by
  its round's reference, which cancels most of such a spell (1.57x -> 1.13x in the same runs).  Runs
  whose references differ in kind (``extra_info["reference_kind"]``: older runs timed it in every BLAS
  thread) are compared undivided.
* **The case's own spread.**  The threshold is the larger of ``min_effect`` and the case's spread
  within the baseline run (interquartile range over median); cases known to be noisy here (batch 1,
  Keras's ``predict``) use the 10th-90th percentile spread, so their moving tail does not fail the gate.
  A case whose spread exceeds :data:`MAX_THRESHOLD` (quartiles a whole median apart: one call took
  seconds once) is **too noisy to judge finely**: it fails only beyond ``1 + MAX_THRESHOLD`` (twice as
  slow) and the gate names it, instead of deriving a threshold nobody could meet.
* **Across processes.**  Where both runs wrote paired records (``nox -s bench`` runs the paired cases in
  several fresh processes), each model's time in each paired case is judged over the processes of both
  runs, and every single-process case's interval is widened by what a fresh process moves its backend's
  times by (:mod:`sepbench.bench.records_gate`): two runs are two process draws.
* **Confirmed.**  A flagged case is timed again (:func:`rerun_command`; a flagged paired case in fresh
  processes) and fails only if the rerun is flagged too.

A baseline from another machine fingerprint, other package versions or other thread settings is not
compared: the gate says so (:class:`NotComparable`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sepbench.bench.machine_info import machine_differences
from sepbench.bench.nox_args import DEFAULT_MIN_EFFECT as MIN_EFFECT  # the smallest slowdown that fails (a fraction)
from sepbench.bench.records_gate import ProcessSpread, RecordVerdict, judge_records, widened
from sepbench.results.paired_records import PairedRecord
from sepbench.results.schema import WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE, WORKLOAD_PAIRED_TRAIN, WORKLOAD_SEEDS
from sepbench.results.slowdown import MAX_SAMPLES, MIN_SAMPLES, Slowdown, judge, spread

CONFIRM_PROCESSES = 2  # fresh processes that time a flagged paired case again (a between-process judgement needs 2)
LOAD_SHIFT = 0.5  # cores: a case run while others held more than this beyond the baseline's is not judged slower
MAX_THRESHOLD = 1.0  # a spread beyond this (a fraction of the median) marks the case too noisy to judge finely

# cases that decide a claim in one adaptive round (paired rounds, the cached seeds): no latency to gate
NOT_GATED = (WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE, WORKLOAD_PAIRED_TRAIN, WORKLOAD_SEEDS)


class GateError(ValueError):
    """A run the gate cannot use (no samples saved, not a pytest-benchmark file); the message says what to do."""


class NotComparable(GateError):
    """The baseline was made on another set-up (machine, versions, threads): comparing it would mislead."""


@dataclass(frozen=True)
class CaseVerdict:
    name: str  # the case's pytest node id
    slowdown: Slowdown
    threshold: float  # the fraction applied: max(min_effect, the case's spread), at most MAX_THRESHOLD
    normalized: bool = False  # judged on times divided by the reference matmul of their round
    spread: float = 0.0  # the baseline's own spread (a fraction of its median)
    allowance: float = 0.0  # the between-process half-width (log) added to the interval (0: no records)
    load_shift: float | None = None  # cores other processes held during the run's case less during the baseline's

    @property
    def too_noisy(self) -> bool:
        """The baseline scattered more than :data:`MAX_THRESHOLD`: only a doubling fails it."""
        return self.spread > MAX_THRESHOLD

    @property
    def busier(self) -> bool:
        """Slower while other processes held more of the machine than during the baseline's case (by more
        than :data:`LOAD_SHIFT` cores): the load's doing as much as the code's, so not judged a regression."""
        return self.slowdown.regressed and self.load_shift is not None and self.load_shift > LOAD_SHIFT

    @property
    def regressed(self) -> bool:
        return self.slowdown.regressed and not self.busier


@dataclass
class GateOutcome:
    verdicts: list[CaseVerdict]
    missing: list[str] = field(default_factory=list)  # cases of the baseline not in the run
    confirmed: list[CaseVerdict] = field(default_factory=list)  # the reruns' verdicts of the flagged cases
    record_verdicts: list[RecordVerdict] = field(default_factory=list)  # each model of each paired case, over processes
    confirmed_records: list[RecordVerdict] | None = None  # the re-run processes' verdicts of the flagged ones
    spread: ProcessSpread | None = None  # what a fresh process moves a time by (None: no records)
    confirmed_by: str = "re-run"  # how the flagged cases were timed again: "re-run", or "A/B rounds" (sepbench.checks.gate_ab)

    @property
    def flagged(self) -> list[CaseVerdict]:
        return [v for v in self.verdicts if v.regressed]

    @property
    def flagged_records(self) -> list[RecordVerdict]:
        return [v for v in self.record_verdicts if v.regressed]

    @property
    def regressions(self) -> list[CaseVerdict]:
        """Flagged cases whose rerun was flagged too (all flagged ones until reruns are judged).  A rerun that
        was slower again under more load than the baseline's counts as flagged: the load may excuse a first
        run, but a slower rerun shows nothing that clears one flagged without it."""
        if not self.confirmed:
            return self.flagged
        again = {v.name for v in self.confirmed if v.slowdown.regressed}
        return [v for v in self.flagged if v.name in again]

    @property
    def record_regressions(self) -> list[RecordVerdict]:
        """Flagged paired-case models whose re-run processes were flagged too (all flagged ones until then)."""
        if self.confirmed_records is None:
            return self.flagged_records
        again = {v.key for v in self.confirmed_records if v.regressed}
        return [v for v in self.flagged_records if v.key in again]

    @property
    def failed(self) -> int:
        """Confirmed regressions of either kind."""
        return len(self.regressions) + len(self.record_regressions)

    @property
    def judged(self) -> int:
        return len(self.verdicts) + len(self.record_verdicts)


@dataclass(frozen=True)
class CaseSamples:
    """One case's times in one run: ``times`` (seconds per call) and ``reference`` (the reference matmul
    timed before each round, seconds; ``None`` where the run did not record one per round)."""

    times: list[float]
    reference: list[float] | None
    reference_kind: str | None = None  # what the reference timed (``extra_info["reference_kind"]``; None: older runs)
    others_cores: float | None = None  # cores other processes kept busy while the case ran (None: not recorded)

    def judged(self, other: CaseSamples) -> list[float]:
        """The times to judge beside ``other``'s: divided by the reference when both runs timed the same one."""
        if self.reference is None or other.reference is None or self.reference_kind != other.reference_kind:
            return self.times
        return [t / r for t, r in zip(self.times, self.reference)]


def samples(doc: dict[str, Any], what: str) -> dict[str, CaseSamples]:
    """Each case's samples in a pytest-benchmark run, by its node id (``fullname``); ``what`` names the run
    (and its file) in a :class:`GateError`, which also names the field (``$.benchmarks[3].fullname``)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise GateError(f"{what}: not a pytest-benchmark run (no 'benchmarks' list)")
    out = {}
    for i, bench in enumerate(doc["benchmarks"]):
        at = f"$.benchmarks[{i}]"
        if isinstance(bench, dict) and (bench.get("extra_info") or {}).get("workload") in NOT_GATED:
            continue
        data = (bench.get("stats") or {}).get("data") if isinstance(bench, dict) else None
        if not data or not isinstance(data, list):
            name = bench.get("fullname", "?") if isinstance(bench, dict) else "?"
            raise GateError(
                f"{what}: {at}.stats.data: {name} has no saved samples (saved without --benchmark-save-data, "
                "e.g. by an older sepbench): save a new baseline with `nox -s bench -- --save-as NAME`"
            )
        try:
            name = check_node_id(bench.get("fullname"))
        except GateError as exc:
            raise GateError(f"{what}: {at}.fullname: {exc}") from None
        if name in out:  # the later would silently replace the earlier: which one was measured?
            raise GateError(f"{what}: {at}: case {name} appears twice; a run holds each case once")
        if not MIN_SAMPLES <= len(data) <= MAX_SAMPLES:
            raise GateError(f"{what}: {at}.stats.data: {name} holds {len(data):,} samples; the gate takes {MIN_SAMPLES} to {MAX_SAMPLES:,}")
        try:
            times = [float(t) for t in data]
        except (TypeError, ValueError):
            raise GateError(f"{what}: {at}.stats.data: {name} has samples that are not numbers") from None
        info = bench.get("extra_info") or {}
        ref, kind = info.get("reference_s"), info.get("reference_kind")
        ok = isinstance(ref, list) and len(ref) == len(times) and all(isinstance(r, (int, float)) and r > 0 for r in ref)
        others = info.get("others_cores")
        others = float(others) if isinstance(others, (int, float)) and not isinstance(others, bool) and 0 <= others < 1e6 else None
        out[name] = CaseSamples(times, [float(r) for r in ref] if ok else None, kind if isinstance(kind, str) else None, others)
    return out


def check_comparable(base: dict[str, Any], run: dict[str, Any]) -> None:
    """Raise :class:`NotComparable` unless both runs were made on the same set-up (hardware fingerprint,
    versions, thread settings, cores: every ``machine_info`` key but the volatile ones)."""
    differ = machine_differences(_setup(base), _setup(run))
    if differ:
        raise NotComparable(
            f"the baseline was made on another set-up (machine_info differs in: {', '.join(differ)}); "
            "not compared: save a baseline on this set-up first (`nox -s bench -- --save-as NAME`)"
        )


def check_cores_free(doc: dict[str, Any], what: str) -> None:
    """Raise :class:`NotComparable` where the run started with no core free (``machine_info.sepbench.free_cores``):
    its times are the load's, and a baseline made so hides any slowdown behind them (a 1.25x slower NumPy
    forward measured faster than such a baseline here)."""
    free = ((doc.get("machine_info") or {}).get("sepbench") or {}).get("free_cores")
    if isinstance(free, dict) and free.get("free") == 0 and isinstance(free.get("cores"), int):
        taken = free.get("others_cores")
        held = f"{taken:.1f} of its {free['cores']} cores" if isinstance(taken, (int, float)) else f"all {free['cores']} cores"
        raise NotComparable(
            f"the {what} started while other processes kept {held} busy (no core free): its times are the load's, not the "
            f"code's; not compared: {'save the baseline again' if what == 'baseline' else 'run it again'} when a core is free"
        )


def _setup(doc: dict[str, Any]) -> dict[str, Any]:
    """A run's ``machine_info`` without the BLAS pools' listing: which pools are loaded (and in what order)
    depends on what the run imported first, not on the set-up; the thread counts it shows are in
    ``threads.requested``, ``threads.env`` and each backend's own settings, which are compared."""
    info = dict(doc.get("machine_info") or {})
    if isinstance(info.get("threads"), dict):
        info["threads"] = {k: v for k, v in info["threads"].items() if k != "blas"}
    return info


def judge_runs(
    base: dict[str, Any],
    run: dict[str, Any],
    min_effect: float = MIN_EFFECT,
    records: tuple[Sequence[PairedRecord], Sequence[PairedRecord]] | None = None,
) -> GateOutcome:
    """Judge every case the two runs share (see the module docstring); refuses another set-up's baseline.
    ``records``: the paired records each run wrote (baseline's, run's), judged across processes and
    lending their between-process spread to the single-process cases."""
    check_comparable(base, run)
    check_cores_free(base, "baseline")
    check_cores_free(run, "run")
    a, b = samples(base, "baseline"), samples(run, "run")
    noisy = noisy_cases(base)
    record_verdicts: list[RecordVerdict] = []
    between = None
    if records and records[0] and records[1]:
        record_verdicts, between = judge_records(records[0], records[1], min_effect)
    variants = variants_of(base)
    verdicts = [
        judge_case(name, a[name], b[name], min_effect, name in noisy, between.allowance(variants[name]) if between else 0.0)
        for name in a
        if name in b
    ]
    if not verdicts and not record_verdicts:  # "0 regressions of 0 cases" would read as a pass
        raise GateError(
            f"the run holds none of the baseline's {len(a):,} cases (it has {len(b):,}): nothing was judged; "
            "compare runs of the same cases (the same --quick, --backends, --pairs)"
        )
    return GateOutcome(verdicts, missing=sorted(set(a) - set(b)), record_verdicts=record_verdicts, spread=between)


def variants_of(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each case's (backend, path), by node id (``("", "")`` where the run did not say)."""
    out = {}
    for bench in doc.get("benchmarks") or []:
        info = (bench.get("extra_info") or {}) if isinstance(bench, dict) else {}
        out[bench.get("fullname") if isinstance(bench, dict) else ""] = (str(info.get("backend", "")), str(info.get("path", "")))
    return out


def noisy_cases(doc: dict[str, Any]) -> set[str]:
    """Cases known to scatter between runs on a shared machine: one image per call (batch 1), and Keras's
    ``predict`` (TensorFlow's default path, whose per-call overhead dominates); judged by a wide spread."""
    out = set()
    for bench in doc.get("benchmarks") or []:
        info = bench.get("extra_info") or {}
        if info.get("batch_size") == 1 or (info.get("backend") == "tensorflow" and info.get("path") == "default"):
            out.add(bench.get("fullname"))
    return out


def judge_case(
    name: str, base: CaseSamples, run: CaseSamples, min_effect: float = MIN_EFFECT, noisy: bool = False, allowance: float = 0.0
) -> CaseVerdict:
    """One case: unpaired, each sample divided by its round's reference where both runs recorded one of one kind,
    with the threshold widened to the case's own spread as the baseline measured it (``noisy``: the
    10th-90th percentile spread, else the interquartile one).  Not the run's: a slower run may well
    scatter more, which must not hide its slowdown.  ``allowance``: a log half-width added (in
    quadrature) to the interval for what a fresh process moves the case by (each run timed it in one)."""
    a, b = base.judged(run), run.judged(base)
    own = spread(a, noisy)
    threshold = max(min_effect, min(own, MAX_THRESHOLD))
    normalized = b is not run.times
    verdict = widened(judge(a, b, min_effect=threshold, paired=False), allowance)
    shift = None if base.others_cores is None or run.others_cores is None else run.others_cores - base.others_cores
    return CaseVerdict(name, verdict, threshold, normalized, own, allowance, shift)


def confirm(outcome: GateOutcome, base: dict[str, Any], rerun: dict[str, Any], min_effect: float = MIN_EFFECT) -> GateOutcome:
    """Judge the flagged cases again on a rerun of them (``rerun``: its pytest-benchmark run); a case
    alerts only if the rerun is flagged too.  A flagged case the rerun lacks stays a regression (it
    was not cleared).  Returns ``outcome`` with :attr:`GateOutcome.confirmed` set."""
    a, b = samples(base, "baseline"), samples(rerun, "rerun")
    noisy = noisy_cases(base)
    outcome.confirmed = [
        judge_case(v.name, a[v.name], b[v.name], min_effect, v.name in noisy, v.allowance) if v.name in b else v for v in outcome.flagged
    ]
    return outcome


def confirm_records(
    outcome: GateOutcome, base: Sequence[PairedRecord], rerun: Sequence[PairedRecord], min_effect: float = MIN_EFFECT
) -> GateOutcome:
    """Judge the flagged paired-case models again on the records of re-run processes (the first judgement's
    between-process spread floors the variances); a flagged model the re-run did not measure in enough
    processes stays a regression (it was not cleared).  Returns ``outcome`` with
    :attr:`GateOutcome.confirmed_records` set."""
    again, _ = judge_records(base, rerun, min_effect, outcome.spread)
    by_key = {v.key: v for v in again}
    outcome.confirmed_records = [by_key.get(v.key, v) for v in outcome.flagged_records]
    return outcome


# a case of the benchmark suite, as pytest names it: a test file under tests/bench, then ::test_name[params]
NODE_ID = re.compile(r"tests/bench/(?:[A-Za-z0-9_]+/)*[A-Za-z0-9_]+\.py::[A-Za-z0-9_]+(?:\[[A-Za-z0-9_.,=+-]*\])?")


def check_node_id(name: str) -> str:
    """``name`` if it names a case of tests/bench; else :class:`GateError` (a name read from a baseline
    file must never reach pytest as an option, e.g. ``--basetemp=DIR``, which empties DIR)."""
    if not isinstance(name, str) or not NODE_ID.fullmatch(name):
        raise GateError(f"not a benchmark case of tests/bench: {name!r} (a baseline's case names are refused unless they are)")
    return name


def rerun_command(python: str, node_ids: list[str], json_out: str, pytest_args: list[str]) -> list[str]:
    """The pytest command that times exactly ``node_ids`` again (samples saved to ``json_out``, nothing
    saved to the storage), with the run's own options (``--quick``, ``--threads``, ``--backends``...).

    The node ids come from saved files: each must name a case of tests/bench (:func:`check_node_id`),
    and they go after ``--``, where pytest reads nothing as an option."""
    return [
        python,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--benchmark-save-data",
        f"--benchmark-json={json_out}",
        *pytest_args,
        "--",
        *(check_node_id(n) for n in node_ids),
    ]
