"""The claims engine: claims as data, every outcome of the fixed vocabulary, decided on intervals.

Expected outcomes are written out by hand from the band (0.95-1.05 for speed, (0, 5] points for
accuracy), not computed by the code under test.  The recorded samples are real paired rounds of the
benchmark suite on a busy 2-core machine (tests/data/paired_samples.json: yes, NO and inconclusive;
the interval recorded with each, the outcome set against the band by hand)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sepbench.core.claims import (
    CLAIMS,
    INCONCLUSIVE,
    NO,
    NOT_COMPARABLE,
    NOT_MEASURED,
    OUTCOMES,
    TIE,
    YES,
    Verdict,
    decide,
    decide_claims,
)
from sepbench.core.evidence import claim_evidence, study_verdict_inputs
from sepbench.core.intervals import Estimate, exact, paired_ratio, point
from sepbench.core.spec import MODELS
from sepbench.core.study import MAC_RATIO, STUDY, study_ratio

RECORDED = Path(__file__).parent / "data" / "paired_samples.json"


def test_the_vocabulary_is_fixed_and_every_claim_is_data():
    assert OUTCOMES == ("yes", "NO", "tie", "inconclusive", "not comparable", "not measured")
    assert [c.key for c in CLAIMS] == ["smaller", "faster", "small_accuracy_cost", "trains_faster"]
    faster = next(c for c in CLAIMS if c.key == "faster")
    assert faster.band == (0.95, 1.05) and faster.metric == "time_ratio"
    trains = next(c for c in CLAIMS if c.key == "trains_faster")  # "trains faster" is decided as "faster" is
    assert trains.band == faster.band and trains.rule == faster.rule and trains.metric == "train_time_ratio"
    with pytest.raises(ValueError, match="outcome must be one of"):
        Verdict("faster", "probably")


@pytest.mark.parametrize(
    "low, high, outcome",
    [
        (0.80, 0.90, YES),  # wholly below 0.95
        (0.94, 0.949, YES),
        (1.06, 1.30, NO),  # wholly above 1.05
        (0.96, 1.04, TIE),  # wholly inside the band
        (0.95, 1.05, TIE),  # the band's edges belong to it
        (0.90, 1.00, INCONCLUSIVE),  # straddles 0.95
        (1.00, 1.10, INCONCLUSIVE),  # straddles 1.05
        (0.80, 1.20, INCONCLUSIVE),  # straddles both
    ],
)
def test_speed_outcome_is_read_off_the_interval(low, high, outcome):
    est = Estimate((low + high) / 2, low, high, 12, "median of 12 paired rounds")
    v = decide("faster", est)
    assert v.outcome == outcome and (v.low, v.high, v.n) == (low, high, 12)


def test_a_point_without_an_interval_decides_nothing_unless_allowed():
    est = point(0.5, "one figure")
    assert decide("faster", est).outcome == INCONCLUSIVE  # even far below the band
    assert decide("faster", est, point_decides=True).outcome == YES  # the study's published figure, labelled
    assert decide("faster", None, missing="no paired rounds").outcome == NOT_MEASURED
    assert decide("faster", est, not_comparable="measured on 500 images").outcome == NOT_COMPARABLE


@pytest.mark.parametrize(
    "params, file, outcome",
    [((8586, 1427), (41_000, 12_000), YES), ((8586, 1427), (41_000, 41_000), NO), ((1427, 8586), (12_000, 41_000), NO)],
)
def test_smaller_needs_both_counts_below(params, file, outcome):
    figs = {"params": dict(zip(("regular", "separable"), params)), "native_bytes": dict(zip(("regular", "separable"), file))}
    evidence, missing, points = claim_evidence(figs)
    v = decide_claims(evidence, missing=missing, point_decides=points)[0]
    assert v.claim == "smaller" and v.outcome == outcome and v.figures["params_regular"] == params[0]


def test_study_row_holds_its_three_claims_on_its_published_points():
    evidence, missing, points = study_verdict_inputs()
    verdicts = {v.claim: v for v in decide_claims(evidence, missing=missing, point_decides=points)}
    assert all(v.outcome == YES for k, v in verdicts.items() if k != "trains_faster")
    assert verdicts["trains_faster"].outcome == NOT_MEASURED and "did not time its training" in verdicts["trains_faster"].note
    assert verdicts["faster"].estimate == pytest.approx(1.11 / 1.43) and "published" in verdicts["faster"].method
    assert verdicts["small_accuracy_cost"].estimate == pytest.approx(1.48, abs=0.01)
    assert verdicts["smaller"].figures["params_ratio"] == pytest.approx(1427 / 8586)
    assert "0.541x" in verdicts["smaller"].cell()


def test_one_seed_is_labelled_and_several_seeds_decide_on_their_interval():
    figs = {"test_accuracy": {"regular": 0.9127, "separable": 0.9009}}
    evidence, _, points = claim_evidence(figs)
    one = decide_claims(evidence, point_decides=points)[2]
    assert one.outcome == YES and one.n == 1 and "1 seed" in one.cell() and one.low is None
    evidence, _, points = claim_evidence(figs, seed_costs=[1.2, 0.1, 2.5, -0.4, 1.9])  # mean 1.06, sd 1.18: straddles 0
    many = decide_claims(evidence, point_decides=points)[2]
    assert many.outcome == INCONCLUSIVE and many.n == 5 and many.low < 0 < many.high


def test_missing_figures_are_not_measured_with_a_reason():
    verdicts = decide_claims(claim_evidence({"params": {"regular": 8586, "separable": 1427}})[0])
    assert [v.outcome for v in verdicts] == [NOT_MEASURED] * 4


def test_any_pair_is_decided_on_its_own_models_figures():
    """The spatial pair's sizes are its own two models', named in the figures by model (not "separable")."""
    figs = {"params": {"regular": 8586, "spatial": 2713, "separable": 1427}, "native_bytes": {"regular": 40000, "spatial": 13000}}
    evidence, missing, points = claim_evidence(figs, models=("regular", "spatial"))
    v = decide_claims(evidence, missing=missing, point_decides=points)[0]
    assert v.outcome == YES and v.figures["params_spatial"] == 2713 and v.figures["params_ratio"] == pytest.approx(2713 / 8586)
    assert "params_separable" not in v.figures
    train = (Estimate(0.5, 0.45, 0.55, 8, "training steps: median of 8 paired rounds"), {"regular_s": 10.0, "spatial_s": 5.0})
    trains = decide_claims(claim_evidence(figs, models=("regular", "spatial"), train=train)[0])[3]
    assert trains.claim == "trains_faster" and trains.outcome == YES and trains.cell() == "yes: 0.50x [0.45, 0.55], 8 rounds"


def test_a_verdict_round_trips_and_renders_its_interval():
    v = decide("faster", Estimate(0.83, 0.80, 0.86, 24, "median of 24 paired rounds"))
    assert Verdict.from_dict(json.loads(json.dumps(v.as_dict()))) == v
    assert v.cell() == "yes: 0.83x [0.80, 0.86], 24 rounds"
    est = Estimate(0.83, 0.80, 0.86, 24, "median of 24 paired rounds")
    assert decide("faster", est, {"threads": 1}).cell() == "yes: 0.83x [0.80, 0.86], 24 rounds at 1 thread"
    assert decide("faster", est, {"threads": 2}).cell() == "yes: 0.83x [0.80, 0.86], 24 rounds at 2 threads"
    assert decide("faster", est, {"threads": True}).cell() == "yes: 0.83x [0.80, 0.86], 24 rounds"  # not a count


# ---------------------------------------------------------------- the bootstrap on samples


def _rounds(ratio: float, noise: float, n: int, seed: int, burst: float = 0.0) -> tuple[list[float], list[float]]:
    """``n`` paired rounds: a load that drifts by up to 3x moves both halves of a round alike."""
    rng = np.random.default_rng(seed)
    load = np.exp(rng.uniform(0, math.log(3), n))
    base = 0.1 * load * np.exp(rng.normal(0, noise, n))
    cand = ratio * 0.1 * load * np.exp(rng.normal(0, noise, n))
    if burst:
        cand[0] *= burst  # one round hit by a burst on one side only: kept, not dropped
    return base.tolist(), cand.tolist()


@pytest.mark.parametrize(
    "ratio, noise, n, outcome",
    [
        (0.70, 0.02, 12, YES),  # quiet, clearly faster
        (1.00, 0.01, 20, TIE),  # a real tie
        (1.30, 0.02, 12, NO),  # a real slowdown
        (0.93, 0.30, 8, INCONCLUSIVE),  # noisy: cannot tell
    ],
)
def test_paired_samples_decide_each_outcome(ratio, noise, n, outcome):
    base, cand = _rounds(ratio, noise, n, seed=3)
    est = paired_ratio(base, cand)
    assert est.low <= est.value <= est.high and est.n == n
    assert decide("faster", est).outcome == outcome
    assert paired_ratio(base, cand) == est  # a fixed bootstrap seed: the same samples give the same interval


def test_a_burst_is_kept_and_a_wide_spread_says_so():
    base, cand = _rounds(0.7, 0.02, 12, seed=1, burst=5.0)
    est = paired_ratio(base, cand)
    assert decide("faster", est).outcome == YES and est.n == 12  # the median shrugs off one burst; nothing dropped
    wide = paired_ratio(*_rounds(0.9, 0.5, 12, seed=2))
    assert "scatter widely" in wide.note
    with pytest.raises(ValueError, match="differ in length"):
        paired_ratio([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="> 0"):
        paired_ratio([0.1, 0.0], [0.1, 0.1])


@pytest.mark.skipif(not RECORDED.exists(), reason="tests/data/paired_samples.json not recorded")
def test_recorded_samples_give_their_recorded_outcomes():
    """Real rounds from the benchmark suite on a busy 2-core machine; the expected outcome of each was
    read off its recorded interval against the band 0.95-1.05."""
    cases = json.loads(RECORDED.read_text())["cases"]
    assert {c["expect"] for c in cases} >= {YES, NO, INCONCLUSIVE}
    for case in cases:
        est = paired_ratio(case["regular_s"], case["separable_s"])
        v = decide("faster", est)
        assert v.outcome == case["expect"], (case["name"], v.cell())
        assert est.low == pytest.approx(case["low"], rel=1e-9) and est.high == pytest.approx(case["high"], rel=1e-9)


def test_study_ratios_and_mac_ratio():
    assert round(study_ratio("params"), 3) == 0.166
    assert round(study_ratio("hdf5_bytes"), 3) == 0.541
    assert round(study_ratio("eval_seconds"), 2) == 0.78
    assert MAC_RATIO == MODELS["separable"].macs / MODELS["regular"].macs
    assert STUDY["params"] == {"regular": 8_586, "separable": 1_427}
    assert exact(3).n == 1


def test_a_machine_short_of_cores_decides_nothing_whatever_its_interval():
    """Recorded beside a one-core hog (2 threads on 2 cores): NumPy's paired evaluate said 0.41x
    [0.34, 0.57] where the quiet machine said 1.38x [1.35, 1.40]: a narrow interval, the load's answer."""
    from sepbench.core.evidence import busy_reason

    reason = busy_reason(others_cores=1.0, cores=2, threads=2)
    assert reason.startswith("the machine was busy: other processes used 1.0 of its 2 cores") and "--threads 1" in reason
    v = decide("faster", Estimate(0.41, 0.34, 0.57, 6, "paired evaluate: median of 6 paired rounds", unusable=reason))
    assert v.outcome == INCONCLUSIVE and v.busy and v.note.startswith("the machine was busy")
    assert v.cell() == "inconclusive (busy machine): 0.41x [0.34, 0.57], 6 rounds"
    assert Verdict.from_dict({**v.as_dict(), "busy": "True"}).busy  # as a CSV gives it back
    assert decide("faster", Estimate(0.41, 0.34, 0.57, 6, "paired evaluate")).outcome == YES  # the same figures, quiet
    # the threshold: half a core beyond those the case leaves free
    assert busy_reason(0.5, 2, 2) == "" and busy_reason(0.51, 2, 2) != ""
    assert busy_reason(1.4, 2, 1) == "" and busy_reason(1.6, 2, 1) != ""  # one thread on two cores: one core may go
    assert busy_reason(None, 2, 2) == "" and busy_reason(3.0, 0, 2) == ""  # not known: not judged


