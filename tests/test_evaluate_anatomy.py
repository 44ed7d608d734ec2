"""The pieces that take Keras's evaluate apart (sepbench.measure.evaluate_anatomy), on real MNIST images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from impls.registry import unavailable_reason
from sepbench.measure.evaluate_anatomy import steps

TF_MISSING = unavailable_reason("tensorflow")


def test_steps_of_the_study() -> None:
    assert steps(10_000) == 313 and steps(32) == 1 and steps(33) == 2


@pytest.mark.skipif(TF_MISSING is not None, reason=f"tensorflow backend unavailable: {TF_MISSING}")
@pytest.mark.parametrize("model", ["regular", "separable"])
def test_graph_forward_gives_the_models_probabilities(mnist_dir: Path, model: str) -> None:
    from sepbench.measure.workloads import KerasGraphForwardWorkload, PredictWorkload

    graph = KerasGraphForwardWorkload("tensorflow", model, batch_size=32, n_images=100).setup(data_dir=str(mnist_dir), warmup=1)
    plain = PredictWorkload("tensorflow", model, batch_size=32, n_images=100).setup(data_dir=str(mnist_dir), warmup=0)
    out = graph.run()
    assert out.shape == (100, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out, plain.run(), atol=1e-5)
    assert graph.kind == "graph-forward" and graph.info["steps"] == 4  # 100 images at 32: a short last batch too
    assert 0 < graph.info["keras_evaluate_floor_s"] < 60


def test_graph_forward_refuses_other_backends(mnist_dir: Path) -> None:
    from sepbench.measure.workloads import KerasGraphForwardWorkload

    with pytest.raises(ValueError, match="needs the tensorflow backend, not 'numpy'"):
        KerasGraphForwardWorkload("numpy", "regular", batch_size=32, n_images=32).setup(data_dir=str(mnist_dir), warmup=0)
