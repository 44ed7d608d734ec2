"""Proof that a file is one this program wrote: the SHA-256 of its content, recorded when it wrote it.

A name, a marker in the text or a list of names proves nothing: a user's saved copy of an old report
carries the report's ``data-report="sepbench"``, and a manifest planted in a folder can name any file.
So every place that replaces or deletes a file it wrote asks :func:`is_ours` with the hashes recorded
when it wrote it; a file whose content changed since (a user edited it) is no longer the program's.

A record the program keeps for itself (the report folder's manifest, the tuning record) is written with
:func:`seal`: the record's kind and body with the SHA-256 of both.  :func:`unseal` gives the body back
only when the seal matches, so a user's file under that name (or an edited record) is never taken for
one, and never replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any

from sepbench.util.inputs import open_regular

SHA256_HEX = 64  # characters of a hex SHA-256


def sha256_of_file(path: str | os.PathLike[str]) -> str | None:
    """Hex SHA-256 of the regular file at ``path`` (a symbolic link is not followed: it is no file the
    program wrote); ``None`` when nothing readable and regular is there.  Never blocks on a fifo."""
    try:
        with open_regular(path, follow_symlinks=False) as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def is_ours(path: str | os.PathLike[str], recorded: Iterable[str]) -> bool:
    """Whether the file at ``path`` holds, byte for byte, content the program recorded writing (one of
    the hex SHA-256 ``recorded``)."""
    digest = sha256_of_file(path)
    return digest is not None and digest in set(recorded)


def _digest(kind: str, body: Any) -> str:
    canonical = json.dumps({"kind": kind, "body": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def seal(kind: str, body: dict[str, Any]) -> str:
    """``body`` (JSON-able) as the JSON text of a sealed record of ``kind``."""
    body = json.loads(json.dumps(body))  # as it will be read back: int keys become text, tuples lists
    return json.dumps({"kind": kind, "body": body, "sha256": _digest(kind, body)}, indent=1, sort_keys=True) + "\n"


def unseal(text: str | bytes, kind: str) -> dict[str, Any] | None:
    """The body of a sealed record of ``kind``, or ``None`` for anything else: not JSON, another kind,
    or a body that is not what was sealed (an edit, or another program's file)."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or set(doc) != {"kind", "body", "sha256"} or doc["kind"] != kind or not isinstance(doc["body"], dict):
        return None
    return doc["body"] if doc["sha256"] == _digest(kind, doc["body"]) else None