def test_accuracy_over_seeds_records_its_figures_rounded_to_four_places():
    from sepbench.core.evidence import accuracy_over_seeds

    est, figs = accuracy_over_seeds([1.234567, 2.0, 3.0], {"regular": [0.912345], "separable": [0.898765]})
    assert figs == {
        "seeds": 3,
        "cost_points_per_seed": [1.2346, 2.0, 3.0],
        "accuracy_regular_per_seed": [0.9123],
        "accuracy_separable_per_seed": [0.8988],
    }
    assert est.n == 3 and est.method == "mean over 3 seeds, 95 % t interval"


def test_the_studys_own_speed_verdict_is_its_published_point():
    """The study: 1.43 s regular, 1.11 s separable, one evaluate each: 0.776x, decided on the point."""
    from sepbench.core.evidence import study_verdict_inputs

    evidence, missing, point_decides = study_verdict_inputs()
    est, figs = evidence["time_ratio"]
    assert est.value == pytest.approx(1.11 / 1.43) and est.n == 1 and not est.has_interval
    assert est.method == "published: one model.evaluate per model, no interval"
    assert figs == {"regular_s": 1.43, "separable_s": 1.11} and "faster" not in missing and "faster" in point_decides


def test_a_verdict_read_back_from_a_table_cleans_empty_cells():
    from sepbench.core.claims import Verdict

    v = Verdict.from_dict({"claim": "faster", "outcome": "yes", "estimate": float("nan"), "low": 0.8, "n": 12.0, "note": 3})
    assert v.estimate is None and v.low == 0.8 and v.high is None and v.n == 12 and v.note == "" and v.method == ""
    w = Verdict.from_dict({"claim": "faster", "outcome": "tie", "low": float("nan"), "high": float("inf"), "method": "m", "note": "n"})
    assert (w.low, w.high, w.method, w.note, w.busy) == (None, None, "m", "n", False)
    assert Verdict.from_dict({"claim": "faster", "outcome": "yes", "busy": "True"}).busy  # CSV gives text


