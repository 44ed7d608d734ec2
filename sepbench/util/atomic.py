"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sepbench.util.oserrors import reason


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it (``/proc/self/status``); else
    set-and-restore (a moment in which another thread could create a file with mode 0o666)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    The temporary file keeps ``path``'s suffix (or ``suffix``) because some writers (Keras,
    ``numpy.savez``) choose a format by it.  The file ends with the permissions a plain ``open``
    would give under the user's umask (``mkstemp`` makes it 0600, which would hide results from
    the group).  On error the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    if target.exists() and not target.is_file():  # the rename would replace a device node, fifo, socket or folder
        raise FileExistsError(errno.EEXIST, "exists and is not a regular file: not replaced", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:  # a write's error (a full disk) names no file: name this one
            exc.filename = str(target)
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class UnwritableError(ValueError):
    """An output that cannot be written: said before any work starts, never after it."""


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`UnwritableError` unless a file can be written at ``path`` (its folder exists or can
    be made, is writable, and ``path`` is not a folder); returns the path."""
    if isinstance(path, str) and path.endswith(("/", os.sep)):  # Path() drops the slash that says "a folder"
        raise UnwritableError(f"{path} names a folder; give a file name (e.g. {Path(path) / 'results.json'})")
    target = Path(path)
    if target.is_dir():
        raise UnwritableError(f"{target} is a directory; give a file name (e.g. {target / 'results.json'})")
    if target.exists() and not target.is_file():
        # an atomic write renames over the target: a device node (/dev/null), fifo or socket would be replaced
        raise UnwritableError(f"{target} exists and is not a regular file (a device, fifo or socket): give a file name")
    existing = next((p for p in (target.parent, *target.parent.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UnwritableError(f"{existing} is a file, not a folder: cannot write {target.name} in it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnwritableError(f"cannot create the folder for {target}: {reason(exc, target.parent)}") from None
    try:  # a real file, not os.access: that cannot tell a read-only file system from a mode, and lets root pass
        fd, probe = tempfile.mkstemp(prefix=".sepbench-probe-", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UnwritableError(f"cannot write in {target.parent}: {reason(exc, target.parent)}") from None
    return target


def unique_path(directory: str | os.PathLike[str], stem: str, suffix: str) -> Path:
    """A new file ``<stem><suffix>`` in ``directory``, or ``<stem>-2<suffix>``, ``-3``... if taken; the
    file is created (empty) at once, so two processes finishing in the same second never get the same
    name.  Fill it with an atomic write."""
    directory = Path(directory)
    check_writable(directory / f"{stem}{suffix}")
    for n in range(1, 10_000):
        candidate = directory / f"{stem}{'' if n == 1 else f'-{n}'}{suffix}"
        try:
            with open(candidate, "x"):
                return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: no free name for {stem}*{suffix} after 9,999 tries")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (fsync'd) and return the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, default: Callable[[Any], Any] | None = str) -> Path:
    """Serialise ``obj`` as indented JSON and write it atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=default) + "\n")


def new_log(prefix: str) -> Path:
    """A new, empty log file in the temporary folder, named ``<prefix><random>.log`` and created
    exclusively (a fixed name there could be another user's symlink, or another run's log)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(fd)
    return Path(name)
