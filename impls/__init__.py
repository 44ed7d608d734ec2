"""Interchangeable implementations of the models: NumPy, TensorFlow/Keras, PyTorch, ONNX Runtime and LiteRT.

Use the registry::

    from impls import build_model
    model = build_model("torch", "separable", weights)
    probs = model.predict(images, batch_size=32)
"""

from impls.base import Backend, Evaluation, InferenceModel, validate_images
from impls.registry import (
    BackendUnavailableError,
    UnknownBackendError,
    available_backends,
    backend_names,
    build_model,
    get_backend,
    unavailable_reason,
)

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "Evaluation",
    "InferenceModel",
    "UnknownBackendError",
    "available_backends",
    "backend_names",
    "build_model",
    "get_backend",
    "unavailable_reason",
    "validate_images",
]
