"""The measurement API: roofline probe, compute limit, extra_info (rounds: tests/test_timer.py)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from sepbench.measure.extra_info import EXTRA_INFO_KEYS, accuracy_of, compute_limit_seconds, roofline, workload_extra_info


def test_compute_limit_of_the_regular_model_matches_the_issue():
    # 117,384 MACs x 10,000 images = 2.35 GFLOP; at 58.7 GFLOP/s that is 40 ms
    assert compute_limit_seconds(117_384, 10_000, 58.7e9) == pytest.approx(2 * 117_384 * 10_000 / 58.7e9)
    assert compute_limit_seconds(117_384, 10_000, 58.7e9) == pytest.approx(0.040, abs=0.001)
    assert compute_limit_seconds(0, 10, 1e9) == 0.0


@pytest.mark.parametrize("flops", [0, -1.0, math.inf, math.nan])
def test_compute_limit_rejects_bad_throughput(flops):
    with pytest.raises(ValueError, match="FLOP/s"):
        compute_limit_seconds(100, 10, flops)


def test_compute_limit_rejects_negative_counts():
    with pytest.raises(ValueError, match=">= 0"):
        compute_limit_seconds(-1, 10, 1e9)


def test_roofline_probe_is_short_plausible_and_cached():
    r = roofline(gemm_size=256, stream_bytes=8 * 2**20, budget_s=0.2)
    assert r.gemm_flops > 1e8  # any machine that runs the suite does 0.1 GFLOP/s
    assert r.copy_bytes_per_s > 1e8 and r.read_bytes_per_s > 1e8
    assert r.mem_bandwidth == max(r.copy_bytes_per_s, r.read_bytes_per_s)
    assert r.seconds < 5
    assert roofline(gemm_size=256, stream_bytes=8 * 2**20, budget_s=0.2) is r  # once per process
    info = r.as_machine_info()
    assert info["gemm_gflops"] == pytest.approx(r.gemm_flops / 1e9, abs=0.01)
    assert info["mem_bandwidth_gbs"] == pytest.approx(r.mem_bandwidth / 1e9, abs=0.01)


def test_roofline_rejects_silly_sizes():
    with pytest.raises(ValueError):
        roofline(gemm_size=4)


def test_accuracy_of_probabilities_and_evaluations():
    labels = np.array([0, 1, 2, 1])
    probs = np.eye(3, dtype=np.float32)[[0, 1, 0, 1]]
    assert accuracy_of(probs, labels) == 0.75
    assert accuracy_of(probs[:2], labels) is None  # wrong length: not guessed

    class Ev:
        accuracy = 0.5

    assert accuracy_of(Ev(), labels) == 0.5


def test_extra_info_of_a_real_numpy_workload(mnist_dir):
    from sepbench.measure.workloads import EvaluateWorkload, PredictWorkload

    w = PredictWorkload("numpy", "separable", batch_size=16, n_images=64).setup(data_dir=str(mnist_dir), warmup=1)
    out = w.run()
    info = workload_extra_info(w, 0.01, out, 50e9)
    assert set(EXTRA_INFO_KEYS) <= set(info)
    assert info["workload"] == "predict" and info["images_per_s"] == pytest.approx(6400)
    assert info["params"] == 1427 and info["macs_per_image"] == 15_089
    assert info["accuracy"] == pytest.approx(float(np.mean(out.argmax(1) == w.labels)))
    assert info["compute_limit_fraction"] == pytest.approx(2 * 15_089 * 64 / 50e9 / 0.01)
    assert info["native_format"] == "npz" and info["native_bytes"] > 1427 * 4

    e = EvaluateWorkload("numpy", "regular", n_images=64).setup(data_dir=str(mnist_dir), warmup=0)
    ev_info = workload_extra_info(e, None, e.run(), None)  # benchmarks disabled, no probe
    assert ev_info["workload"] == "evaluate" and ev_info["batch_size"] == 32
    assert ev_info["images_per_s"] is None and ev_info["compute_limit_fraction"] is None
    assert "loss" in ev_info and 0 <= ev_info["accuracy"] <= 1


def test_a_fast_path_workload_records_what_the_fast_path_chose(mnist_dir):
    from sepbench.measure.workloads import PredictWorkload

    w = PredictWorkload("numpy", "regular", batch_size=64, n_images=64, path="fast").setup(data_dir=str(mnist_dir), warmup=1)
    assert w.info["fast_config"] == w.instance.fast_config()
    assert set(w.info["fast_config"]["layers"]) == {"conv1", "conv2", "conv3", "gap+dense"}
    plain = PredictWorkload("numpy", "regular", batch_size=64, n_images=64).setup(data_dir=str(mnist_dir), warmup=0)
    assert "fast_config" not in plain.info


def test_paired_workload_runs_both_models_in_a_seeded_random_order_and_summarizes_per_round_ratios(mnist_dir):
    from sepbench.measure.paired_workloads import PairedPredictWorkload

    w = PairedPredictWorkload("numpy", path="fast", n_images=200).setup(data_dir=str(mnist_dir), warmup=1)
    with pytest.raises(ValueError, match="call run"):
        w.summary()
    order = []
    for m in w.models:
        original = w.parts[m].run
        w.parts[m].run = lambda original=original, m=m: (order.append(m), original())[1]
    for _ in range(12):
        w.run()
    rounds = [order[i : i + 2] for i in range(0, len(order), 2)]
    assert len(rounds) == 12 and all(sorted(r) == ["regular", "separable"] for r in rounds)  # each round: both models once
    assert w.orders == [r[0] for r in rounds]  # who ran first is recorded, round by round
    assert set(w.orders) == {"regular", "separable"}  # a random order: no model always runs first
    s = w.summary()
    ratios = sorted(sep / reg for reg, sep in w.pairs)
    assert s["pairs"] == 12 and s["ratio_median"] == pytest.approx((ratios[5] + ratios[6]) / 2)
    assert s["ratio_q1"] <= s["ratio_median"] <= s["ratio_q3"]
    assert s["regular_median_s"] == pytest.approx(float(np.median([r for r, _ in w.pairs])))
    # the estimate is the median of the 12 ratios on a log scale (the geometric mean of the middle two), within its 95 % interval
    assert s["ratio_estimate"] == pytest.approx((ratios[5] * ratios[6]) ** 0.5)
    assert s["ratio_low"] <= s["ratio_estimate"] <= s["ratio_high"] and "12 paired rounds" in s["ratio_method"]
    # the same seed gives the same order; the rounds stop at the minimum when the budget is already spent
    again = PairedPredictWorkload("numpy", path="fast", n_images=200).setup(data_dir=str(mnist_dir), warmup=1)
    reason = again.run_rounds(0.0, 3, 50)
    assert len(again.pairs) == 3 and again.orders == w.orders[:3]
    # (a test worker beside this one may make the machine busy: then the rounds stop at their minimum, saying so)
    busy3 = "the machine was busy: stopped after 3 rounds"
    assert reason == again.stop_reason and reason in ("3 rounds in the budget of 0 s", busy3)
    capped = PairedPredictWorkload("numpy", path="fast", n_images=200).setup(data_dir=str(mnist_dir), warmup=1)
    stopped = capped.run_rounds(1e9, 2, 4)
    assert stopped in ("4 rounds, the most allowed", busy3.replace("3", "2"), busy3)
    assert len(capped.others_per_round) == len(capped.pairs)
    assert 2 <= len(capped.pairs) <= 4
    # the cores other processes used during the rounds, and whether that was too many to decide
    summary = capped.summary()
    assert summary["others_cores"] is None or 0.0 <= summary["others_cores"] <= summary["cores"]
    assert isinstance(summary["busy"], str)
    if stopped.startswith("the machine was busy"):
        assert summary["busy"].startswith("the machine was busy: other processes used")
    info = w.extra_info()
    assert info["workload"] == "paired-predict" and info["batch_free"] is True
    assert info["samples_s"] == {"regular": [r for r, _ in w.pairs], "separable": [p for _, p in w.pairs]} and info["first"] == w.orders
    assert info["macs_per_image"] == {"regular": 117_384, "separable": 15_089}
    assert set(info["fast_config"]) == {"regular", "separable"}


def test_a_path_that_reads_bytes_is_given_the_images_as_bytes(mnist_dir):
    pytest.importorskip("halide", reason="the halide path needs the halide wheel (extra 'halide')")
    from sepbench.core.data import load_mnist_raw
    from sepbench.measure.paired_workloads import PairedPredictWorkload
    from sepbench.measure.workloads import PredictWorkload

    w = PredictWorkload("numpy", "separable", batch_size=64, n_images=40, path="halide").setup(data_dir=str(mnist_dir), warmup=1)
    raw, _ = load_mnist_raw("test", str(mnist_dir))
    assert w.images.dtype == np.uint8 and np.array_equal(w.images[..., 0], raw[:40]) and w.images.flags.writeable
    assert w.info["pixels"] == "uint8"
    plain = PredictWorkload("numpy", "separable", batch_size=64, n_images=40, path="fused").setup(data_dir=str(mnist_dir), warmup=0)
    assert plain.images.dtype == np.float32 and plain.info["pixels"] == "float32"
    # the same probabilities: to 1e-6 (in blocks of 16 the 1/255 goes into the first layer's weights instead)
    assert np.abs(w.run() - plain.instance.predict(plain.images, 64, path="halide")).max() <= 1e-6
    paired = PairedPredictWorkload("numpy", path="halide", n_images=40).setup(data_dir=str(mnist_dir), warmup=0)
    paired.run()
    assert paired.extra_info()["pixels"] == "uint8"
    # both models of a paired round read the same memory, as paths given float32 images do
    assert np.shares_memory(paired.parts["regular"].images, paired.parts["separable"].images)
    fused = PairedPredictWorkload("numpy", path="fused", n_images=40).setup(data_dir=str(mnist_dir), warmup=0)
    assert np.shares_memory(fused.parts["regular"].images, fused.parts["separable"].images)


def test_only_images_that_are_bytes_in_disguise_become_bytes():
    from sepbench.core.pixels import as_pixel_bytes

    raw = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 1), dtype=np.uint8)
    x = raw.astype(np.float32) / np.float32(255.0)
    back = as_pixel_bytes(x)
    assert back is not None and back.dtype == np.uint8 and np.array_equal(back, raw) and back.flags.writeable
    assert as_pixel_bytes(x * np.float32(0.5)) is None  # not k / 255: the bytes would not give these images back
    off = x.copy()
    off[0, 0, 0, 0] = np.nextafter(off[0, 0, 0, 0], np.float32(2))  # one value one ulp off is not a byte
    assert as_pixel_bytes(off) is None
    assert as_pixel_bytes(np.full((1, 2, 2, 1), np.nan, np.float32)) is None
    assert as_pixel_bytes(x.astype(np.float64)) is None  # only the float32 images the loaders make


def test_the_rounds_are_chosen_from_a_call_without_the_one_time_set_up(mnist_dir, monkeypatch):
    from sepbench.measure import workloads
    from sepbench.measure.workloads import PredictWorkload

    w = PredictWorkload("numpy", "separable", batch_size=1, n_images=1)
    calls = []

    def run():  # a first call that compiles for 0.3 s, then calls of microseconds
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.3)

    monkeypatch.setattr(workloads, "LONG_CALL_S", 0.2)
    monkeypatch.setattr(w, "run", run)
    assert w._warm_up(2) < 0.1 and len(calls) == 2  # the second call's time, not the compile's
    calls.clear()
    monkeypatch.setattr(w, "run", lambda: (calls.append(1), time.sleep(0.25)))
    assert w._warm_up(3) >= 0.25 and len(calls) == 2  # a call long every time stops after the second
