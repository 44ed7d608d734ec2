"""The benchmark gate: is a pytest-benchmark run slower than a saved baseline, case by case?

Two saved runs are minutes apart, so nothing pairs their samples; each case is judged on both runs'
samples (``--benchmark-save-data``) by :func:`sepbench.results.slowdown.judge`, unpaired: the ratio of
medians with a 95 % bootstrap interval must exceed ``1 + threshold`` and the interval must lie above 1.
The threshold is the larger of ``min_effect`` and the case's own spread (the interquartile range over
the median, the larger of the two runs'), so a batch-1 or Keras case that scatters by 30 % within a
run needs a slowdown beyond that, while a quiet 10,000-image case is held to ``min_effect``.  A flagged
case is then timed again (:data:`RERUN`) and alerts only if the rerun is flagged too.

A baseline from another machine fingerprint, other package versions or other thread settings is not
compared: the gate says so (:class:`NotComparable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sepbench.bench.machine_info import machine_differences
from sepbench.results.slowdown import Slowdown, judge, spread

MIN_EFFECT = 0.10  # the smallest slowdown the gate fails on (a fraction)


class GateError(ValueError):
    """A run the gate cannot use (no samples saved, not a pytest-benchmark file); the message says what to do."""


class NotComparable(GateError):
    """The baseline was made on another set-up (machine, versions, threads): comparing it would mislead."""


@dataclass(frozen=True)
class CaseVerdict:
    name: str  # the case's pytest node id
    slowdown: Slowdown
    threshold: float  # the fraction applied: max(min_effect, the case's spread)

    @property
    def regressed(self) -> bool:
        return self.slowdown.regressed


@dataclass
class GateOutcome:
    verdicts: list[CaseVerdict]
    missing: list[str] = field(default_factory=list)  # cases of the baseline not in the run
    confirmed: list[CaseVerdict] = field(default_factory=list)  # the reruns' verdicts of the flagged cases

    @property
    def flagged(self) -> list[CaseVerdict]:
        return [v for v in self.verdicts if v.regressed]

    @property
    def regressions(self) -> list[CaseVerdict]:
        """Flagged cases whose rerun was flagged too (all flagged ones until reruns are judged)."""
        if not self.confirmed:
            return self.flagged
        again = {v.name for v in self.confirmed if v.regressed}
        return [v for v in self.flagged if v.name in again]


def samples(doc: dict[str, Any], what: str) -> dict[str, list[float]]:
    """Each case's raw times (seconds) in a pytest-benchmark run, by its node id (``fullname``)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise GateError(f"{what}: not a pytest-benchmark run (no 'benchmarks' list)")
    out = {}
    for bench in doc["benchmarks"]:
        data = (bench.get("stats") or {}).get("data")
        if not data:
            raise GateError(
                f"{what}: {bench.get('fullname', '?')} has no saved samples (saved without --benchmark-save-data, "
                "e.g. by an older sepbench): save a new baseline with `nox -s bench -- --save-as NAME`"
            )
        out[bench["fullname"]] = [float(t) for t in data]
    return out


def check_comparable(base: dict[str, Any], run: dict[str, Any]) -> None:
    """Raise :class:`NotComparable` unless both runs were made on the same set-up (hardware fingerprint,
    versions, thread settings, cores: every ``machine_info`` key but the volatile ones)."""
    differ = machine_differences(base.get("machine_info") or {}, run.get("machine_info") or {})
    if differ:
        raise NotComparable(
            f"the baseline was made on another set-up (machine_info differs in: {', '.join(differ)}); "
            "not compared: save a baseline on this set-up first (`nox -s bench -- --save-as NAME`)"
        )


def judge_runs(base: dict[str, Any], run: dict[str, Any], min_effect: float = MIN_EFFECT) -> GateOutcome:
    """Judge every case the two runs share (see the module docstring); refuses another set-up's baseline."""
    check_comparable(base, run)
    a, b = samples(base, "baseline"), samples(run, "run")
    verdicts = [judge_case(name, a[name], b[name], min_effect) for name in a if name in b]
    return GateOutcome(verdicts, missing=sorted(set(a) - set(b)))


def judge_case(name: str, base: list[float], run: list[float], min_effect: float = MIN_EFFECT) -> CaseVerdict:
    """One case: unpaired, with the threshold widened to the case's own spread."""
    threshold = max(min_effect, spread(base), spread(run))
    return CaseVerdict(name, judge(base, run, min_effect=threshold, paired=False), threshold)


def confirm(outcome: GateOutcome, base: dict[str, Any], rerun: dict[str, Any], min_effect: float = MIN_EFFECT) -> GateOutcome:
    """Judge the flagged cases again on a rerun of them (``rerun``: its pytest-benchmark run); a case
    alerts only if the rerun is flagged too.  Returns ``outcome`` with :attr:`GateOutcome.confirmed` set."""
    a, b = samples(base, "baseline"), samples(rerun, "rerun")
    outcome.confirmed = [judge_case(v.name, a[v.name], b[v.name], min_effect) for v in outcome.flagged if v.name in b]
    return outcome


def rerun_command(python: str, node_ids: list[str], json_out: str, pytest_args: list[str]) -> list[str]:
    """The pytest command that times exactly ``node_ids`` again (samples saved to ``json_out``, nothing
    saved to the storage), with the run's own options (``--quick``, ``--threads``, ``--backends``...)."""
    return [
        python,
        "-m",
        "pytest",
        *node_ids,
        "-p",
        "no:cacheprovider",
        "-q",
        "--benchmark-save-data",
        f"--benchmark-json={json_out}",
        *pytest_args,
    ]
