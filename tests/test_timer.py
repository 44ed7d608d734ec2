"""The one timing utility (sepbench.util.timer) and the fold-or-split chooser built on it
(impls.autotune).  A fake clock that the timed callables advance by known amounts makes every
figure exact; the one test on a real clock compares a sleep with a no-op and asserts only which
loses, never a time."""

from __future__ import annotations

import time

import pytest

from sepbench.util import timer
from sepbench.util.timer import CLOCKS, Timer, Timing, choose_rounds, fastest, get_clock, time_budgeted, time_calls, time_once


class FakeClock:
    """A clock that moves only when a timed callable says it cost something."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def costs(self, *seconds: float, log: list[str] | None = None, name: str = ""):
        """A callable whose n-th call costs ``seconds[n]`` (the last repeats) and returns n."""
        calls = iter(range(10**6))

        def fn() -> int:
            n = next(calls)
            self.now += seconds[min(n, len(seconds) - 1)]
            if log is not None:
                log.append(name)
            return n

        return fn


def test_clocks_are_named_and_documented():
    assert CLOCKS == {"wall": time.perf_counter, "cpu": time.process_time, "thread": time.thread_time}
    for name in CLOCKS:
        assert f'"{name}"' in timer.__doc__
    assert get_clock("cpu") == ("cpu", time.process_time)
    with pytest.raises(ValueError, match="unknown clock 'gpu'; known: wall, cpu, thread"):
        get_clock("gpu")


def test_time_calls_summarises_the_samples():
    clock = FakeClock()
    t = time_calls(clock.costs(9.0, 3.0, 1.0, 2.0, 4.0), repeat=4, clock=clock, warmup=1)
    assert t.samples == (3.0, 1.0, 2.0, 4.0)  # the warm-up call (9 s) is not a sample
    assert (t.min, t.max, t.median, t.last, t.total) == (1.0, 4.0, 2.5, 4.0, 10.0)
    assert t.quartiles == (1.75, 2.5, 3.25)  # as numpy.percentile([3, 1, 2, 4], [25, 50, 75])
    assert t.result == 4  # what the last call returned (call 0 was the warm-up)
    assert t.clock == "custom" and time_calls(lambda: None, clock="thread").clock == "thread"
    assert time_calls(clock.costs(0.5), clock=clock).quartiles == (0.5, 0.5, 0.5)
    assert time_once(clock.costs(0.25), clock=clock) == 0.25


@pytest.mark.parametrize("kwargs", [{"repeat": 0}, {"warmup": -1}])
def test_time_calls_refuses_nonsense(kwargs):
    with pytest.raises(ValueError):
        time_calls(lambda: None, **kwargs)


def test_a_timing_needs_a_sample():
    with pytest.raises(ValueError, match="at least one sample"):
        Timing(())


def test_timer_times_a_block_even_when_it_raises():
    clock = FakeClock()
    with Timer(clock) as t:
        clock.now += 1.5
    assert t.seconds == 1.5
    with pytest.raises(RuntimeError), Timer(clock) as failed:
        clock.now += 0.5
        raise RuntimeError("boom")
    assert failed.seconds == 0.5


def test_time_budgeted_runs_at_least_min_calls_and_at_most_max_calls():
    clock = FakeClock()
    spent = time_budgeted(clock.costs(1.0, 2.0, 3.0, 0.5), budget_s=0.0, min_calls=3, clock=clock)
    assert spent.samples == (1.0, 2.0, 3.0) and spent.min == 1.0  # budget spent: stops at min_calls
    unbounded = time_budgeted(clock.costs(1.0), budget_s=1e9, min_calls=2, max_calls=7, clock=clock)
    assert len(unbounded.samples) == 7
    with pytest.raises(ValueError, match="min_calls"):
        time_budgeted(lambda: None, 1.0, min_calls=5, max_calls=4)


def test_choose_rounds_fills_the_budget_within_bounds():
    assert choose_rounds(0.1, 2.0, 5, 200) == 20
    assert choose_rounds(3.0, 2.0, 5, 200) == 5  # slow case: min rounds
    assert choose_rounds(1e-6, 2.0, 5, 200) == 200  # fast case: capped
    assert choose_rounds(0.0, 2.0, 5, 200) == 200
    with pytest.raises(ValueError):
        choose_rounds(0.1, 1.0, 0, 10)


def test_fastest_interleaves_rounds_after_the_warm_ups():
    clock, log = FakeClock(), []
    candidates = {"slow": clock.costs(3.0, log=log, name="slow"), "quick": clock.costs(1.0, log=log, name="quick")}
    choice = fastest(candidates, rounds=3, clock=clock, warmup=1)
    assert log == ["slow", "quick"] + ["slow", "quick"] * 3  # warm-ups in order, then each round every candidate
    assert choice.winner == "quick"
    assert set(choice.timings) == {"slow", "quick"} and all(len(t.samples) == 3 for t in choice.timings.values())
    assert choice.seconds() == {"slow": 3.0, "quick": 1.0}
    assert choice.timings["quick"].result == 3  # the last round's call (calls 0..3)


def test_fastest_compares_by_min_or_median_and_ties_go_to_the_first():
    clock = FakeClock()
    lucky = clock.costs(1.0, 10.0, 10.0)  # one quick call, otherwise slow
    steady = clock.costs(5.0)
    assert fastest({"lucky": lucky, "steady": steady}, rounds=3, clock=clock).winner == "lucky"
    clock2 = FakeClock()
    by_median = fastest({"lucky": clock2.costs(1.0, 10.0, 10.0), "steady": clock2.costs(5.0)}, rounds=3, clock=clock2, by="median")
    assert by_median.winner == "steady" and by_median.seconds() == {"lucky": 10.0, "steady": 5.0}
    tie = FakeClock()
    assert fastest({"b": tie.costs(2.0), "a": tie.costs(2.0)}, clock=tie).winner == "b"
    assert fastest({("fmt", 512): tie.costs(2.0), ("fmt", 1024): tie.costs(1.0)}, clock=tie).winner == ("fmt", 1024)  # any hashable key


@pytest.mark.parametrize("kwargs, message", [({"rounds": 0}, "rounds"), ({"by": "mean"}, "unknown statistic"), ({"warmup": -1}, "warmup")])
def test_fastest_refuses_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fastest({"a": lambda: None}, **kwargs)
    with pytest.raises(ValueError, match="no candidates"):
        fastest({})


def test_fastest_on_the_wall_clock_picks_the_no_op_over_a_sleep():
    """Real clock, large known difference (50 ms of sleep against nothing): only the loser is asserted."""
    choice = fastest({"sleep": lambda: time.sleep(0.05), "no-op": lambda: None}, rounds=3)
    assert choice.winner == "no-op"
    assert choice.timings["sleep"].min >= 0.05  # a sleep never returns early


def test_fold_or_split_keeps_the_cheaper_way_per_layer_and_chains_the_chosen_ops(monkeypatch):
    """Each separable layer's two ways are timed on that layer's real input: the previous layer's
    chosen output.  The ops add to their input so the chain is visible; costs move a fake clock."""
    from impls import autotune

    clock = FakeClock()
    monkeypatch.setattr(autotune, "FOLD_OR_SPLIT_CLOCK", clock)
    seen: dict[str, list[int]] = {}

    def op(name: str, add: int, cost: float):
        def run(x: int) -> int:
            seen.setdefault(name, []).append(x)
            clock.now += cost
            return x + add

        return run

    layers = [
        ("conv1", op("conv1 split", 1, 5.0), op("conv1 fold", 1, 1.0)),  # fold cheaper
        ("pool", op("pool", 10, 0.0), None),  # nothing to choose
        ("conv2", op("conv2 split", 100, 1.0), op("conv2 fold", 100, 5.0)),  # split cheaper
        ("conv3", op("conv3 split", 1000, 2.0), op("conv3 fold", 1000, 2.0)),  # a tie keeps split
    ]
    made = []
    chosen = autotune.choose_fold_or_split(layers, 0, timed=lambda f: made.append(f) or f)
    assert chosen.choices == {"conv1": "fold", "conv2": "split", "conv3": "split"}
    assert [o for o in chosen.ops] == [layers[0][2], layers[1][1], layers[2][1], layers[3][1]]
    assert len(made) == 6  # the timed form is made once per way of each separable layer
    assert set(seen["conv2 split"]) == set(seen["conv2 fold"]) == {11}  # conv1's chosen output, then the pool's
    assert set(seen["conv3 split"]) == {111}
    rounds = autotune.FOLD_OR_SPLIT_ROUNDS
    assert len(seen["conv1 fold"]) == rounds + 1 + 1  # a warm-up, the rounds, and the chain's own call
    assert chosen.timings["conv1"]["fold"].samples == (1.0,) * rounds
    assert set(chosen.timings) == {"conv1", "conv2", "conv3"}
