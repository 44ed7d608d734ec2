"""A pair's own labelled data: four IDX files (MNIST's format) or one ``.npz``, each with its sha256.

A pair file names them under ``[pair.data]`` (paths relative to the pair file)::

    [pair.data]
    npz = { path = "digits.npz", sha256 = "<64 hex digits>" }   # arrays x_train, y_train, x_test, y_test

    [pair.data]                                                  # or MNIST's four IDX files (.gz or raw)
    train_images = { path = "train-images-idx3-ubyte.gz", sha256 = "..." }
    train_labels = { path = "train-labels-idx1-ubyte.gz", sha256 = "..." }
    test_images = { path = "t10k-images-idx3-ubyte.gz", sha256 = "..." }
    test_labels = { path = "t10k-labels-idx1-ubyte.gz", sha256 = "..." }

Every file is checked against its sha256 when the pair file is read and again before it is parsed (a
file changed in between is refused, never used).  Images come back as float32 NHWC in [0, 1] (uint8
divided by 255, as MNIST; float images must already lie in [0, 1]), labels as int64 in
``[0, classes)``: the shapes the pair's models take, or a :class:`PairDataError` naming the file.
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sepbench.core.pixels import scale_pixels
from sepbench.util.inputs import NotRegularFileError, TooLargeError, open_regular, read_regular
from sepbench.util.oserrors import reason

IDX_ROLES: tuple[str, ...] = ("train_images", "train_labels", "test_images", "test_labels")
NPZ_ARRAYS: dict[str, str] = {"train_images": "x_train", "train_labels": "y_train", "test_images": "x_test", "test_labels": "y_test"}
MAX_DATA_FILE_BYTES = 4 << 30  # 4 GiB a file: MNIST's largest is 47 MB raw; more is not a data set this harness trains on
IDX_UINT8 = 0x08  # the IDX type code of unsigned bytes, MNIST's (the only one read)
MAX_IDX_DIMS = 4


class PairDataError(ValueError):
    """A pair's data file that is missing, altered (sha256) or not what the pair's models take."""


@dataclass(frozen=True)
class DataFile:
    """One file of a pair's data: its role (``npz`` or an IDX role), where it is, its sha256 (hex)."""

    role: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class FileData:
    """A pair's labelled data in files (``format`` ``idx``: four files; ``npz``: one)."""

    format: Literal["idx", "npz"]
    files: tuple[DataFile, ...]

    def key(self) -> str:
        """What identifies this data (the trained-weights cache keys on it): its files' sha256 sums."""
        return ",".join(f"{f.role}={f.sha256}" for f in self.files)

    def describe(self) -> str:
        return ", ".join(f"{f.path.name} (sha256 {f.sha256[:12]}...)" for f in self.files)

    def load(self, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Images float32 ``(N, H, W, C)`` in [0, 1] and labels int64 ``(N,)`` of ``split`` (train/test);
        ``limit`` keeps the first ``limit`` examples."""
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; expected 'train' or 'test'")
        if self.format == "npz":
            (only,) = self.files
            arrays = _npz_arrays(only)
            images, labels = arrays[NPZ_ARRAYS[f"{split}_images"]], arrays[NPZ_ARRAYS[f"{split}_labels"]]
            where = f"{only.path} ({NPZ_ARRAYS[f'{split}_images']}, {NPZ_ARRAYS[f'{split}_labels']})"
        else:
            by_role = {f.role: f for f in self.files}
            images, labels = (read_idx(by_role[f"{split}_{part}"]) for part in ("images", "labels"))
            where = f"{by_role[f'{split}_images'].path} and {by_role[f'{split}_labels'].path}"
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        return _as_images(images, where), _as_labels(labels, len(images), where)

    def check_fits(self, input_shape: tuple[int, ...], classes: int) -> None:
        """The data's images have the models' input shape and its labels lie in ``[0, classes)``."""
        for split in ("train", "test"):
            x, y = self.load(split)
            if x.shape[1:] != tuple(input_shape):
                raise PairDataError(f"{self.describe()}: {split} images are {x.shape[1:]}, the pair's input_shape is {tuple(input_shape)}")
            if len(y) and (y.min() < 0 or y.max() >= classes):
                raise PairDataError(f"{self.describe()}: {split} labels run {y.min()}..{y.max()}, the models give {classes} classes")


def file_data(table: dict[str, Any], base: Path) -> FileData:
    """A :class:`FileData` from a pair file's ``[pair.data]`` table (already schema-checked), paths
    relative to ``base``; :class:`PairDataError` for a set of files that is neither one npz nor four IDX."""
    roles = set(table)
    if roles == {"npz"}:
        fmt: Literal["idx", "npz"] = "npz"
        order: tuple[str, ...] = ("npz",)
    elif roles == set(IDX_ROLES):
        fmt, order = "idx", IDX_ROLES
    elif "npz" in roles:
        raise PairDataError(f"pair.data: npz alone, not with {', '.join(sorted(roles - {'npz'}))}")
    else:
        raise PairDataError(f"pair.data: missing {', '.join(r for r in IDX_ROLES if r not in roles)} (four IDX files, or one npz)")
    files = []
    for role in order:
        path = (base / table[role]["path"]).resolve()
        if not path.is_relative_to(base.resolve()):  # input from a file: it names files beside it, nothing else
            raise PairDataError(f"pair.data.{role}: {table[role]['path']!r} is outside the pair file's folder {base}")
        files.append(DataFile(role, path, table[role]["sha256"].lower()))
    return FileData(fmt, tuple(files))


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the regular file at ``path`` (a fifo or device is refused at once, never read)."""
    with open_regular(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _verified_bytes(f: DataFile) -> bytes:
    """The file's bytes, read once and checked against its sha256 (what is parsed is what was checked)."""
    try:
        data = read_regular(f.path, MAX_DATA_FILE_BYTES)  # a fifo would block a plain read for ever
    except TooLargeError as exc:
        raise PairDataError(f"pair.data.{f.role}: {f.path}: {exc.strerror} (a data file's budget)") from None
    except NotRegularFileError as exc:
        raise PairDataError(f"pair.data.{f.role}: {f.path}: {exc.strerror}") from None
    except FileNotFoundError:
        raise PairDataError(f"pair.data.{f.role}: {f.path}: no such file") from None
    except OSError as exc:
        raise PairDataError(f"pair.data.{f.role}: {f.path}: cannot be read ({reason(exc, f.path)})") from None
    got = hashlib.sha256(data).hexdigest()
    if got != f.sha256:
        raise PairDataError(
            f"pair.data.{f.role}: {f.path}: checksum mismatch: its sha256 is {got}, the pair file says {f.sha256}; "
            "the file is not the one the pair names"
        )
    return data


def read_idx(f: DataFile) -> np.ndarray:
    """An IDX file of unsigned bytes (gzip-compressed or raw), verified: its array."""
    raw = _verified_bytes(f)
    if raw[:2] == b"\x1f\x8b":
        raw = _inflate_idx(raw, f)
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise PairDataError(f"pair.data.{f.role}: {f.path}: not an IDX file (no IDX magic number)")
    if raw[2] != IDX_UINT8 or not 1 <= raw[3] <= MAX_IDX_DIMS:
        raise PairDataError(
            f"pair.data.{f.role}: {f.path}: IDX type {raw[2]:#x} with {raw[3]} dimensions; only unsigned bytes (0x08), 1-4 dims"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], ">u4")) if len(raw) >= header else ()
    if len(dims) != ndim or len(raw) - header != math.prod(dims):  # Python ints: a crafted header cannot overflow
        raise PairDataError(f"pair.data.{f.role}: {f.path}: the IDX header says {dims}, the body holds {max(len(raw) - header, 0)} bytes")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _inflate_idx(raw: bytes, f: DataFile) -> bytes:
    """A gzip'd IDX file inflated, its header read first: an array its header sizes beyond
    :data:`MAX_DATA_FILE_BYTES` is refused before the body is inflated (a 9 GB bomb in a few MB of gzip)."""
    where = f"pair.data.{f.role}: {f.path}"
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        head = inflater.decompress(raw, 4 + 4 * MAX_IDX_DIMS)
        if len(head) >= 4 and head[:2] == b"\x00\x00" and 1 <= head[3] <= MAX_IDX_DIMS and len(head) >= 4 + 4 * head[3]:
            dims = [int(d) for d in np.frombuffer(head[4 : 4 + 4 * head[3]], ">u4")]
            size = 4 + 4 * head[3] + math.prod(dims)
            if size > MAX_DATA_FILE_BYTES:
                raise PairDataError(f"{where}: its IDX header asks for {dims} ({size:,} bytes); the budget is {MAX_DATA_FILE_BYTES:,}")
        body = inflater.decompress(inflater.unconsumed_tail, MAX_DATA_FILE_BYTES + 1 - len(head))
        if len(head) + len(body) > MAX_DATA_FILE_BYTES or inflater.unconsumed_tail:
            raise PairDataError(f"{where}: inflates beyond the budget of {MAX_DATA_FILE_BYTES:,} bytes")
        return head + body + inflater.flush()
    except (OSError, EOFError, zlib.error) as exc:
        raise PairDataError(f"{where}: a broken gzip file ({exc})") from None