@pytest.mark.parametrize(
    "layer, message",
    [
        (dict(name="d", kind="dense", filters=0), "a dense layer needs filters"),
        (dict(name="c", kind="separable_conv", filters=0, kernel=3), "a convolution needs filters, kernel and stride >= 1"),
        (dict(name="c", kind="conv", filters=4, kernel=0), "a convolution needs"),
        (dict(name="c", kind="conv", filters=4, kernel=3, stride=0), "a convolution needs"),
        (dict(name="c", kind="spatial_separable_conv", filters=4, kernel=0), "a convolution needs"),
        (dict(name="x", kind="lstm"), "unknown kind 'lstm'"),
    ],
)
def test_a_layer_that_cannot_be_built_is_refused_by_name(layer, message):
    from sepbench.core.spec import LayerSpec

    with pytest.raises(ValueError, match=message) as info:
        LayerSpec(**layer)
    assert f"layer {layer['name']!r}" in str(info.value)


def test_the_smallest_layers_are_valid():
    from sepbench.core.spec import LayerSpec

    for kind in ("conv", "separable_conv", "spatial_separable_conv"):
        assert LayerSpec("c", kind, filters=1, kernel=1, stride=1).params((3, 3, 1)) > 0
    assert LayerSpec("d", "dense", filters=1).params((4,)) == 5
    assert LayerSpec("g", "global_avg_pool").params((3, 3, 2)) == 0  # no filters needed


