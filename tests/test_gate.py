"""The gate's per-case rule on synthetic samples (:mod:`sepbench.bench.gate`); real runs: tests/test_bench_gate.py."""

from __future__ import annotations

import numpy as np
import pytest

from sepbench.bench.gate import CaseSamples, GateError, NotComparable, confirm, judge_case, judge_runs, rerun_command, samples


def _times(median: float, rel_noise: float, n: int = 40, seed: int = 0) -> list[float]:
    return list(median * np.exp(np.random.default_rng(seed).normal(0, rel_noise, n)))


def _id(case: str) -> str:
    """A node id of the benchmark suite (the gate refuses any other name in a run file)."""
    return f"tests/bench/test_bench.py::test_predict[{case}]"


def _short(name: str) -> str:
    return name.split("[")[-1].rstrip("]")


def _run(cases: dict[str, list[float]], **machine: object) -> dict:
    info = {"machine_name": "xeon-2c", "versions": {"numpy": "2.4.6"}, "threads": {"requested": 1}, **machine}
    return {"machine_info": info, "benchmarks": [{"fullname": _id(k), "stats": {"data": v}} for k, v in cases.items()]}


def test_a_quiet_case_fails_beyond_the_minimum_effect_and_a_noisy_one_needs_more() -> None:
    def cs(times: list[float]) -> CaseSamples:
        return CaseSamples(times, None)

    quiet = judge_case("q", cs(_times(0.1, 0.01, seed=1)), cs(_times(0.115, 0.01, seed=2)))
    assert quiet.regressed and quiet.threshold == pytest.approx(0.10) and not quiet.normalized
    noisy = judge_case("n", cs(_times(0.001, 0.3, seed=3)), cs(_times(0.00115, 0.3, seed=4)))
    assert not noisy.regressed and noisy.threshold > 0.3  # its own spread (IQR / median ~ 0.4) is the bar
    assert judge_case("n", cs(_times(0.001, 0.3, seed=3)), cs(_times(0.003, 0.3, seed=4))).regressed  # 3x clears it


def test_a_flagged_case_fails_only_if_its_rerun_is_flagged_too() -> None:
    base = _run({"a": _times(0.1, 0.01, seed=1), "b": _times(0.1, 0.01, seed=5)})
    slow = _run({"a": _times(0.13, 0.01, seed=2), "b": _times(0.1, 0.01, seed=6)})
    outcome = judge_runs(base, slow)
    assert [_short(v.name) for v in outcome.flagged] == ["a"] and [_short(v.name) for v in outcome.regressions] == ["a"]
    assert [_short(v.name) for v in confirm(outcome, base, _run({"a": _times(0.13, 0.01, seed=3)})).regressions] == ["a"]
    assert confirm(outcome, base, _run({"a": _times(0.1, 0.01, seed=4)})).regressions == []  # a one-off
    # a flagged case the rerun did not time is not cleared
    assert [_short(v.name) for v in confirm(outcome, base, _run({"b": _times(0.1, 0.01, seed=4)})).regressions] == ["a"]


def test_a_slow_spell_of_the_machine_is_divided_out_case_by_case() -> None:
    """The run's machine was 1.4x slower (the reference matmul too): no regression once divided; a case
    without references (an older file) is judged on its raw times beside it."""
    ref = [1e-4] * 40
    times = _times(0.1, 0.01, seed=1)
    base = {
        "machine_info": _run({})["machine_info"],
        "benchmarks": [
            {"fullname": _id("a"), "stats": {"data": times}, "extra_info": {"reference_s": ref}},
            {"fullname": _id("raw"), "stats": {"data": times}},
            {
                "fullname": _id("other-kind"),
                "stats": {"data": times},
                "extra_info": {"reference_s": ref, "reference_kind": "matmul-1-thread"},
            },
        ],
    }
    slow = [t * 1.4 for t in _times(0.1, 0.01, seed=2)]
    run = {
        "machine_info": base["machine_info"],
        "benchmarks": [
            {"fullname": _id("a"), "stats": {"data": slow}, "extra_info": {"reference_s": [r * 1.4 for r in ref]}},
            {"fullname": _id("raw"), "stats": {"data": slow}, "extra_info": {"reference_s": [r * 1.4 for r in ref]}},
            # an older run's reference timed something else (every BLAS thread): not divided by
            {"fullname": _id("other-kind"), "stats": {"data": slow}, "extra_info": {"reference_s": [r * 1.4 for r in ref]}},
        ],
    }
    verdicts = {_short(v.name): v for v in judge_runs(base, run).verdicts}
    assert not verdicts["other-kind"].normalized and verdicts["other-kind"].regressed
    assert verdicts["a"].normalized and not verdicts["a"].regressed and verdicts["a"].slowdown.ratio == pytest.approx(1.0, abs=0.02)
    assert not verdicts["raw"].normalized and verdicts["raw"].regressed


