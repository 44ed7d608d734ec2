"""Where sepbench keeps things on the user's machine."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV_VAR = "SEPBENCH_CACHE_DIR"


def cache_dir() -> Path:
    """The user cache directory: ``$SEPBENCH_CACHE_DIR`` or the platform's (``~/.cache/sepbench``)."""
    value = os.environ.get(CACHE_ENV_VAR)
    return Path(value).expanduser() if value else Path(platformdirs.user_cache_dir("sepbench"))
