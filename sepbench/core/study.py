"""The study's published figures, as data (source: ../shared/SEED_FACTS.md).

Reports and ``sepbench reproduce`` print these beside our measurements; nothing else hard-codes
them.
"""

from __future__ import annotations

from typing import Final

STUDY_SOURCE: Final = "data-science blog post, Keras 2 / tf.keras on a hosted notebook"
STUDY_FRAMEWORK: Final = "tensorflow"  # the backend the study ran (tf.keras): its default path's evaluate is the study's own measurement

# metric -> {model: value}
STUDY: Final[dict[str, dict[str, float]]] = {
    "params": {"regular": 8_586, "separable": 1_427},
    "hdf5_bytes": {"regular": 105.2265625 * 1024, "separable": 56.9375 * 1024},  # model.save("model.hdf5"), optimizer state included
    "test_loss": {"regular": 0.2982, "separable": 0.3394},
    "test_accuracy": {"regular": 0.9168999791145325, "separable": 0.9021000266075134},
    "eval_seconds": {"regular": 1.43, "separable": 1.11},  # wall time of model.evaluate, 10,000 images, batch 32
}

STUDY_UNITS: Final[dict[str, str]] = {
    "params": "parameters",
    "hdf5_bytes": "bytes",
    "test_loss": "nats",
    "test_accuracy": "fraction",
    "eval_seconds": "seconds",
}

EVAL_BATCH_SIZE: Final = 32  # Keras's default, 313 steps for 10,000 images
MAC_RATIO: Final = 15_089 / 117_384  # separable / regular MACs per image (computed by sepbench.core.spec; checked in tests)


def evaluate_steps(n_images: int, batch_size: int = EVAL_BATCH_SIZE) -> int:
    """Steps (batches) of a Keras-style ``evaluate``: ceil(n_images / batch_size); 313 for the study."""
    return -(-n_images // batch_size)


def study_ratio(metric: str) -> float:
    """The study's separable / regular ratio for ``metric``."""
    values = STUDY[metric]
    return values["separable"] / values["regular"]
