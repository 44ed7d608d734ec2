"""The one interface every backend implements, and the input checks they share.

A backend module (``impls/<name>_backend.py``) defines a :class:`Backend` object named
``BACKEND``; :mod:`impls.registry` finds it by name.  ``Backend.build(weights)`` returns an
:class:`InferenceModel`, whose ``predict(images, batch_size)`` returns class probabilities.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sepbench.core.pair_data import FileData
from sepbench.core.pixels import scale_pixels
from sepbench.core.spec import ModelSpec, get_model_spec
from sepbench.core.weights import PortableWeights, init_weights


def validate_images(images: Any, spec: ModelSpec, keep_uint8: bool = False) -> np.ndarray:
    """Check a batch of images and return it as C-contiguous float32 NHWC.

    Accepted: a rank-4 array ``(N, H, W, C)`` matching ``spec.input_shape``, ``N >= 1``, of a
    float dtype (cast to float32, values used as they are: the models expect [0, 1]) or uint8
    (raw pixels 0..255, scaled by 1/255 to [0, 1], as :func:`sepbench.core.data.load_mnist` does;
    with ``keep_uint8``, returned as they are, C-contiguous, for a path that scales them itself).
    Anything else raises ``ValueError`` naming what is wrong.
    """
    if not isinstance(images, np.ndarray):
        try:
            images = np.asarray(images)
        except Exception as exc:  # noqa: BLE001 - anything unconvertible is a bad input
            raise ValueError(f"images must be a numpy array, got {type(images).__name__} ({exc})") from None
    expected = tuple(spec.input_shape)
    if images.ndim != 4:
        hint = " (add a channel axis: images[..., None])" if images.ndim == 3 and images.shape[1:] == expected[:2] else ""
        raise ValueError(f"images must have rank 4 (N, H, W, C) = (N, {', '.join(map(str, expected))}); got shape {images.shape}{hint}")
    if images.shape[0] == 0:
        raise ValueError("images is an empty batch (N = 0); pass at least one image")
    if tuple(images.shape[1:3]) != expected[:2]:
        raise ValueError(
            f"images must be {expected[0]}x{expected[1]} pixels; got {images.shape[1]}x{images.shape[2]} (shape {images.shape})"
        )
    if images.shape[3] != expected[2]:
        raise ValueError(f"images must have {expected[2]} channel(s) (NHWC, channels last); got {images.shape[3]} (shape {images.shape})")
    if images.dtype == np.uint8:
        if keep_uint8:
            return np.ascontiguousarray(images)
        return np.ascontiguousarray(scale_pixels(images))
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be float (pixels scaled to [0, 1]) or uint8 (0..255); got dtype {images.dtype}")
    out = np.ascontiguousarray(images, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise ValueError("images contain NaN or infinity")
    return out


MAX_BATCH_SIZE = 2**31 - 1  # frameworks index batches with 32-bit ints (TensorFlow overflows beyond)


def validate_batch_size(batch_size: int) -> int:
    """``batch_size`` as an int in 1 .. :data:`MAX_BATCH_SIZE` (a batch larger than the images is fine)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE:,}, got {batch_size!r}")
    return int(batch_size)


