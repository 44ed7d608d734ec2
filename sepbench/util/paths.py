"""Where sepbench keeps things on the user's machine."""

from __future__ import annotations

from pathlib import Path

from sepbench.util.env import env_path

CACHE_ENV_VAR = "SEPBENCH_CACHE_DIR"


def cache_dir() -> Path:
    """The user cache directory: ``$SEPBENCH_CACHE_DIR`` or the platform's (``~/.cache/sepbench``)."""
    value = env_path(CACHE_ENV_VAR)
    if value is not None:
        return value
    import platformdirs  # here, not at the top: the noxfile imports this module with the standard library alone

    return Path(platformdirs.user_cache_dir("sepbench"))


RESULTS_ENV_VAR = "SEPBENCH_RESULTS_DIR"


def results_dir() -> Path:
    """Where result files go: ``$SEPBENCH_RESULTS_DIR`` or ``results/`` in the current directory.

    Layout: ``reproduce-*.json`` (sepbench reproduce), ``bench/`` (pytest-benchmark storage),
    and the ASV results stay in ASV's own ``.asv/results``.
    """
    value = env_path(RESULTS_ENV_VAR)
    return value if value is not None else Path.cwd() / "results"


HISTORY_DIR = "history"  # ASV results from real machines, committed: history/<machine>/<commit>-<env>.json


def asv_results_dirs(cwd: Path | None = None) -> list[Path]:
    """The ASV results roots the report reads by default: ``.asv/results`` (this machine's runs) and,
    when present, ``history/`` (results from other machines, same layout), both in ``cwd``
    (default: relative paths, the current directory).  ``.asv/results`` comes first: it wins over a copy
    in ``history/``."""
    base = Path() if cwd is None else Path(cwd)
    history = base / HISTORY_DIR
    return [base / ".asv" / "results", *([history] if history.is_dir() else [])]
