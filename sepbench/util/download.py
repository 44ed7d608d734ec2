"""Fetch one URL into a file with limits: at most ``max_bytes``, within ``deadline_s`` overall, and no
read stalled longer than ``read_timeout_s``.

A mirror is outside input.  pooch's and requests' downloaders bound only the wait for each read, so a
server that streams without end fills the disk and one that trickles a byte every few seconds never
finishes; requests also reads a redirect's whole body into memory, even with redirects off.  This one
talks urllib3 (requests' own transport) directly: it reads with ``read1`` (returns what has arrived,
so the deadline is checked while a trickle goes on), stops past ``max_bytes`` (a ``Content-Length``
above it is refused before a byte is read), follows redirects by hand without reading their bodies,
and shows a tqdm progress bar on a terminal.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

CHUNK = 1 << 16  # bytes per read
MAX_REDIRECTS = 5


# the user-info part of a URL (``user:password@`` or a token ``key@``), wherever a message quotes one
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s?#@]+@")


def without_credentials(text: str) -> str:
    """``text`` with the user name and password of every URL in it replaced by ``***``: a mirror given as
    ``https://user:secret@host/`` is named in errors (and so in CI logs) without its secret."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def scheme_of(url: str) -> str:
    """The scheme of ``url``, lower-case (schemes are case-insensitive, RFC 3986: ``HTTP://`` is http)."""
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


class DownloadError(OSError):
    """The download broke a limit or failed; the message names the URL (without its credentials) and the limit."""

    def __init__(self, message: str) -> None:
        super().__init__(without_credentials(str(message)))


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
    from tqdm import tqdm

    start = time.monotonic()
    resp = _open(url, start, deadline_s, (connect_timeout_s, read_timeout_s))
    with resp:
        if resp.status != 200:
            raise DownloadError(f"{url}: HTTP {resp.status} {resp.reason}")
        declared = resp.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise DownloadError(f"{url}: the server announces {int(declared):,} bytes, more than the {max_bytes:,} expected")
        written = 0
        show = sys.stderr.isatty() if progress is None else progress
        with open(dest, "wb") as fh, tqdm(total=max_bytes, unit="B", unit_scale=True, desc=Path(url).name, disable=not show) as bar:
            while True:
                try:
                    block = resp.read1(CHUNK)  # the bytes as sent: their checksum is checked
                except Exception as exc:  # noqa: BLE001 - a mirror's fault of any kind is that mirror's failure, named
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


def _within(seconds: float, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``'s result if it returns within ``seconds``, else ``TimeoutError``.

    It runs in a daemon thread: Python waits at exit for every other thread (a thread pool's too), so a
    server trickling its headers kept the process alive after Ctrl-C had printed "interrupted".  Waiting
    on the event is interrupted by Ctrl-C in the main thread, and the thread dies with the process."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="sepbench-download-headers", daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError(f"no answer in {seconds:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _open(url: str, start: float, deadline_s: float, timeout: tuple[float, float]) -> Any:
    """The response of ``url`` once its headers are in, following at most :data:`MAX_REDIRECTS` redirects
    by hand: each hop's body is never read, an https URL never leads to plain http, and the headers of
    every hop count against the deadline (each is awaited in a worker thread: a server that sends a
    header line every few seconds would otherwise never end)."""
    import urllib3

    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]), retries=False)
    for _ in range(MAX_REDIRECTS + 1):
        left = deadline_s - (time.monotonic() - start)
        try:
            # the bytes as sent (no decoding): their checksum is what is checked
            resp = _within(max(left, 0.0), http.request, "GET", url, preload_content=False, decode_content=False, redirect=False)
        except TimeoutError:
            raise DownloadError(f"{url}: no response in {deadline_s:.0f} s; stopped") from None
        except Exception as exc:  # noqa: BLE001 - any fault of the mirror (a bad URL, a refused connection) is named
            raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from None
        if resp.status not in (301, 302, 303, 307, 308):
            return resp
        target = resp.headers.get("Location", "")
        resp.close()  # the connection with it: its body is never read
        try:
            nxt = urljoin(url, target)
            urllib3.util.parse_url(nxt)
        except ValueError as exc:
            raise DownloadError(f"{url}: redirect to a bad URL {target!r} ({exc})") from None
        if scheme_of(url) == "https" and scheme_of(nxt) != "https":
            raise DownloadError(f"{url}: redirects to {nxt!r}, not https: refused")
        if scheme_of(nxt) not in ("http", "https"):
            raise DownloadError(f"{url}: redirects to {nxt!r}, not an http(s) URL: refused")
        url = nxt
    raise DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects; stopped")
