"""MNIST: find the four canonical IDX files, verify their checksums, load them.

Search order for the directory that holds the files:

1. an explicit ``data_dir`` argument;
2. the ``SEPBENCH_MNIST_DIR`` environment variable;
3. the user cache directory (``$SEPBENCH_CACHE_DIR/mnist`` or the platform's cache dir,
   e.g. ``~/.cache/sepbench/mnist``);
4. a download into that cache, mirror after mirror (:data:`MIRRORS`, or ``$SEPBENCH_MNIST_MIRRORS``:
   URLs separated by spaces or commas), with a progress bar, as ``keras.datasets.mnist`` does.
   ``SEPBENCH_OFFLINE=1`` (or ``download=False``) forbids it; an explicit directory or
   ``SEPBENCH_MNIST_DIR`` that lacks the files is an error, never a reason to download.

Every file is checked against its canonical size, SHA-256 and md5 before it is parsed (the SHA-256
sums are the ones published with many loaders; the md5 sums are torchvision's).  Downloads come from
https mirrors only by default, each file at most its canonical size and within a deadline.  Images come back as float32
in [0, 1], NHWC ``(N, 28, 28, 1)``; labels as int64 ``(N,)``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import numpy as np

from sepbench.core.pixels import scale_pixels
from sepbench.util.atomic import atomic_path
from sepbench.util.download import scheme_of, without_credentials
from sepbench.util.env import EnvError, env_flag
from sepbench.util.inputs import open_regular
from sepbench.util.paths import cache_dir

ENV_VAR = "SEPBENCH_MNIST_DIR"
MIRRORS_ENV_VAR = "SEPBENCH_MNIST_MIRRORS"
OFFLINE_ENV_VAR = "SEPBENCH_OFFLINE"
DOWNLOAD_TIMEOUT_S = 30.0  # seconds without a byte before a mirror counts as stalled
# seconds for one file, however it trickles: 10 MB at 20 KB/s, far below any working mirror
DOWNLOAD_DEADLINE_S = 600.0

Split = Literal["train", "test"]


@dataclass(frozen=True)
class MnistFile:
    name: str
    md5: str
    sha256: str
    size: int  # bytes, compressed
    count: int  # images or labels in the file


TRAIN_IMAGES, TEST_IMAGES = 60_000, 10_000  # MNIST's two sets; the study trained on all of one and evaluated all of the other

FILES: dict[tuple[str, str], MnistFile] = {
    ("train", "images"): MnistFile(
        "train-images-idx3-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        9_912_422,
        TRAIN_IMAGES,
    ),
    ("train", "labels"): MnistFile(
        "train-labels-idx1-ubyte.gz",
        "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        28_881,
        TRAIN_IMAGES,
    ),
    ("test", "images"): MnistFile(
        "t10k-images-idx3-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        1_648_877,
        TEST_IMAGES,
    ),
    ("test", "labels"): MnistFile(
        "t10k-labels-idx1-ubyte.gz",
        "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        4_542,
        TEST_IMAGES,
    ),
}

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)  # https only: a plain-http mirror can be altered on the way (the checksums would refuse it, after the wait)


class MnistError(RuntimeError):
    """Base class for MNIST data problems; the message says what to do (a URL in it without its credentials)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(without_credentials(a) if isinstance(a, str) else a for a in args))


class MnistNotFoundError(MnistError, FileNotFoundError):
    """No directory with the four files was found (and none could be downloaded)."""


class MnistChecksumError(MnistError, ValueError):
    """A file is present but is not the canonical one (corrupt, truncated or different)."""


class MnistFormatError(MnistError, ValueError):
    """A file passed its checksum but could not be parsed (should not happen)."""