def test_not_comparable_names_the_subset_it_knows_and_never_invents_one():
    from sepbench.core.claims import not_comparable

    assert not_comparable(60_000, 10_000) == {}
    assert not_comparable(6_400, 10_000) == {"small_accuracy_cost": "trained on 6,400 of the 60,000 training images"}
    assert not_comparable(None, 10_000, train_subset=True) == {"small_accuracy_cost": "trained on a subset of the 60,000 training images"}
    both = not_comparable(64, 2_000)
    assert both["faster"] == "measured on 2,000 of the 10,000 test images"
    assert both["small_accuracy_cost"] == "measured on 2,000 of the 10,000 test images; trained on 64 of the 60,000 training images"


def test_cells_render_each_unit_and_count_exactly():
    """Verdict.figure / cell / _count, independently of any table: the words a reader sees."""
    smaller = Verdict("smaller", YES, 0.258, 0.258, 0.258, 1, "exact counts", "x", {"params_ratio": 0.1662, "native_bytes_ratio": 0.258})
    assert smaller.cell() == "yes: params 0.166x, native_bytes 0.258x"  # both ratios, no count for exact sizes
    assert Verdict("smaller", YES, 0.99, unit="x").cell() == "yes: 0.990x"  # below 0.995: three decimals
    assert Verdict("smaller", NO, 0.996, unit="x").cell() == "NO: 1.00x"
    faster = Verdict("faster", YES, 0.83, 0.80, 0.86, 24, "predict: median of 24 paired rounds", "x")
    assert faster.cell() == "yes: 0.83x [0.80, 0.86], 24 rounds"
    assert Verdict("faster", TIE, 1.0, 1.0, 1.0, 8, "median of 8 paired rounds", "x").cell() == "tie: 1.00x, 8 rounds"  # no [a, a]
    assert Verdict("faster", INCONCLUSIVE, 0.9, None, None, 1, "published", "x").cell() == "inconclusive: 0.90x"
    cost = Verdict("small_accuracy_cost", YES, 1.32, 0.70, 1.94, 5, "mean over 5 seeds, 95 % t interval", "points")
    assert cost.cell() == "yes: +1.32 points [+0.70, +1.94], 5 seeds"
    one = Verdict("small_accuracy_cost", YES, 1.18, None, None, 1, "1 seed (point figure, no interval)", "points")
    assert one.cell() == "yes: +1.18 points, 1 seed"
    assert Verdict("faster", NOT_MEASURED, note="no paired rounds").cell() == "not measured: no paired rounds"
    assert Verdict("faster", NOT_MEASURED).cell() == "not measured"
    busy = Verdict("faster", INCONCLUSIVE, 0.9, 0.8, 1.0, 6, "median of 6 paired rounds", "x", busy=True)
    assert busy.cell() == "inconclusive (busy machine): 0.90x [0.80, 1.00], 6 rounds"
    for raw in (True, "True", "true"):  # a record, or a CSV cell
        assert Verdict.from_dict({"claim": "faster", "outcome": INCONCLUSIVE, "busy": raw}).busy
    assert not Verdict.from_dict({"claim": "faster", "outcome": INCONCLUSIVE, "busy": "False"}).busy