def test_cases_only_in_the_baseline_are_listed_not_judged() -> None:
    outcome = judge_runs(_run({"a": [1.0, 1.1] * 3, "gone": [1.0] * 5}), _run({"a": [1.0, 1.1] * 3}))
    assert [_short(v.name) for v in outcome.verdicts] == ["a"] and outcome.missing == [_id("gone")]


def test_another_set_up_is_not_compared_and_says_which() -> None:
    with pytest.raises(NotComparable, match="differs in: versions"):
        judge_runs(_run({"a": [1.0] * 5}), _run({"a": [1.0] * 5}, versions={"numpy": "1.26.0"}))
    # what changes every run (git state, clock readings) does not block a comparison
    assert judge_runs(_run({"a": [1.0] * 5}, git={"commit": "x"}), _run({"a": [1.0] * 5}, git={"commit": "y"})).verdicts


@pytest.mark.parametrize("doc", [{}, {"benchmarks": "x"}, {"benchmarks": [{"fullname": _id("a"), "stats": {}}]}])
def test_a_run_without_samples_is_refused(doc: dict) -> None:
    with pytest.raises(GateError):
        judge_runs(_run({"a": [1.0] * 5}), {"machine_info": _run({})["machine_info"], **doc})


def test_which_blas_pools_are_loaded_does_not_block_a_comparison() -> None:
    a = _run({"a": [1.0] * 5}, threads={"requested": 1, "blas": [{"library": "openblas"}]})
    b = _run({"a": [1.0] * 5}, threads={"requested": 1, "blas": [{"library": "openmp"}, {"library": "openblas"}]})
    assert judge_runs(a, b).verdicts
    with pytest.raises(NotComparable, match="threads"):
        judge_runs(a, _run({"a": [1.0] * 5}, threads={"requested": 2, "blas": [{"library": "openblas"}]}))


def test_a_case_too_noisy_for_a_fine_threshold_is_judged_and_named_not_an_error() -> None:
    """A baseline case whose one call took 50x the others (spread ~52, as measured on a busy 2-core Xeon)
    once made the gate derive min_effect 51.86 and fail its own argument check."""
    spiky = [0.001] * 4 + [0.06] * 3  # a median of 1 ms, the upper quartile 60 ms
    outcome = judge_runs(_run({"spiky": spiky, "quiet": _times(0.1, 0.01)}), _run({"spiky": spiky, "quiet": _times(0.1, 0.01)}))
    v = {_short(v.name): v for v in outcome.verdicts}
    assert v["spiky"].too_noisy and v["spiky"].spread > 10 and v["spiky"].threshold == pytest.approx(1.0)
    assert not v["spiky"].regressed and not v["quiet"].too_noisy
    # still judged: a case that became 0.25 s on every call fails even so
    assert judge_runs(_run({"spiky": spiky}), _run({"spiky": [0.25] * 7})).flagged


