"""The portable weight format and the seeded Keras-style initializer.

A :class:`PortableWeights` is a model (its :class:`~sepbench.core.spec.ModelSpec`, which travels with the
weights to every backend) plus one float32 array per tensor, named
``"<layer>/<tensor>"`` (e.g. ``conv1/kernel``, ``conv2/depthwise_kernel``) in Keras layout
(see :mod:`sepbench.core.spec`).  On disk it is an uncompressed ``.npz`` with one entry per tensor and
a ``__meta__`` entry (JSON: format version, model name).  No framework is needed to read it.

The initializer reproduces Keras's defaults: glorot-uniform kernels, with Keras's fan computation
for kernels of rank > 2 (receptive field times channels, so a depthwise kernel ``(k, k, c, 1)``
has fan_in ``k*k*c`` and fan_out ``k*k``), and zero biases.  It draws from NumPy's PCG64 seeded
with the given seed, so it is the same distribution as Keras but not Keras's random stream.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sepbench.core.budget import MAX_TENSOR_BYTES
from sepbench.core.spec import ModelSpec, Shape, get_model_spec
from sepbench.util.atomic import atomic_path
from sepbench.util.oserrors import what_is_at

FORMAT_VERSION = 1
META_KEY = "__meta__"


class WeightsError(ValueError):
    """Weights that do not fit the model, or an unreadable weights file."""


@dataclass
class PortableWeights(Mapping[str, np.ndarray]):
    """Framework-neutral weights: ``"layer/tensor" -> float32 array`` in Keras layout.  ``model`` is given as
    a :class:`ModelSpec` (a pair file's model) or a built-in model's name; the weights keep its ``spec``."""

    model: str
    tensors: dict[str, np.ndarray]
    meta: dict[str, object] = field(default_factory=dict)
    spec: ModelSpec = field(default=None, repr=False, compare=False)  # type: ignore[assignment]  # set from model

    def __post_init__(self) -> None:
        spec = self.spec if self.spec is not None and self.spec.name == self.model else get_model_spec(self.model)
        self.model, self.spec = spec.name, spec
        self.tensors = {
            k: np.ascontiguousarray(v, dtype=np.float32) if np.asarray(v).dtype != np.float32 else np.ascontiguousarray(v)
            for k, v in self.tensors.items()
        }
        validate_tensors(spec, self.tensors)

    # Mapping protocol
    def __getitem__(self, key: str) -> np.ndarray:
        return self.tensors[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __len__(self) -> int:
        return len(self.tensors)

    @property
    def num_params(self) -> int:
        return int(sum(v.size for v in self.tensors.values()))

    def layer(self, name: str) -> dict[str, np.ndarray]:
        """The tensors of one layer, keyed by tensor name (``kernel``, ``bias``, ...)."""
        prefix = name + "/"
        return {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}

    def copy(self) -> PortableWeights:
        return PortableWeights(self.spec, {k: v.copy() for k, v in self.tensors.items()}, dict(self.meta))

    def equal(self, other: PortableWeights) -> bool:
        """Bit-exact equality of model and every tensor."""
        return (
            self.model == other.model
            and self.tensors.keys() == other.tensors.keys()
            and all(np.array_equal(v, other.tensors[k]) and v.dtype == other.tensors[k].dtype for k, v in self.tensors.items())
        )

    def fingerprint(self) -> str:
        """A sha256 of the model name and tensor bytes (for cache keys and provenance)."""
        import hashlib

        h = hashlib.sha256(self.model.encode())
        for k in sorted(self.tensors):
            h.update(k.encode())
            h.update(self.tensors[k].tobytes())
        return h.hexdigest()

    # ---- files -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write an uncompressed ``.npz`` atomically; returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            raise WeightsError(f"portable weights are .npz files; got {path}")
        meta = {"format": "sepbench-portable-weights", "version": FORMAT_VERSION, "model": self.model, **self.meta}
        with atomic_path(path) as tmp:
            np.savez(tmp, **{META_KEY: np.array(json.dumps(meta, default=str))}, **self.tensors)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], spec: ModelSpec | None = None) -> PortableWeights:
        """Read a file written by :meth:`save`; any problem raises :class:`WeightsError`.  A file of a model
        that is not built in is read with its ``spec`` (a pair's model: the file holds only its name)."""
        path = Path(path)
        if not path.is_file():  # what is there, in words: a folder or a fifo is no "does not exist"
            what = what_is_at(path)
            raise WeightsError(f"weights file {path} {what}" if what == "does not exist" else f"weights file {path} is {what}, not a file")
        if not zipfile.is_zipfile(path):  # a .npy, a text file, a pickle: say what it is not, never hint at allow_pickle
            raise WeightsError(f"weights file {path} is not an .npz archive (a zip of .npy arrays written by PortableWeights.save)")
        try:
            _check_archive(path)
            with np.load(path, allow_pickle=False) as npz:
                _check_sizes(path, npz)
                entries = {k: npz[k] for k in npz.files}
        except WeightsError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, MemoryError, TypeError, RuntimeError, NotImplementedError) as exc:
            raise WeightsError(f"weights file {path} is not a readable .npz: {type(exc).__name__}: {exc}") from None
        if META_KEY not in entries:
            raise WeightsError(f"weights file {path} has no {META_KEY} entry: not a sepbench portable weights file")
        try:
            meta = json.loads(str(entries.pop(META_KEY)))
            if not isinstance(meta, dict):
                raise TypeError(f"{META_KEY} holds a {type(meta).__name__}, not an object")
            model = meta.pop("model")
        except (ValueError, KeyError, TypeError) as exc:
            raise WeightsError(f"weights file {path}: bad {META_KEY} entry ({exc})") from None
        if meta.pop("version", None) != FORMAT_VERSION:
            raise WeightsError(f"weights file {path}: unsupported format version (this sepbench reads {FORMAT_VERSION})")
        meta.pop("format", None)
        try:
            return cls(model, entries, meta, spec=spec if spec is not None and spec.name == model else None)
        except (WeightsError, KeyError) as exc:
            raise WeightsError(f"weights file {path}: {exc}") from None


MAX_ARCHIVE_BYTES = 256 * 2**20  # what all members inflate to, at most
MAX_MEMBERS = 1000  # a model here has 4-6 tensors


def _check_archive(path: Path) -> None:
    """Refuse, from the zip's directory and before inflating anything, an archive of too many members or
    one whose members would inflate past :data:`MAX_ARCHIVE_BYTES` (a file shared or downloaded)."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise WeightsError(f"weights file {path} holds {len(infos):,} members (a model's weights are a few): not a weights file")
    odd = [i.filename for i in infos if i.flag_bits & 0x1 or i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)]
    if odd:  # numpy.savez writes stored or deflated members, never encrypted ones
        raise WeightsError(f"weights file {path}: member {odd[0]!r} is encrypted or compressed in a way savez never writes")
    inflated = sum(i.file_size for i in infos)
    if inflated > MAX_ARCHIVE_BYTES:
        raise WeightsError(
            f"weights file {path} would inflate to {inflated:,} bytes (at most {MAX_ARCHIVE_BYTES:,} are read): not a weights file"
        )


def _check_sizes(path: Path, npz: Any) -> None:
    """Refuse, before reading, an array whose header claims more than :data:`MAX_TENSOR_BYTES` or a non-numeric dtype."""
    for name in npz.zip.namelist():
        if not name.endswith(".npy"):
            raise WeightsError(f"weights file {path}: member {name!r} is not a .npy array")
        name = name[: -len(".npy")]
        with npz.zip.open(f"{name}.npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(member)
        if name != META_KEY and dtype.kind not in "fiu":
            raise WeightsError(f"weights file {path}: tensor {name!r} holds {dtype} values, not numbers")
        if math.prod(shape) * dtype.itemsize > MAX_TENSOR_BYTES:
            raise WeightsError(
                f"weights file {path}: tensor {name!r} claims shape {shape} ({math.prod(shape) * dtype.itemsize:,} bytes): corrupt"
            )


def validate_tensors(spec: ModelSpec, tensors: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`WeightsError` unless ``tensors`` has exactly the spec's names and shapes, finite float32."""
    expected = spec.tensor_shapes()
    missing = [k for k in expected if k not in tensors]
    extra = [k for k in tensors if k not in expected]
    if missing or extra:
        raise WeightsError(f"weights do not fit model {spec.name!r}: missing {missing or 'none'}, unexpected {extra or 'none'}")
    for name, shape in expected.items():
        value = tensors[name]
        if tuple(value.shape) != tuple(shape):
            raise WeightsError(f"weights for model {spec.name!r}: {name} has shape {tuple(value.shape)}, expected {tuple(shape)}")
        if value.dtype != np.float32:
            raise WeightsError(f"weights for model {spec.name!r}: {name} has dtype {value.dtype}, expected float32")
        if not np.all(np.isfinite(value)):
            raise WeightsError(f"weights for model {spec.name!r}: {name} holds NaN or infinity")


def keras_fans(shape: Shape) -> tuple[int, int]:
    """Keras's ``compute_fans``: (fan_in, fan_out) of a kernel shape."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Uniform on ``[-l, l]`` with ``l = sqrt(6 / (fan_in + fan_out))``, float32."""
    fan_in, fan_out = keras_fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def init_weights(model: str | ModelSpec, seed: int) -> PortableWeights:
    """Keras-default initial weights for ``model``, determined by ``seed`` alone (a non-negative int:
    ``None`` would silently draw from the OS and record nothing reproducible)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    spec = get_model_spec(model)
    rng = np.random.Generator(np.random.PCG64(seed))
    tensors: dict[str, np.ndarray] = {}
    for name, shape in spec.tensor_shapes().items():
        tensor = name.rsplit("/", 1)[1]
        if tensor in KERAS_CONSTANT_INIT:  # a batch norm's: Keras starts it as the identity
            tensors[name] = np.full(shape, KERAS_CONSTANT_INIT[tensor], np.float32)
        else:
            tensors[name] = np.zeros(shape, np.float32) if tensor == "bias" else glorot_uniform(shape, rng)
    return PortableWeights(spec, tensors, {"init": "keras-glorot-uniform/zeros", "seed": seed})


KERAS_CONSTANT_INIT: dict[str, float] = {"gamma": 1.0, "beta": 0.0, "moving_mean": 0.0, "moving_variance": 1.0}


def random_weights(model: str | ModelSpec, seed: int, bias_scale: float = 0.1) -> PortableWeights:
    """Initial weights with non-zero random biases too (for parity tests that must exercise biases)."""
    weights = init_weights(model, seed)
    rng = np.random.Generator(np.random.PCG64(seed + 1))
    for name, value in weights.tensors.items():
        if name.endswith(("/bias", "/beta", "/moving_mean")):
            weights.tensors[name] = rng.uniform(-bias_scale, bias_scale, size=value.shape).astype(np.float32)
        elif name.endswith(("/gamma", "/moving_variance")):  # positive, away from 1: a batch norm that does something
            weights.tensors[name] = rng.uniform(0.5, 1.5, size=value.shape).astype(np.float32)
    weights.meta["init"] = "keras-glorot-uniform/random-bias"
    return weights
