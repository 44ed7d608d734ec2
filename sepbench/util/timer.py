"""One way to take a time: named clocks, repeated calls summarised (min, median, quartiles), a
repeat that stops after a time budget, and an interleaved chooser for the autotuners.

Every time here is in **seconds**.  The clocks, by name (:data:`CLOCKS`):

- ``"wall"``: :func:`time.perf_counter`, elapsed time, what a user waits.  Benchmarks, the roofline
  probe, warm-ups, the profile's stages and any choice between chunkings or thread layouts use it:
  parallel chunks, memory traffic and waiting all show up only in elapsed time.
- ``"cpu"``: :func:`time.process_time`, CPU seconds of every thread of this process.  The fold-or-split
  choice of the torch and TensorFlow fast paths uses it: time spent descheduled on a shared machine
  does not count, and an op's intra-op threads all do.
- ``"thread"``: :func:`time.thread_time`, CPU seconds of the calling thread only.  The NumPy
  autotuner uses it: BLAS is limited to one thread while tuning, so the calling thread does all the
  work, and other threads of the process (a framework's pools) do not blur the figure.

A clock may also be given as a zero-argument callable returning seconds (a fake clock in tests).
Standard library only: no framework, no NumPy.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Clock = Callable[[], float]
CLOCKS: dict[str, Clock] = {"wall": time.perf_counter, "cpu": time.process_time, "thread": time.thread_time}
STATISTICS = ("min", "median")  # what :func:`fastest` may compare candidates by

K = TypeVar("K", bound=Hashable)


def get_clock(clock: str | Clock) -> tuple[str, Clock]:
    """``(name, function)`` of a clock given by name (a :data:`CLOCKS` key) or as a callable."""
    if callable(clock):
        return getattr(clock, "__name__", "custom"), clock
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; known: {', '.join(CLOCKS)}")
    return clock, CLOCKS[clock]


@dataclass(frozen=True)
class Timing:
    """The seconds of repeated calls of one callable, in call order, on one clock."""

    samples: tuple[float, ...]  # seconds, one per timed call
    clock: str = "wall"
    result: Any = field(default=None, repr=False, compare=False)  # what the last timed call returned

    def __post_init__(self) -> None:
        if not self.samples:
            raise ValueError("a Timing needs at least one sample")

    @property
    def min(self) -> float:
        """Seconds of the fastest call: the least disturbed by other work on the machine."""
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def quartiles(self) -> tuple[float, float, float]:
        """(q1, median, q3) in seconds, linearly interpolated as ``numpy.percentile`` does."""
        if len(self.samples) == 1:
            return (self.samples[0],) * 3
        q1, q2, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q1, q2, q3

    @property
    def last(self) -> float:
        """Seconds of the last call (after earlier calls warmed caches and traced graphs)."""
        return self.samples[-1]

    @property
    def total(self) -> float:
        return math.fsum(self.samples)


class Timer:
    """Times a block of code: ``with Timer() as t: ...``, then ``t.seconds`` (on the named clock)."""

    def __init__(self, clock: str | Clock = "wall") -> None:
        self.clock, self._now = get_clock(clock)
        self.seconds = math.nan  # set when the block ends, even by an exception
        self._start = 0.0

    def __enter__(self) -> Timer:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = self._now() - self._start


def _timed(now: Clock, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of one call of ``fn()`` on ``now``, and what it returned."""
    t0 = now()
    out = fn()
    return now() - t0, out


def time_calls(fn: Callable[[], Any], repeat: int = 1, clock: str | Clock = "wall", warmup: int = 0) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeat`` times, timing each call (seconds)."""
    if repeat < 1 or warmup < 0:
        raise ValueError(f"need repeat >= 1 and warmup >= 0, got repeat={repeat}, warmup={warmup}")
    name, now = get_clock(clock)
    for _ in range(warmup):
        fn()
    samples, out = [], None
    for _ in range(repeat):
        seconds, out = _timed(now, fn)
        samples.append(seconds)
    return Timing(tuple(samples), name, out)


def time_once(fn: Callable[[], Any], clock: str | Clock = "wall") -> float:
    """Seconds of one call of ``fn()``."""
    return time_calls(fn, 1, clock).samples[0]


def time_budgeted(fn: Callable[[], Any], budget_s: float, min_calls: int = 3, max_calls: int = 50, clock: str | Clock = "wall") -> Timing:
    """Time ``fn()`` at least ``min_calls`` times, then stop once ``budget_s`` wall seconds have passed
    since the first call (or at ``max_calls``).  The budget is wall time whatever ``clock`` times the
    calls: it bounds how long the caller waits."""
    if min_calls < 1 or max_calls < min_calls:
        raise ValueError(f"need 1 <= min_calls <= max_calls, got {min_calls}, {max_calls}")
    name, now = get_clock(clock)
    samples, out = [], None
    start = time.perf_counter()
    for i in range(max_calls):
        seconds, out = _timed(now, fn)
        samples.append(seconds)
        if i + 1 >= min_calls and time.perf_counter() - start > budget_s:
            break
    return Timing(tuple(samples), name, out)


def choose_rounds(one_run_s: float, target_s: float, min_rounds: int, max_rounds: int) -> int:
    """Timed rounds so that rounds x ``one_run_s`` (seconds) is about ``target_s``, within [min, max]."""
    if min_rounds < 1 or max_rounds < min_rounds:
        raise ValueError("need 1 <= min_rounds <= max_rounds")
    if one_run_s <= 0 or not math.isfinite(one_run_s):
        return max_rounds
    return int(min(max_rounds, max(min_rounds, math.ceil(target_s / one_run_s))))


@dataclass(frozen=True)
class Choice(Generic[K]):
    """What :func:`fastest` found: the winner's key and every candidate's timing."""

    winner: K
    timings: dict[K, Timing]
    by: str = "min"  # the statistic compared

    def seconds(self) -> dict[K, float]:
        """Each candidate's compared statistic, in seconds."""
        return {k: getattr(t, self.by) for k, t in self.timings.items()}


def fastest(
    candidates: Mapping[K, Callable[[], Any]], rounds: int = 3, clock: str | Clock = "wall", warmup: int = 0, by: str = "min"
) -> Choice[K]:
    """Time the candidates in interleaved rounds and return the fastest by ``by`` (``"min"`` or ``"median"``).

    First each candidate is called ``warmup`` times untimed (tracing, first-call allocation), in
    order; then each round calls every candidate once, in order, timing each call: load from other
    processes that drifts over seconds hits all candidates alike instead of the ones timed last.
    A tie goes to the candidate listed first.  Each :class:`Timing` keeps its candidate's last result.
    """
    if not candidates:
        raise ValueError("fastest: no candidates")
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got rounds={rounds}, warmup={warmup}")
    if by not in STATISTICS:
        raise ValueError(f"unknown statistic {by!r}; known: {', '.join(STATISTICS)}")
    name, now = get_clock(clock)
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[K, list[float]] = {k: [] for k in candidates}
    results: dict[K, Any] = {}
    for _ in range(rounds):
        for key, fn in candidates.items():
            seconds, results[key] = _timed(now, fn)
            samples[key].append(seconds)
    timings = {k: Timing(tuple(s), name, results[k]) for k, s in samples.items()}
    winner = min(timings, key=lambda k: getattr(timings[k], by))  # min() keeps the first of equals
    return Choice(winner, timings, by)
