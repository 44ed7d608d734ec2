"""The benchmark suite: predict latency per backend x model x path x batch size, the study's
Keras-style evaluate of 10,000 test images at batch 32, 10,000 images predicted each backend's
fastest way (every path, a few batch sizes; ``sepbench bench-summary`` picks the fastest), and,
for TensorFlow, the anatomy of Keras's evaluate (its compute as a graph, its loop's floor).

Parametrized in ``conftest.py``; every case fills the agreed ``extra_info`` keys.
"""

from __future__ import annotations

from sepbench.measure import EXTRA_INFO_KEYS


def _check(info: dict) -> None:
    missing = [k for k in EXTRA_INFO_KEYS if k not in info]
    assert not missing, f"extra_info lacks {missing}"
    if info["accuracy"] is not None:
        assert 0.0 <= info["accuracy"] <= 1.0


def test_predict(measure, predict_case) -> None:
    """Latency of ``predict`` on one batch: 1, 32 or 10,000 images (group ``<model> batch=<b>``)."""
    _check(measure(predict_case))


def test_predict_10k(measure, predict_10k_case) -> None:
    """``predict`` of the 10,000 test images in batches (group ``<model> predict-10k``)."""
    _check(measure(predict_10k_case))


def test_evaluate(measure, evaluate_case) -> None:
    """The study's measurement: Keras-style evaluate (loss and accuracy) of 10,000 images at batch 32."""
    info = measure(evaluate_case)
    _check(info)
    assert info["n_images"] == 10_000 and info["batch_size"] == 32


def test_keras_graph_forward(measure, graph_forward_case) -> None:
    """TensorFlow: the model's graph called once per batch of 32 (the compute inside Keras's evaluate),
    with Keras's evaluate floor (a softmax regression's evaluate) in ``extra_info``."""
    info = measure(graph_forward_case)
    _check(info)
    assert info["workload"] == "graph-forward" and info["steps"] == 313
    assert info["keras_evaluate_floor_s"] > 0
