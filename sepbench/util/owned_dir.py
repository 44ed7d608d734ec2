"""Write a set of files into a folder the user names, touching only the files this program wrote.

The files are made in a fresh temporary folder beside the target; then, if none of them would
overwrite a file the program does not own, each is moved in (an atomic rename per file) and the
files of the previous build that this one no longer makes are removed.  Ownership is a manifest,
``sepbench-manifest.json``, listing what the program wrote last time.  A user's ``notes.csv`` or a
same-named ``latency.png`` of their own is never overwritten or deleted: the build stops first and
says which files are in the way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sepbench.util.atomic import UnwritableError, atomic_write_text, check_writable

MANIFEST = "sepbench-manifest.json"


class NotOwnedError(UnwritableError):
    """Files in the output folder that this program did not write would be overwritten."""


def owned_files(directory: Path, adopt: tuple[str, str] | None = None) -> set[str]:
    """Names this program wrote into ``directory`` last time.  Without a readable manifest: none, unless
    ``adopt`` = (file, marker) finds a file of an earlier version that wrote no manifest (e.g. its
    ``index.html`` carrying ``data-report="sepbench"``): then every file of this build is taken as its."""
    try:
        names = json.loads((directory / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        if adopt is not None:
            try:
                if adopt[1] in (directory / adopt[0]).read_text(encoding="utf-8", errors="replace"):
                    return {ADOPT_ALL}
            except OSError:
                pass
        return set()
    return {n for n in names if isinstance(n, str) and "/" not in n and n not in ("", ".", "..")}


ADOPT_ALL = "*"  # owned_files' answer for a folder an earlier, manifest-less version wrote


@contextmanager
def build_into(directory: str | os.PathLike[str], adopt: tuple[str, str] | None = None) -> Iterator[Path]:
    """Yield a fresh folder to build in; on success its files replace the owned files of ``directory``
    (``adopt``: see :func:`owned_files`)."""
    target = Path(directory)
    check_writable(target / MANIFEST)
    staging = Path(tempfile.mkdtemp(prefix=".sepbench-build-", dir=target))
    try:
        yield staging
        new = sorted(p.name for p in staging.iterdir() if p.is_file())
        owned = owned_files(target, adopt)
        if ADOPT_ALL in owned:
            owned = set(new)
        in_the_way = [n for n in new if (target / n).exists() and n not in owned]
        if in_the_way:
            raise NotOwnedError(
                f"{target} holds files this program did not write: {', '.join(in_the_way)}; "
                "not overwriting them (move them, or choose another --output folder)"
            )
        for name in new:
            os.replace(staging / name, target / name)
        for stale in sorted(owned - set(new)):
            (target / stale).unlink(missing_ok=True)
        atomic_write_text(target / MANIFEST, json.dumps({"files": new}, indent=1) + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