@pytest.mark.parametrize(
    "low, high, outcome",
    [
        (0.5, 5.0, YES),  # the band is (0, 5]: 5 points is still "a little"
        (0.0, 1.0, INCONCLUSIVE),  # reaches 0: the interval does not exclude "no cost"
        (-1.0, 0.0, NO),  # at most 0: no cost at all
        (5.0, 6.0, INCONCLUSIVE),  # 5 itself is inside the band
        (5.01, 6.0, NO),
    ],
)
def test_a_little_accuracy_band_is_open_at_zero_and_closed_at_five(low, high, outcome):
    assert decide("small_accuracy_cost", Estimate((low + high) / 2, low, high, 5, "t")).outcome == outcome


def test_sizes_are_below_the_band_only_when_every_ratio_is_below_one():
    assert decide("smaller", exact(0.999, "exact")).outcome == YES
    assert decide("smaller", exact(1.0, "exact")).outcome == NO


def test_a_pairs_evidence_reads_its_own_models_and_says_what_is_missing():
    """Evidence for the spatial pair: the HDF5 size where its two models have one (not the study's), each
    figure under its own model's name, and a reason for every claim it cannot decide."""
    figs = {
        "params": {"regular": 8586, "spatial": 2713},
        "hdf5_bytes": {"regular": 100.0, "spatial": 60.0},  # the study's separable has no HDF5 figure here
        "native_bytes": {"regular": 40.0, "spatial": 16.0},
        "test_accuracy": {"regular": 0.91, "spatial": 0.90},
    }
    evidence, missing, points = claim_evidence(figs, models=("regular", "spatial"))
    est, size = evidence["size_ratio"]
    assert size == {
        "params_regular": 8586, "params_spatial": 2713, "hdf5_bytes_regular": 100.0, "hdf5_bytes_spatial": 60.0,
        "params_ratio": 2713 / 8586, "hdf5_bytes_ratio": 0.6,
    }  # fmt: skip
    assert est.value == 0.6 and est.method == "exact counts: params 0.316x, hdf5_bytes 0.600x"
    est, acc = evidence["accuracy_cost_points"]
    assert acc == {"accuracy_regular": 0.91, "accuracy_spatial": 0.90} and est.value == pytest.approx(1.0)
    assert missing["faster"] == "no paired rounds of both models on this path"
    assert missing == {"faster": missing["faster"], "trains_faster": "no paired training rounds of both models"}
    assert points == {"small_accuracy_cost"}
    empty, why, _ = claim_evidence({}, models=("regular", "spatial"))
    assert why["smaller"] == "parameters or file size missing"
    assert why["small_accuracy_cost"] == "test accuracy missing (trained weights on all 10,000 test images)"
    assert empty["size_ratio"] == (None, {}) and empty["accuracy_cost_points"] == (None, {})