def digests_of(path: Path, chunk: int = 1 << 20) -> tuple[str, str]:
    """(md5, sha256) of the file, hex, in one pass."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open_regular(path) as fh:  # a fifo named like an MNIST file is refused, never waited on
        while block := fh.read(chunk):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def md5_of(path: Path, chunk: int = 1 << 20) -> str:
    return digests_of(path, chunk)[0]


def verify_file(path: Path, expected: MnistFile) -> None:
    """Raise :class:`MnistChecksumError` unless ``path`` has the canonical size, md5 and SHA-256."""
    actual, sha = digests_of(path)
    if actual == expected.md5 and sha != expected.sha256:  # an md5 collision: md5 alone is no proof
        raise MnistChecksumError(
            f"MNIST file {path} has the canonical md5 but not the canonical SHA-256 ({sha}, expected {expected.sha256}): "
            "a forged file. Delete it and provide the canonical file."
        )
    if actual != expected.md5:
        size = path.stat().st_size
        other = next((f.name for f in FILES.values() if f.md5 == actual), None)
        if other:
            hint = f" (it is the canonical {other}: files swapped or renamed?)"
        else:
            hint = " (it is shorter than the canonical file: truncated?)" if size < expected.size else ""
        raise MnistChecksumError(
            f"MNIST file {path} has the wrong checksum: expected md5 {expected.md5}, got {actual} "
            f"({size:,} bytes, canonical {expected.size:,}){hint}. Delete it and provide the canonical file."
        )


def mnist_cache_dir() -> Path:
    return cache_dir() / "mnist"


def _has_all_files(directory: Path) -> bool:
    return all((directory / f.name).is_file() for f in FILES.values())


def offline() -> bool:
    """Whether ``$SEPBENCH_OFFLINE`` forbids downloads (``1``, ``true``, ``yes``, ``on``; ``0``, ``false``,
    ``no``, ``off`` or unset allow them); any other value is an error naming it, never a guess."""
    try:
        return env_flag(OFFLINE_ENV_VAR)
    except EnvError as exc:
        raise MnistError(str(exc)) from None


def mirror_urls() -> tuple[str, ...]:
    """Base URLs to download from, in order: ``$SEPBENCH_MNIST_MIRRORS`` if set, else :data:`MIRRORS`."""
    value = os.environ.get(MIRRORS_ENV_VAR, "").strip()
    if not value:
        return MIRRORS
    urls = tuple(u if u.endswith("/") else u + "/" for u in re.split(r"[\s,]+", value) if u)
    local = [u for u in urls if scheme_of(u) == "file"]
    if local:
        raise MnistError(
            f"{MIRRORS_ENV_VAR}: {', '.join(local)}: a folder, not a mirror: point {ENV_VAR} at a folder holding the four files"
        )
    bad = [u for u in urls if scheme_of(u) not in ("http", "https") or not urlsplit(u).netloc]
    if bad:
        raise MnistError(f"{MIRRORS_ENV_VAR}: not a URL: {', '.join(bad)} (give http(s):// base URLs separated by spaces or commas)")
    return urls


def find_mnist_dir(data_dir: str | os.PathLike[str] | None = None, download: bool | None = None) -> Path:
    """Return the directory holding the four MNIST files, following the documented search order.

    An explicit ``data_dir`` or ``SEPBENCH_MNIST_DIR`` that lacks files is an error (it is never
    silently skipped in favour of another location).  ``download``: ``None`` downloads into the
    cache unless ``$SEPBENCH_OFFLINE`` is set; ``False`` never; ``True`` always may.
    """
    looked: list[str] = []
    for source, value in (("data_dir argument", data_dir), (ENV_VAR, os.environ.get(ENV_VAR) or None)):
        if value is None:
            continue
        directory = Path(value).expanduser()
        if _has_all_files(directory):
            return directory
        missing = [f.name for f in FILES.values() if not (directory / f.name).is_file()]
        raise MnistNotFoundError(
            f"MNIST directory {directory} (from the {source}) does not hold {', '.join(missing)}. "
            f"It must contain the four canonical files: {', '.join(f.name for f in FILES.values())}."
        )
    cache = mnist_cache_dir()
    looked.append(f"{ENV_VAR} (unset)")
    looked.append(f"cache {cache}")
    if _has_all_files(cache):
        return cache
    allowed = (not offline()) if download is None else download
    if allowed:
        download_mnist(cache)
        return cache
    why = f"downloads are off ({OFFLINE_ENV_VAR}={os.environ.get(OFFLINE_ENV_VAR)})" if download is None else "download not allowed here"
    raise MnistNotFoundError(
        "MNIST data not found; looked in: " + "; ".join(looked) + f"; {why}. Provide it with "
        f"`export {ENV_VAR}=/path/to/mnist` (a directory holding the four .gz IDX files), "
        f"pass data_dir=..., or allow a download (`sepbench data --download`, or unset {OFFLINE_ENV_VAR})."
    )


def download_mnist(
    directory: Path | None = None,
    mirrors: tuple[str, ...] | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    deadline: float = DOWNLOAD_DEADLINE_S,
) -> Path:
    """Download the four files into ``directory`` (default: the cache), verifying each one's checksums.

    Mirrors (default :func:`mirror_urls`) are tried in order for each file (a progress bar on a
    terminal); ``timeout`` is in seconds without data, ``deadline`` in seconds for one file, and no
    more than the file's canonical size is read (:func:`sepbench.util.download.fetch`).  A file is
    kept only if its checksums match, and written atomically.  If every mirror fails for a file, one
    error lists each URL tried with its reason and says how to supply the files by hand.
    """
    from sepbench.util.download import DownloadError, fetch

    directory = Path(directory) if directory is not None else mnist_cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MnistNotFoundError(f"cannot create the MNIST download directory {directory}: {exc}") from None
    bases = mirrors if mirrors is not None else mirror_urls()
    for f in FILES.values():
        target = directory / f.name
        if target.exists() and not target.is_file():
            raise MnistNotFoundError(f"{target} is in the way of the download (not a regular file): remove it")
        if target.is_file():
            try:
                verify_file(target, f)
                continue
            except MnistChecksumError as exc:  # every download is verified before it lands: not ours to delete
                raise MnistNotFoundError(f"{exc} Not replaced: this program did not write it.") from None
        errors: list[str] = []
        for base in bases:
            url = base + f.name
            try:
                with atomic_path(target) as tmp:
                    fetch(url, tmp, max_bytes=f.size, deadline_s=deadline, read_timeout_s=timeout)
                    verify_file(tmp, f)
                break
            except MnistChecksumError as exc:
                errors.append(f"{url}: {exc}")
            except DownloadError as exc:  # the message names the URL
                errors.append(str(exc))
        else:
            raise MnistNotFoundError(
                f"could not download {f.name} from any mirror:\n  "
                + "\n  ".join(errors)
                + f"\nSupply the four files yourself: put them in {directory} or a directory named by ${ENV_VAR}, "
                f"or list working mirrors in ${MIRRORS_ENV_VAR}."
            )
    return directory


def _read_idx(path: Path, expected: MnistFile, kind: str) -> np.ndarray:
    try:
        with open_regular(path) as plain, gzip.open(plain, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise MnistFormatError(f"MNIST file {path} could not be decompressed: {exc}") from exc
    magic, ndim = int.from_bytes(raw[0:4], "big"), raw[3]
    want_ndim = 3 if kind == "images" else 1
    if magic != 0x0800 + want_ndim or ndim != want_ndim:
        raise MnistFormatError(f"MNIST file {path}: bad IDX magic {magic:#x} for {kind}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)) or dims[0] != expected.count:
        raise MnistFormatError(f"MNIST file {path}: header says {dims}, body holds {body.size} bytes")
    return body.reshape(dims)


def load_mnist_raw(
    split: Split, data_dir: str | os.PathLike[str] | None = None, download: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Verified uint8 images ``(N, 28, 28)`` and uint8 labels ``(N,)`` of one split."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown MNIST split {split!r}; expected 'train' or 'test'")
    directory = find_mnist_dir(data_dir, download=download)
    out = []
    for kind in ("images", "labels"):
        f = FILES[(split, kind)]
        path = directory / f.name
        verify_file(path, f)
        out.append(_read_idx(path, f, kind))
    return out[0], out[1]


CALIBRATION_IMAGES = 1000


def calibration_images(n: int = CALIBRATION_IMAGES, seed: int = 0, data_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """A seeded sample of ``n`` MNIST *training* images (float32 NHWC in [0, 1]) to calibrate int8
    quantization: never test images, so quantized test accuracy is not tuned on the test set."""
    x, _ = load_mnist("train", data_dir)
    if not 1 <= n <= len(x):
        raise ValueError(f"calibration needs 1..{len(x)} images, got {n}")
    return x[np.random.default_rng(seed).choice(len(x), size=n, replace=False)]


def load_mnist(
    split: Split,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    download: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 ``(N, 28, 28, 1)`` scaled to [0, 1] and labels as int64 ``(N,)``.

    ``limit`` keeps the first ``limit`` examples (a small subset for tests).
    """
    images, labels = load_mnist_raw(split, data_dir, download)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        images, labels = images[:limit], labels[:limit]
    x = scale_pixels(images)[..., None]
    return x, labels.astype(np.int64)
