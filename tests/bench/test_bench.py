"""The benchmark suite: predict latency per backend x model x path x batch size, the study's
Keras-style evaluate of 10,000 test images at batch 32, 10,000 images predicted each backend's
fastest way (every path, a few batch sizes; ``sepbench bench-summary`` picks the fastest), and,
for TensorFlow, the anatomy of Keras's evaluate (its compute as a graph, its loop's floor); and
per backend path, separable / regular measured in alternating pairs (a ratio a drifting machine load
does not bias).

Parametrized by ``sepbench.bench.cases`` (loaded through ``conftest.py``); every case fills the agreed ``extra_info`` keys.
"""

from __future__ import annotations

from sepbench.measure.extra_info import EXTRA_INFO_KEYS


def _check(info: dict) -> None:
    missing = [k for k in EXTRA_INFO_KEYS if k not in info]
    assert not missing, f"extra_info lacks {missing}"
    if info["accuracy"] is not None:
        assert 0.0 <= info["accuracy"] <= 1.0


def test_predict(time_case, predict_case) -> None:
    """Latency of ``predict`` on one batch: 1, 32 or 10,000 images (group ``<model> batch=<b>``)."""
    _check(time_case(predict_case))


def test_predict_10k(time_case, predict_10k_case) -> None:
    """``predict`` of the 10,000 test images in batches (group ``<model> predict-10k``)."""
    _check(time_case(predict_10k_case))


def test_evaluate(time_case, evaluate_case) -> None:
    """The study's measurement: Keras-style evaluate (loss and accuracy) of 10,000 images at batch 32."""
    info = time_case(evaluate_case)
    _check(info)
    assert info["n_images"] == 10_000 and info["batch_size"] == 32


def test_keras_graph_forward(time_case, graph_forward_case) -> None:
    """TensorFlow: the model's graph called once per batch of 32 (the compute inside Keras's evaluate),
    with Keras's evaluate floor (a softmax regression's evaluate) in ``extra_info``."""
    info = time_case(graph_forward_case)
    _check(info)
    assert info["workload"] == "graph-forward" and info["steps"] == 313
    assert info["keras_evaluate_floor_s"] > 0


def _check_paired(info: dict, case) -> None:
    base, cand = info["baseline"], info["candidate"]
    assert (info["pair"], base, cand) == (case.pair.name, *case.pair.model_names)
    assert info["pairs"] == info["rounds"] >= 1 and info["stop_reason"]
    assert 0 < info[f"{base}_median_s"] and 0 < info[f"{cand}_median_s"]
    assert 0 < info["ratio_q1"] <= info["ratio_median"] <= info["ratio_q3"]
    assert len(info["samples_s"][base]) == len(info["samples_s"][cand]) == info["rounds"]
    if info["rounds"] >= 2:
        assert info["ratio_low"] <= info["ratio_estimate"] <= info["ratio_high"]
    assert info["macs_per_image"] == {m.name: m.macs for m in case.pair.models}  # the pair's own models
    if info["pair"] == "study":  # the study's two models, counted by hand
        assert info["macs_per_image"] == {"regular": 117_384, "separable": 15_089}


def test_separable_vs_regular_paired(time_case, paired_case) -> None:
    """Both models' predict of 10,000 images on one backend path, in paired rounds (random order per
    round) until the ratio's interval decides "faster" or the budget is spent: each model's median,
    the per-round ratio's median, quartiles and 95 % interval, and every round's seconds in ``extra_info``."""
    info = time_case(paired_case)
    assert info["workload"] == "paired-predict"
    _check_paired(info, paired_case)


def test_separable_vs_regular_paired_evaluate(time_case, paired_evaluate_case) -> None:
    """The study's measurement in paired rounds: both models' Keras-style evaluate of the 10,000 test
    images at batch 32, random order per round, rounds adapting as in the paired predict case."""
    info = time_case(paired_evaluate_case)
    assert info["workload"] == "paired-evaluate" and info["batch_size"] == 32 and info["n_images"] == 10_000
    _check_paired(info, paired_evaluate_case)
    assert set(info["accuracy"]) == {info["baseline"], info["candidate"]}


def test_trains_faster_paired(time_case, paired_train_case) -> None:
    """ "Trains faster": both models' training steps (the recipe, batch 32, from seeded initial weights) on
    one trainer in paired rounds; each model's epoch time is its median step time x 1,875 steps."""
    info = time_case(paired_train_case)
    assert info["workload"] == "paired-train" and info["trainer"] == paired_train_case.backend
    assert info["steps_per_epoch"] == 1875 and info["steps_timed"] >= 16
    _check_paired(info, paired_train_case)


def test_accuracy_over_cached_seeds(time_case, seeds_case) -> None:
    """Both models' test accuracy for every training seed cached (``nox -s reproduce`` trains 5): the
    "a little accuracy" claim is then decided on the seeds' interval.  Skips, saying why, with one seed."""
    info = time_case(seeds_case)
    seeds = {r["seed"] for r in info["per_seed"]}
    assert len(seeds) >= 2 and len(info["per_seed"]) == 2 * len(seeds)
    assert all(0.5 < r["test_accuracy"] <= 1.0 for r in info["per_seed"])