@pytest.mark.parametrize(
    "name",
    ["--basetemp=/tmp/x", "-k", "tests/bench/../../etc/passwd.py::t", "tests/bench/test_bench.py::t[a b]", "tests/bench/x.py::t\n-x", 3],
)
def test_a_case_name_that_is_not_a_benchmark_node_id_is_refused(name: object) -> None:
    doc = _run({})
    doc["benchmarks"] = [{"fullname": name, "stats": {"data": [1.0]}}]
    with pytest.raises(GateError, match="not a benchmark case"):
        samples(doc, "baseline")
    with pytest.raises(GateError, match="not a benchmark case"):
        rerun_command("python", [name], "out.json", ["--quick"])  # type: ignore[list-item]


def test_the_rerun_puts_the_case_names_after_the_end_of_options() -> None:
    cmd = rerun_command("python", [_id("a")], "out.json", ["--quick"])
    assert cmd[-2:] == ["--", _id("a")] and cmd.index("--quick") < cmd.index("--")


def test_a_run_that_started_with_no_core_free_is_not_compared() -> None:
    """A baseline saved while other processes held every core is slow by the load: a 1.25x slower NumPy
    forward measured faster than such a baseline.  Neither it nor such a run is judged."""
    times = {"a": _times(0.1, 0.01, seed=1)}
    busy = {"sepbench": {"free_cores": {"cores": 2, "others_cores": 2.0, "free": 0}}}
    quiet = {"sepbench": {"free_cores": {"cores": 2, "others_cores": 0.1, "free": 2}}}
    with pytest.raises(NotComparable, match="baseline started while other processes kept 2.0 of its 2 cores busy"):
        judge_runs(_run(times, **busy), _run(times, **busy))
    with pytest.raises(NotComparable, match="the run started while"):
        judge_runs(_run(times, **quiet), _run(times, **{"sepbench": {"free_cores": {"cores": 2, "others_cores": 1.9, "free": 0}}}))
    assert judge_runs(_run(times, **quiet), _run(times, **quiet)).verdicts  # a core free: judged


def test_a_case_slower_while_the_machine_was_busier_is_not_a_regression() -> None:
    """A case 1.3x slower while other processes held a core more than during the baseline's: the load's
    doing as much as the code's (two runs of identical code failed so beside a test run); said, not failed.
    Under the same load the same samples fail."""

    def doc(times: list[float], others: float) -> dict:
        d = _run({"a": times})
        d["benchmarks"][0]["extra_info"] = {"others_cores": others}
        return d

    base, slow = _times(0.1, 0.01, seed=1), _times(0.13, 0.01, seed=2)
    busier = judge_runs(doc(base, 0.1), doc(slow, 1.2)).verdicts[0]
    assert busier.slowdown.regressed and busier.busier and not busier.regressed and busier.load_shift == pytest.approx(1.1)
    same = judge_runs(doc(base, 0.1), doc(slow, 0.3)).verdicts[0]
    assert same.regressed and not same.busier


def test_a_rerun_slower_under_load_does_not_clear_a_flagged_case() -> None:
    """The re-run confirms or clears a case flagged on a quiet run.  A re-run that is slower again, but while
    other processes held more cores, shows nothing that clears it: the flag stands (a 594x injected delay
    once passed the gate because its re-run met the other test worker's load).  A re-run that is not
    slower clears it, load or not."""
    from sepbench.bench.gate import confirm

    def doc(times: list[float], others: float) -> dict:
        d = _run({"a": times})
        d["benchmarks"][0]["extra_info"] = {"others_cores": others}
        return d

    base, slow, fine = _times(0.1, 0.01, seed=1), _times(0.13, 0.01, seed=2), _times(0.1, 0.01, seed=3)
    flagged = judge_runs(doc(base, 0.1), doc(slow, 0.1))
    assert len(flagged.flagged) == 1
    again = confirm(flagged, doc(base, 0.1), doc(slow, 1.4))
    assert again.confirmed[0].busier and again.regressions == flagged.flagged
    cleared = confirm(judge_runs(doc(base, 0.1), doc(slow, 0.1)), doc(base, 0.1), doc(fine, 1.4))
    assert cleared.regressions == []
