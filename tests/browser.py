"""Debian's headless Chromium, as every browser test drives it: find it, dump a page's DOM, screenshot it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The browser's path, or ``None`` where none is installed."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


SKIP_ENV_VAR = "SEPBENCH_SKIP_BROWSER"  # set by `nox -s mutants`: thousands of mutants, each a few seconds of Chromium


def require_chromium(what: str) -> str:
    """The browser's path; skips the test (saying what it could not check) where none is installed, or
    where ``$SEPBENCH_SKIP_BROWSER`` is set (the checks before this call still run)."""
    if os.environ.get(SKIP_ENV_VAR):
        pytest.skip(f"{SKIP_ENV_VAR} is set: {what} not checked in a browser")
    path = find_chromium()
    if path is None:
        pytest.skip(f"chromium is not installed (apt-get install chromium): cannot check {what} in a browser")
    return path


WINDOW = (1280, 900)  # width, height in CSS pixels


def _base(chromium: str, profile: Path, budget_ms: int, window: tuple[int, int] = WINDOW) -> list[str]:
    # no network of its own (updates, sync, QUIC), its own profile: a test sees only the page
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={window[0]},{window[1]}",
        "--hide-scrollbars",
        f"--virtual-time-budget={budget_ms}",
    ]


def dump_dom(
    chromium: str, url: str, profile: Path, budget_ms: int = 5000, timeout_s: float = 180, window: tuple[int, int] = WINDOW
) -> str:
    """The page's DOM after its scripts ran (``budget_ms`` of virtual time) in a ``window`` (width, height);
    asserts the browser exited cleanly."""
    proc = subprocess.run(
        [*_base(chromium, profile, budget_ms, window), "--dump-dom", url], capture_output=True, text=True, timeout=timeout_s
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def screenshot(
    chromium: str, url: str, profile: Path, shot: Path, budget_ms: int = 15000, timeout_s: float = 180, window: tuple[int, int] = WINDOW
) -> Path:
    """A PNG of the page's first ``window`` (width, height; default 1280 x 900) in ``shot``; asserts it was written."""
    proc = subprocess.run(
        [*_base(chromium, profile, budget_ms, window), f"--screenshot={shot}", url], capture_output=True, text=True, timeout=timeout_s
    )
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    return shot
