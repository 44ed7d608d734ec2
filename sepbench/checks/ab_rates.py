"""The ab-rates run: how often the A/B alert fires on commits of known slowdown.

In a scratch clone of the repository, one commit per factor slows one workload by real extra work:
NumPy's per-batch forward predicts the batch once more on ``(factor - 1) x 100`` of every 100
batches (so ``numpy-regular-default-b10-n1000``, 100 batches a call, does exactly 1.10x the work in
every call at factor 1.10; the other NumPy workloads are slowed about as much). Factor 1.00 is a
no-op commit (a README line). Each commit is compared with the base by the alert
(:func:`sepbench.checks.ab_run.compare`) ``trials`` times, each a full alert run (fresh exports, fresh
workers). A trial is a **hit** when the slowed case alerts; an alert on any other case (or on the
no-op commit) is a **false alarm**. Rates come with 95 % Wilson intervals.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sepbench.checks.ab_run import CONFIRM, MIN_EFFECT, ROUNDS, SAMPLE_S, AbCase, compare
from sepbench.core.pairs import STUDY_PAIR
from sepbench.results.slowdown import wilson_interval
from sepbench.util.atomic import new_log
from sepbench.util.git import git, resolve

SLOWED = AbCase("numpy", STUDY_PAIR.baseline.name, 10, 1000)  # quiet: 1,000 images in 100 batches, the slowed one
NOISY = AbCase("torch", STUDY_PAIR.baseline.name, 1, 1)  # noisy: one image, not slowed (false alarms)
RATE_CASES = (SLOWED, NOISY)
# CI's own selection (every backend x model at b1-n1 and b100-n1000): its b100-n1000 NumPy case does 10
# batches a call, so the factor's extra batches exactly at 1.10x
CI_SLOWED = AbCase("numpy", STUDY_PAIR.baseline.name, 100, 1000)
FACTORS = (1.00, 1.05, 1.10, 1.25, 2.0)

_FORWARD = "    def _forward(self, x: np.ndarray) -> np.ndarray:\n        z = self.forward_logits(x)\n"
# the batch is predicted once more on {percent} of every 100 batches (integer steps: exact over any 100 batches)
_INJECTED = (
    "    def _forward(self, x: np.ndarray) -> np.ndarray:\n"
    "        self._batches = getattr(self, '_batches', 0) + 1  # injected by the ab-rates run: real extra work\n"
    "        n = self._batches\n"
    "        for _ in range(n * {percent} // 100 - (n - 1) * {percent} // 100):\n"
    "            self.forward_logits(x)\n"
    "        z = self.forward_logits(x)\n"
)
_ENV = {"GIT_AUTHOR_NAME": "ab-rates", "GIT_AUTHOR_EMAIL": "ab-rates@sepbench.invalid"}
_ENV |= {"GIT_COMMITTER_NAME": _ENV["GIT_AUTHOR_NAME"], "GIT_COMMITTER_EMAIL": _ENV["GIT_AUTHOR_EMAIL"]}


@dataclass
class FactorResult:
    """One factor's trials: alerts on the slowed case (hits) and on anything else (false alarms)."""

    factor: float
    slowed: str = ""  # the id of the slowed case
    trials: int = 0
    any_alerts: int = 0  # trials with any alert
    hits: int = 0  # the slowed case alerted (at 1.00: a false alarm)
    other_alerts: int = 0  # trials in which a case that was not slowed alerted
    ratios: list[float] = field(default_factory=list)  # the slowed case's estimated slowdown per trial
    walls: list[float] = field(default_factory=list)  # seconds per alert run
    alarms: list[str] = field(default_factory=list)  # "trial N: case ratio" of every case that alerted

    @property
    def false_alarms(self) -> int:
        """Trials that alerted on something not slowed (at 1.00: any alert), each trial counted once."""
        return self.any_alerts if self.factor == 1.0 else self.other_alerts

    def record(self, trial: int, slowed_ratio: float | None, slowed_alerted: bool, alarms: dict[str, float], wall_s: float) -> str:
        """Add one trial: the slowed case's estimate and verdict, every case that alerted (its id -> its
        estimated slowdown) and the run's wall seconds; returns a progress line."""
        self.trials += 1
        self.walls.append(wall_s)
        if slowed_ratio is not None:
            self.ratios.append(slowed_ratio)
        self.hits += slowed_alerted
        others = [name for name in alarms if not slowed_alerted or name != self.slowed]
        self.other_alerts += bool(others)
        self.any_alerts += bool(alarms)
        self.alarms += [f"trial {trial}: {name} {ratio:.3f}x" for name, ratio in alarms.items()]
        return f"factor {self.factor:.2f}: {'ALERT' if alarms else 'quiet'} ({wall_s:.0f} s)"

    def row(self) -> dict[str, Any]:
        k = self.false_alarms if self.factor == 1.0 else self.hits
        low, high = wilson_interval(k, self.trials)
        return {
            "factor": self.factor,
            "trials": self.trials,
            "alerts": k,
            "rate": k / self.trials if self.trials else float("nan"),
            "rate_low": low,
            "rate_high": high,
            "measured_slowdown": statistics.median(self.ratios) if self.ratios else float("nan"),
            "other_false_alarms": self.other_alerts,
            "slowdowns": [round(x, 4) for x in self.ratios],
            "alarms": list(self.alarms),
            "wall_s": [round(x, 1) for x in self.walls],
            "wall_s_median": statistics.median(self.walls) if self.walls else float("nan"),
            "wall_s_max": max(self.walls, default=float("nan")),
        }