def _check_npz_headers(data: bytes, where: str) -> None:
    """Each member's array header against the bytes the member holds: a header claiming 10^12 images would
    make NumPy allocate them before it reads a byte of data."""
    from numpy.lib import format as npy

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.file_size > MAX_DATA_FILE_BYTES:
                size = f"{info.file_size:,} bytes; the budget is {MAX_DATA_FILE_BYTES:,}"
                raise PairDataError(f"{where}: member {info.filename!r} inflates to {size}")
            with zf.open(info) as fh:
                version = npy.read_magic(fh)
                read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                shape, _, dtype = read_header(fh, max_header_size=10_000)
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes > info.file_size:
                    raise PairDataError(
                        f"{where}: member {info.filename!r} claims an array of shape {shape} ({nbytes:,} bytes) in {info.file_size:,} bytes"
                    )


def _npz_arrays(f: DataFile) -> dict[str, np.ndarray]:
    try:
        data = _verified_bytes(f)
        _check_npz_headers(data, f"pair.data.npz: {f.path}")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            missing = [a for a in NPZ_ARRAYS.values() if a not in npz.files]
            if missing:
                raise PairDataError(f"pair.data.npz: {f.path}: no array {', '.join(missing)} (it holds {', '.join(npz.files) or 'none'})")
            return {a: npz[a] for a in NPZ_ARRAYS.values()}
    except PairDataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # not a zip, a broken one, or pickles
        raise PairDataError(f"pair.data.npz: {f.path}: not a readable .npz of plain arrays ({exc})") from None


def _as_images(images: np.ndarray, where: str) -> np.ndarray:
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W): one channel, as MNIST
    if images.ndim != 4 or len(images) == 0:
        raise PairDataError(f"{where}: images must be (N, height, width[, channels]) with N >= 1, got {images.shape}")
    if images.dtype == np.uint8:
        return scale_pixels(images)
    if images.dtype.kind != "f":
        raise PairDataError(f"{where}: images must be uint8 (0-255) or float in [0, 1], got {images.dtype}")
    out = images.astype(np.float32)
    if not np.isfinite(out).all() or out.min() < 0 or out.max() > 1:
        raise PairDataError(f"{where}: float images must lie in [0, 1] (scale uint8 by 1/255), got {out.min()}..{out.max()}")
    return out


def _as_labels(labels: np.ndarray, n: int, where: str) -> np.ndarray:
    if labels.ndim != 1 or len(labels) != n or labels.dtype.kind not in "iu":
        raise PairDataError(f"{where}: labels must be {n} integers (one per image), got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64)
