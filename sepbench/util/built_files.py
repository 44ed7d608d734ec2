"""Files a process built and the next process can reuse: a deployment runtime's model file (a converted
float32 model, an int8-quantized one) costs seconds to build and is the same in every process of a
job, so the verdict's fresh processes (:mod:`sepbench.bench.processes`) would each pay again what the
first one paid (OpenVINO's NNCF quantization 4.2-4.6 s, ONNX Runtime's and LiteRT's about 2.2 s each, per
process, on a 2-core EPYC).

An entry is a folder ``<cache>/built/<key>/`` named by the SHA-256 of everything the file is made from
(``parts`` of :func:`cached_parts`: the backend, the spec, the weights' fingerprint, the calibration
images' hash, the libraries' versions and the builder's own source), holding the file's parts and a
``manifest.json`` with each part's size and SHA-256, written last.  A reader checks each part against
the manifest before using it: an entry that does not match what this program wrote is not used and not
replaced (it is built again in memory, and the message says which folder to remove).  An entry appears
whole (written in a new folder, then renamed) and is never written over.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

BUILT_DIR = "built"
BUILT_MANIFEST = "manifest.json"
MAX_PART_BYTES = 256 * 1024 * 1024  # one part of a built file: read only below this (a model of the study is < 1 MiB)
MAX_PARTS = 8
MAX_BUILT_MANIFEST_BYTES = 64 * 1024
PART_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
FORMAT = 1


def key_of(parts: Mapping[str, Any]) -> str:
    """The entry's name: SHA-256 of ``parts`` as canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps({"format": FORMAT, **parts}, sort_keys=True, default=str).encode()).hexdigest()


def source_hash(*paths: str | os.PathLike[str]) -> str:
    """SHA-256 of the files' bytes (a builder's modules: a changed builder never reuses an old file)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def cached_parts(
    parts: Mapping[str, Any], build: Callable[[], Mapping[str, bytes]], directory: str | os.PathLike[str] | None = None
) -> dict[str, bytes]:
    """The built file's parts (name -> bytes) for ``parts``: read from the cache where an entry matches its
    manifest, else ``build()`` and written (atomically, manifest last).  ``directory``: the cache root
    (default: :func:`sepbench.util.paths.cache_dir`)."""
    if directory is None:
        from sepbench.util.paths import cache_dir

        directory = cache_dir()
    entry = Path(directory) / BUILT_DIR / key_of(parts)
    found = _read(entry)
    if found is not None:
        return found
    built = {k: bytes(v) for k, v in build().items()}
    if not built or len(built) > MAX_PARTS or not all(PART_NAME.fullmatch(k) for k in built):
        raise ValueError(f"a built file has 1 to {MAX_PARTS} parts named {PART_NAME.pattern}, got {sorted(built)}")
    if not entry.exists():
        _publish(entry, built)
    return built


def _publish(entry: Path, built: Mapping[str, bytes]) -> None:
    """Write the entry into a new folder beside it, then rename that folder to ``entry``: a reader sees a
    whole entry or none, and an existing ``entry`` (another process's, or anyone's) is never replaced."""
    tmp = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}.", dir=entry.parent))
        for name, data in built.items():
            (tmp / name).write_bytes(data)
        manifest = {"format": FORMAT, "parts": {k: {"bytes": len(v), "sha256": hashlib.sha256(v).hexdigest()} for k, v in built.items()}}
        (tmp / BUILT_MANIFEST).write_text(json.dumps(manifest))
        os.rename(tmp, entry)  # fails where entry exists (a non-empty folder, or a file): left as it is
        tmp = None
    except OSError as exc:  # a full or read-only cache, or a lost race: it costs time, never the result
        if not entry.is_dir():
            warnings.warn(f"could not keep the built file in {entry}: {exc.strerror or exc}", RuntimeWarning, stacklevel=3)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _read(entry: Path) -> dict[str, bytes] | None:
    """The entry's parts if its manifest is well formed and every part matches it; else ``None`` (with a
    warning when the entry exists but does not match: someone else changed it)."""
    manifest = entry / BUILT_MANIFEST
    try:
        if not manifest.is_file() or manifest.stat().st_size > MAX_BUILT_MANIFEST_BYTES:
            return None
        doc = json.loads(manifest.read_text())
        listed = doc["parts"]
        if doc.get("format") != FORMAT or not isinstance(listed, dict) or not 1 <= len(listed) <= MAX_PARTS:
            raise ValueError("not a manifest of this format")
        out = {}
        for name, facts in listed.items():
            size = facts["bytes"]
            if not PART_NAME.fullmatch(name) or not isinstance(size, int) or not 0 <= size <= MAX_PART_BYTES:
                raise ValueError(f"part {name!r} of {size!r} bytes is outside the budget ({MAX_PART_BYTES} bytes)")
            path = entry / name
            if not path.is_file() or path.stat().st_size != size:
                raise ValueError(f"part {name!r} is missing or not {size} bytes")
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != facts["sha256"]:
                raise ValueError(f"part {name!r} does not match its SHA-256")
            out[name] = data
        return out
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"built-file cache entry {entry} not used ({exc}); remove that folder to rebuild it", RuntimeWarning, stacklevel=3)
        return None
