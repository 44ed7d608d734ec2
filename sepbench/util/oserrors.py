"""An ``OSError`` as one line that names the path and says what the disk said, in words.

Python's own text of an error often leaves the path out (a full disk fails a ``write``, which names no
file) or says too little ("Permission denied" of a folder on a read-only file system, where no mode
change would help).  Every message about a file the program could not read or write is made here.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def _folder_detail(folder: Path) -> str:
    """Why a folder refuses writes when it says EACCES: its mode, and whose it is."""
    try:
        st = folder.stat()
    except OSError:
        return ""
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return f" (the folder is read-only: mode {stat.filemode(st.st_mode)}; `chmod u+w` it or choose another)"
    return f" (mode {stat.filemode(st.st_mode)}, owner uid {st.st_uid}; this process runs as uid {os.geteuid()})"


def reason(exc: OSError, path: str | os.PathLike[str] | None = None) -> str:
    """What went wrong, in words, without the path (see :func:`describe`); ``path``: the file or
    folder concerned when the error does not carry one."""
    where = Path(exc.filename if exc.filename is not None else path or ".")
    folder = where if where.is_dir() else where.parent
    code = exc.errno
    if code == errno.ENOSPC:
        return f"no space left on the device holding {folder}"
    if code == errno.EDQUOT:
        return f"the disk quota of the device holding {folder} is used up"
    if code == errno.EROFS:
        return f"{folder} is on a read-only file system"
    if code == errno.EFBIG:
        return exc.strerror if exc.strerror and "bytes" in exc.strerror else "file too large (a file size limit: `ulimit -f`)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied" + _folder_detail(folder)
    if code == errno.ENOENT:
        return "no such file or folder"
    if code == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    if code == errno.EISDIR:
        return "a folder, not a file"
    return exc.strerror or str(exc)


def os_error_message(exc: OSError, path: str | os.PathLike[str] | None = None) -> str:
    """``<path>: <reason>``: one line for any ``OSError`` (the path from the error, else ``path``)."""
    where = exc.filename if exc.filename is not None else path
    return f"{os.fspath(where)}: {reason(exc, path)}" if where is not None else reason(exc, path)


def what_is_at(path: str | os.PathLike[str]) -> str:
    """What ``path`` names, in words, never blocking: "does not exist", "a folder", "a regular file", "a fifo"..."""
    from sepbench.util.inputs import kind_of

    try:
        return kind_of(os.stat(path).st_mode)
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be looked at ({reason(exc, path)})"