def validate_labels(labels: Any, n: int, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {n} integers (shape ({n},)); got shape {labels.shape}, dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    return labels.astype(np.int64)


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy of predicted probabilities, with Keras's clipping (1e-7)."""
    p = np.clip(probs[np.arange(len(labels)), labels].astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(np.log(p)))


@dataclass(frozen=True)
class Evaluation:
    """Loss and accuracy of a model on labelled images."""

    loss: float  # mean categorical cross-entropy, nats
    accuracy: float  # fraction in [0, 1]
    n: int


class InferenceModel(abc.ABC):
    """A model of one backend holding one set of weights.

    Subclasses implement ``_forward(x)`` for one validated float32 batch, the weight transfer and
    ``save_native``.  ``paths`` names the ways this backend can run inference (``"default"`` is the
    framework's plain idiom); ``predict(..., path=...)`` picks one.
    """

    backend: ClassVar[str]
    native_suffixes: ClassVar[tuple[str, ...]]
    native_companion_suffixes: ClassVar[tuple[str, ...]] = ()  # files a save writes beside the named one
    paths: ClassVar[tuple[str, ...]] = ("default",)
    # paths whose work does not depend on ``batch_size`` (they run in their own chunks): benchmarked
    # once per image count, since timing them at several batch sizes only repeats one measurement
    batch_free_paths: ClassVar[tuple[str, ...]] = ()
    # paths that run another model made from these weights (int8-quantized): their probabilities
    # approximate the float model's instead of matching it, and their native file is their own
    approximate_paths: ClassVar[tuple[str, ...]] = ()
    # paths given uint8 images as they are (the others get them as float32 / 255): each scales the pixels
    # by 1/255 as it reads them, exactly as ``validate_images`` does, and reads a quarter of the bytes
    uint8_paths: ClassVar[tuple[str, ...]] = ()

    def __init__(self, weights: PortableWeights) -> None:
        self.spec: ModelSpec = weights.spec
        self.weights_meta = dict(weights.meta)
        # the data files of the model's pair where it has its own (a pair file's ``[pair.data]``), set by whoever
        # builds it for that pair: what a model derives from data (an int8 path's calibration) comes from them
        self.data_files: FileData | None = None

    # ---- inference ---------------------------------------------------------------------------
    def predict(self, images: Any, batch_size: int = 32, path: str = "default") -> np.ndarray:
        """Class probabilities, float32 ``(N, num_classes)``, computed ``batch_size`` images at a time
        (uint8 images: the same probabilities as for ``images / 255`` in float32)."""
        x = validate_images(images, self.spec, keep_uint8=path in self.uint8_paths)
        batch_size = validate_batch_size(batch_size)
        runner = self._path_runner(path)
        return runner(x, batch_size)

    def _path_runner(self, path: str) -> Callable[[np.ndarray, int], np.ndarray]:
        if path not in self.paths:
            why = self.path_unavailable_reason(path)
            known = f"known: {', '.join(self.paths)}" + (f" ({why})" if why else "")
            raise ValueError(f"backend {self.backend!r} has no inference path {path!r}; {known}")
        return getattr(self, f"_predict_{path}")

    @classmethod
    def path_unavailable_reason(cls, path: str) -> str | None:
        """Why ``path``, a path of this backend's where its optional parts are installed, is not one here
        (``None``: no such path at all, or it is available)."""
        return None

    def _predict_default(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        outs = [self._forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(outs, axis=0) if len(outs) > 1 else outs[0]

    def fast_config(self) -> dict[str, Any]:
        """What this model's ``"fast"`` path chose on this machine (lowering, memory format, chunk
        size in images, ...), building it if needed; ``{}`` for a backend without a fast path.
        Recorded with every fast-path result, since the choice is measured and so machine-dependent."""
        return {}

    def path_config(self, path: str) -> dict[str, Any]:
        """What inference path ``path`` chose or runs on this machine (``{}``: nothing to record);
        recorded with its results as ``fast_config``."""
        return self.fast_config() if path == "fast" else {}

    @abc.abstractmethod
    def _forward(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one validated float32 NHWC batch."""

    def evaluate(self, images: Any, labels: Any, batch_size: int = 32) -> Evaluation:
        """Loss and accuracy over all ``images``, ``batch_size`` at a time (like Keras ``evaluate``)."""
        probs = self.predict(images, batch_size)
        y = validate_labels(labels, len(probs), self.spec.num_classes)
        return Evaluation(cross_entropy(probs, y), float(np.mean(np.argmax(probs, axis=1) == y)), len(y))

    # ---- weights -----------------------------------------------------------------------------
    @abc.abstractmethod
    def get_weights(self) -> PortableWeights:
        """Export the current weights to the portable format."""

    @abc.abstractmethod
    def set_weights(self, weights: PortableWeights) -> None:
        """Load portable weights (same model) into this model."""

    @abc.abstractmethod
    def count_params(self) -> int:
        """Trainable parameters as the framework counts them."""

    @abc.abstractmethod
    def _save_native(self, path: Path) -> None:
        """Write the framework's native file to ``path`` (suffix already checked)."""

    def _save_native_of(self, path: Path, of_path: str) -> None:
        """Write the native file that inference path ``of_path`` runs (the float model's, unless overridden)."""
        self._save_native(path)

    def save_native(self, path: str | os.PathLike[str], of_path: str = "default") -> Path:
        """Save in the framework's native format (chosen by suffix, see ``native_suffixes``); returns the path.

        ``of_path``: the inference path whose model is saved (an approximate path such as ``int8`` runs
        a file of its own).  The write is atomic.  The file size in bytes is ``path.stat().st_size``.
        """
        from sepbench.util.atomic import atomic_path

        path = self._checked_native_path(path, of_path)
        with atomic_path(path) as tmp:
            self._save_native_of(tmp, of_path)
        return path

    def _checked_native_path(self, path: str | os.PathLike[str], of_path: str) -> Path:
        """``path`` as a Path if this backend saves such a file for inference path ``of_path``, else ``ValueError``."""
        path = Path(path)
        if path.suffix not in self.native_suffixes:
            raise ValueError(f"backend {self.backend!r} saves {', '.join(self.native_suffixes)} files; got {path.name!r}")
        if of_path not in self.paths:
            raise ValueError(f"backend {self.backend!r} has no inference path {of_path!r}; known: {', '.join(self.paths)}")
        return path

    def native_files(self, path: str | os.PathLike[str]) -> list[Path]:
        """Every file that saving to ``path`` writes: ``path`` and its companions (same stem, each of
        ``native_companion_suffixes``: OpenVINO's weights beside its graph).  A model's native size in
        bytes is theirs together."""
        path = Path(path)
        return [path, *(path.with_suffix(s) for s in self.native_companion_suffixes)]

    def native_bytes(self, path: str | os.PathLike[str]) -> int:
        """Bytes of the model saved at ``path``: its files together (:meth:`native_files`)."""
        return sum(f.stat().st_size for f in self.native_files(path))

    def _check_model(self, weights: PortableWeights) -> None:
        if weights.model != self.spec.name:
            raise ValueError(f"weights are for model {weights.model!r}, this is a {self.spec.name!r} model")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backend={self.backend} model={self.spec.name} params={self.count_params()}>"


@dataclass
class Backend(abc.ABC):
    """What a backend module exports (as ``BACKEND``)."""

    name: str
    framework: str  # the importable framework package ("numpy", "tensorflow", "torch")
    description: str = ""
    threads: int | None = field(default=None, init=False)

    @abc.abstractmethod
    def build(self, weights: PortableWeights) -> InferenceModel:
        """A model of this backend holding ``weights``."""

    def build_model(self, model: str | ModelSpec, weights: PortableWeights | None = None, seed: int = 0) -> InferenceModel:
        """Build ``model`` from ``weights`` or, if none are given, from seeded Keras-style init."""
        spec = get_model_spec(model)
        if weights is None:
            weights = init_weights(spec, seed)
        elif weights.model != spec.name:
            raise ValueError(f"weights are for model {weights.model!r}, asked to build {spec.name!r}")
        return self.build(weights)

    @abc.abstractmethod
    def versions(self) -> dict[str, str]:
        """Versions of the packages this backend runs on."""

    @abc.abstractmethod
    def set_threads(self, n: int) -> None:
        """Limit the framework's compute threads to ``n`` (intra-op; inter-op 1 where it has one)."""

    @abc.abstractmethod
    def thread_settings(self) -> dict[str, Any]:
        """The thread settings in force, as the framework reports them."""