def test_undecided_verdicts_keep_their_unit_figures_and_reason():
    figs = {"regular_s": 1.0}
    nc = decide("faster", Estimate(0.8, 0.7, 0.9, 6, "m"), figs, not_comparable="measured on 500 of the 10,000 test images")
    assert (nc.outcome, nc.unit, nc.figures) == (NOT_COMPARABLE, "x", figs)
    assert nc.note == "not comparable with the study: measured on 500 of the 10,000 test images" and nc.estimate is None
    nm = decide("small_accuracy_cost", None, figs)
    assert (nm.outcome, nm.unit, nm.figures, nm.note) == (NOT_MEASURED, "points", figs, "a figure it needs is missing")
    assert decide("faster", None, missing="no paired rounds").note == "no paired rounds"
    busy = decide("faster", Estimate(0.8, 0.7, 0.9, 6, "m", note="wide", unusable="the machine was busy"))
    assert busy.outcome == INCONCLUSIVE and busy.busy and busy.note == "the machine was busy; wide"
    lone = decide("faster", Estimate(0.8, float("nan"), float("nan"), 1, "m", note="older run"))
    assert lone.outcome == INCONCLUSIVE and lone.note == "older run; a point figure without an interval decides nothing"
    assert lone.low is None and lone.high is None
    verdicts = decide_claims({}, missing={"faster": "why not"}, subset={"small_accuracy_cost": "a subset"})
    by = {v.claim: v for v in verdicts}
    assert by["faster"].note == "why not" and by["smaller"].note == "a figure it needs is missing"
    assert by["small_accuracy_cost"].outcome == NOT_COMPARABLE and by["small_accuracy_cost"].note.endswith(": a subset")


def test_two_seeds_decide_on_their_interval_an_edge_is_the_bands_and_one_missing_model_is_no_figure():
    figs = {"test_accuracy": {"regular": 0.91, "separable": 0.90}}
    evidence, _, points = claim_evidence(figs, seed_costs=[1.0, 2.0])  # two seeds are enough for a t interval
    est, f = evidence["accuracy_cost_points"]
    assert est.n == 2 and "2 seeds" in est.method and f["seeds"] == 2 and "small_accuracy_cost" not in points
    assert decide("faster", Estimate(1.07, 1.05, 1.10, 6, "m")).outcome == INCONCLUSIVE  # 1.05 is inside the band
    evidence, missing, _ = claim_evidence({"params": {"regular": 8586}, "native_bytes": {"regular": 1.0, "separable": 0.5}})
    assert evidence["size_ratio"] == (None, {}) and missing["smaller"] == "parameters or file size missing"
