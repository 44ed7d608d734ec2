"""Open a file named from outside for reading: a regular file at once, or an error at once.

``open()`` of a fifo waits for a writer for ever (``sepbench spec`` with a pair whose data path named
one never returned), a device streams without end, and a check made before the open (``is_file()``)
can be raced by a swap.  So every input file is opened here: with ``O_NONBLOCK`` (opening a fifo then
returns at once), checked with ``fstat`` on the descriptor opened (what is read is what was checked),
and only then switched back to blocking reads.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a fifo"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


class NotRegularFileError(OSError):
    """The path names a folder, fifo, device or socket; ``strerror`` says which (e.g. "not a regular file (a fifo)")."""


class TooLargeError(OSError):
    """The file holds more bytes than its budget; ``strerror`` says how many and the budget."""


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words ("a regular file", "a fifo", "a folder", ...)."""
    return next((name for test, name in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode) else "not a file")


def open_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> BinaryIO:
    """``path`` opened for binary reading, never blocking on the open; :class:`NotRegularFileError` for
    anything but a regular file (with ``follow_symlinks=False``, a symbolic link too), else the
    ``OSError`` of the open (``FileNotFoundError``, ``PermissionError``...), naming ``path``."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:  # O_NOFOLLOW's answer for a link
            raise NotRegularFileError(errno.EINVAL, "not a regular file (a symbolic link)", os.fspath(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, f"not a regular file ({kind_of(mode)})", os.fspath(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole content of the regular file at ``path``, at most ``max_bytes`` bytes (checked on its size
    before reading, and on what is read: a file that grows meanwhile is refused too)."""
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(max_bytes + 1) if size <= max_bytes else b""
        if size > max_bytes or len(data) > max_bytes:
            raise TooLargeError(
                errno.EFBIG, f"{max(size, len(data)):,} bytes or more, more than the {max_bytes:,} it may hold", os.fspath(path)
            )
    return data