def _git(repo: Path, *args: str) -> str:
    return git(*args, cwd=repo, env={**os.environ, **_ENV})


def make_commits(source: Path, scratch: Path, factors: Sequence[float] = FACTORS) -> tuple[str, dict[float, str]]:
    """Clone ``source``'s HEAD into ``scratch``; one commit per factor on top of it: (base, {factor: commit})."""
    _git(Path("."), "clone", "-q", "--no-checkout", "--end-of-options", str(Path(source).resolve()), str(Path(scratch).resolve()))
    head = resolve("HEAD", source)
    _git(scratch, "checkout", "-q", "--detach", head)
    commits = {}
    backend = scratch / "impls" / "numpy_backend.py"
    original = backend.read_text()
    if _FORWARD not in original:
        raise RuntimeError("impls/numpy_backend.py's _forward changed: update sepbench/checks/ab_rates.py's injection")
    for factor in factors:
        _git(scratch, "checkout", "-q", "--detach", head)
        if factor == 1.0:
            readme = scratch / "README.md"
            readme.write_text(readme.read_text() + "\n<!-- a no-op change (ab-rates run) -->\n")
            message = "ab-rates run: no-op commit"
        else:
            backend.write_text(original.replace(_FORWARD, _INJECTED.format(percent=round((factor - 1) * 100))))
            message = f"ab-rates run: NumPy forward does {factor:.2f}x the work"
        _git(scratch, "commit", "-qam", message)
        commits[factor] = resolve("HEAD", scratch)
    return head, commits


def run_ab_rates(
    source: Path,
    trials: int = 20,
    factors: Sequence[float] = FACTORS,
    cases: Sequence[AbCase] = RATE_CASES,
    slowed_case: AbCase = SLOWED,
    progress: Callable[[str], None] = lambda msg: None,
    **alert: Any,
) -> dict[str, Any]:
    """``trials`` alert runs per factor (interleaved across factors, so a slow spell of the machine
    hits every factor alike); ``alert`` are :func:`~sepbench.checks.ab_run.compare`'s options (rounds,
    min_effect, confirm).  Returns the rates as a dict (its ``rows`` one per factor)."""
    if trials < 1:
        raise ValueError("trials must be >= 1")
    start = time.perf_counter()
    if slowed_case not in cases:
        raise ValueError(f"the slowed case {slowed_case.id} is not among the cases")
    results = {f: FactorResult(f, slowed_case.id) for f in factors}
    scratch = Path(tempfile.mkdtemp(prefix="sepbench-ab-rates-"))
    log = new_log("sepbench-ab-rates-workers-")  # kept: what failed, if anything did
    try:
        base, commits = make_commits(source, scratch / "repo", factors)
        for trial in range(trials):
            for factor in factors:
                out = compare(base, commits[factor], cases, repo=scratch / "repo", seed=trial, log_path=log, **alert)
                slowed = next((c for c in out.results if c.case == slowed_case), None)
                alarms = {c.case.id: c.verdict.ratio for c in out.regressions}
                ratio = slowed.verdict.ratio if slowed else None
                line = results[factor].record(trial + 1, ratio, bool(slowed and slowed.regressed), alarms, out.wall_s)
                progress(f"trial {trial + 1}/{trials} {line}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "base": base,
        "cases": [c.id for c in cases],
        "slowed_case": slowed_case.id,
        "alert": {"rounds": ROUNDS, "min_effect": MIN_EFFECT, "confirm": CONFIRM, "sample_s": SAMPLE_S, **alert},
        "trials_per_factor": trials,
        "rows": [results[f].row() for f in factors],
        "wall_s": time.perf_counter() - start,
    }
