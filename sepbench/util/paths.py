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


RESULTS_ENV_VAR = "SEPBENCH_RESULTS_DIR"


def results_dir() -> Path:
    """Where result files go: ``$SEPBENCH_RESULTS_DIR`` or ``results/`` in the current directory.

    Layout: ``reproduce-*.json`` (sepbench reproduce), ``bench/`` (pytest-benchmark storage),
    and the ASV results stay in ASV's own ``.asv/results``.
    """
    value = os.environ.get(RESULTS_ENV_VAR)
    return Path(value).expanduser() if value else Path.cwd() / "results"
