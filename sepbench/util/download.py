"""Fetch one URL into a file with limits: at most ``max_bytes``, within ``deadline_s`` overall, and no
read stalled longer than ``read_timeout_s``.

A mirror is outside input.  pooch's and requests' downloaders bound only the wait for each read, so a
server that streams without end fills the disk and one that trickles a byte every few seconds never
finishes.  This one reads with ``read1`` (returns what has arrived, so the deadline is checked while a
trickle goes on), stops past ``max_bytes`` (a ``Content-Length`` above it is refused before a byte is
read), and shows a tqdm progress bar on a terminal.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

CHUNK = 1 << 16  # bytes per read


class DownloadError(OSError):
    """The download broke a limit or failed; the message names the URL and the limit."""


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    *,
    max_bytes: int,
    deadline_s: float,
    read_timeout_s: float,
    connect_timeout_s: float = 10.0,
    progress: bool | None = None,
) -> int:
    """Write the body of ``url`` to ``dest``; the number of bytes written.

    Raises :class:`DownloadError` for an HTTP error status, a body larger than ``max_bytes`` bytes, a
    download not finished in ``deadline_s`` seconds, or a read waiting more than ``read_timeout_s``.
    ``progress``: a progress bar on stderr (default: when stderr is a terminal).
    """
    import requests
    from tqdm import tqdm

    start = time.monotonic()
    try:
        resp = requests.get(url, stream=True, timeout=(connect_timeout_s, read_timeout_s), allow_redirects=True)
    except requests.RequestException as exc:
        raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from None
    with resp:
        if resp.status_code != 200:
            raise DownloadError(f"{url}: HTTP {resp.status_code} {resp.reason}")
        declared = resp.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise DownloadError(f"{url}: the server announces {int(declared):,} bytes, more than the {max_bytes:,} expected")
        written = 0
        show = sys.stderr.isatty() if progress is None else progress
        with open(dest, "wb") as fh, tqdm(total=max_bytes, unit="B", unit_scale=True, desc=Path(url).name, disable=not show) as bar:
            while True:
                try:
                    block = resp.raw.read1(CHUNK, decode_content=False)  # the bytes as sent: their checksum is checked
                except Exception as exc:  # noqa: BLE001 - urllib3's timeouts and protocol errors have no common base here
                    raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from None
                if not block:
                    break
                written += len(block)
                if written > max_bytes:
                    raise DownloadError(f"{url}: more than the {max_bytes:,} bytes expected; stopped")
                fh.write(block)
                bar.update(len(block))
                if time.monotonic() - start > deadline_s:
                    raise DownloadError(f"{url}: not finished in {deadline_s:.0f} s ({written:,} bytes so far); stopped")
    return written
