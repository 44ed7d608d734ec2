"""Write a set of files into a folder the user names, replacing or deleting only files this program wrote.

The files are made in a fresh temporary folder beside the target (``.sepbench-build-*``); then, if none
of them would overwrite a file the program cannot prove its own, each is moved in (an atomic rename per
file) and the files of the previous build that this one no longer makes are removed.  Ownership is
proved, never assumed: the manifest ``sepbench-manifest.json`` is a sealed record
(:mod:`sepbench.util.ownership`) of the SHA-256 of each file the program wrote, and a file is replaced or
deleted only while its content still matches.  A user's ``notes.csv``, a same-named ``latency.png`` of
their own, a report file they edited, a manifest planted by someone else, or a folder an older version
wrote without hashes: never overwritten or deleted; the build stops first and says which files are in
the way (an edited file the new build no longer makes is left, with a note).

Between the moves the manifest holds both the old and the new hash of every name, so a build killed
there leaves a folder whose every file of the program's is still proved its own: the next build goes on
from it, and removes the killed build's staging folder once each file left in it is proved the program's.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sepbench.util.atomic import UnwritableError, atomic_write_text, check_writable
from sepbench.util.inputs import read_regular
from sepbench.util.ownership import SHA256_HEX, is_ours, seal, sha256_of_file, unseal

MANIFEST = "sepbench-manifest.json"
MANIFEST_KIND = "sepbench-report-files"
MAX_MANIFEST_BYTES = 1 << 20  # a manifest of a few dozen files is a few KiB
STAGING_PREFIX = ".sepbench-build-"
_STAGING_NAME = re.compile(re.escape(STAGING_PREFIX) + r"[A-Za-z0-9_]+")
_HASH = re.compile(rf"[0-9a-f]{{{SHA256_HEX}}}")


class NotOwnedError(UnwritableError):
    """Files in the output folder that this program cannot prove it wrote would be overwritten."""


Owned = dict[str, list[str]]  # file name -> the SHA-256 of each content of it the program wrote


def _valid_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..", MANIFEST) and "/" not in name and "\0" not in name


def read_manifest(directory: Path) -> tuple[Owned, str | None]:
    """What the program wrote into ``directory`` (name -> hashes) and the staging folder of a build killed
    between its moves (or ``None``); nothing without a manifest.  :class:`NotOwnedError` when a file is
    named like the manifest but is no sealed manifest of the program's (it would be replaced)."""
    path = directory / MANIFEST
    if not os.path.lexists(path):
        return {}, None
    try:
        body = unseal(read_regular(path, MAX_MANIFEST_BYTES), MANIFEST_KIND)
    except OSError:
        body = None
    if body is None:
        raise NotOwnedError(
            f"{path} is not a manifest this program wrote (another program's file, one edited by hand, or an older "
            "sepbench's that recorded no hashes): not replacing it, nor any file it names; move it (and the old "
            "report's files), or choose another --output folder"
        )
    files = body.get("files")
    owned = {
        name: [h for h in hashes if isinstance(h, str) and _HASH.fullmatch(h)]
        for name, hashes in (files.items() if isinstance(files, dict) else ())
        if _valid_name(name) and isinstance(hashes, list)
    }
    staging = body.get("staging")
    return owned, staging if isinstance(staging, str) and _STAGING_NAME.fullmatch(staging) else None


def _write_manifest(directory: Path, owned: Owned, staging: str | None = None) -> None:
    body: dict[str, object] = {"files": {name: sorted(set(hashes)) for name, hashes in sorted(owned.items())}}
    if staging is not None:
        body["staging"] = staging
    atomic_write_text(directory / MANIFEST, seal(MANIFEST_KIND, body))


def _recover(directory: Path, owned: Owned, staging: str | None, notes: list[str]) -> None:
    """Remove the staging folder of a build killed between its moves: each file left in it that holds
    content the manifest records (else the folder is left, with a note)."""
    if staging is None or not (directory / staging).is_dir() or (directory / staging).is_symlink():
        return
    left = []
    for path in (directory / staging).iterdir():
        if is_ours(path, owned.get(path.name, ())):
            path.unlink()
        else:
            left.append(path.name)
    if left:
        notes.append(
            f"left {directory / staging} (of a build that was killed): it holds files not proved this program's: {', '.join(left)}"
        )
    else:
        (directory / staging).rmdir()


@contextmanager
def build_into(directory: str | os.PathLike[str], notes: list[str] | None = None) -> Iterator[Path]:
    """Yield a fresh folder to build in; on success its files replace the proved-own files of ``directory``.
    ``notes``: a list that gets a line for each file left alone that a build would have removed."""
    notes = [] if notes is None else notes
    target = Path(directory)
    check_writable(target / MANIFEST)
    owned, killed = read_manifest(target)
    _recover(target, owned, killed, notes)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=target))
    try:
        yield staging
        new = {p.name: sha256_of_file(p) or "" for p in sorted(staging.iterdir()) if p.is_file()}
        in_the_way = [n for n in new if os.path.lexists(target / n) and not is_ours(target / n, owned.get(n, ()))]
        if in_the_way:
            raise NotOwnedError(
                f"{target} holds files this program did not write, or that changed since it wrote them: {', '.join(in_the_way)}; "
                "not overwriting them (move them, or choose another --output folder)"
            )
        stale = [n for n in owned if n not in new and os.path.lexists(target / n)]
        edited = [n for n in stale if not is_ours(target / n, owned[n])]
        if edited:
            notes.append(f"left {', '.join(edited)} in {target}: changed since this program wrote them (no longer its to remove)")
        # between the moves every name may hold its old content or its new: the manifest owns both
        both = {n: owned.get(n, []) + [h] for n, h in new.items()} | {n: owned[n] for n in stale if n not in edited}
        _write_manifest(target, both, staging.name)
        for name in new:
            os.replace(staging / name, target / name)
        for name in stale:
            if name not in edited and is_ours(target / name, owned[name]):  # proved again just before it goes
                (target / name).unlink()
        shutil.rmtree(staging)
        _write_manifest(target, {n: [h] for n, h in new.items()})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
