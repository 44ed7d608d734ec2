"""Where pytest-benchmark runs are saved, and how a saved run is found by name.

Layout: ``<results>/bench/<machine>/NNNN_<name>.json`` (pytest-benchmark's own storage) and
``<results>/bench/last-run.json`` (the newest run, saved or not, for ``bench-summary``).

Standard library only: ``noxfile.py`` imports it before any virtualenv exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from sepbench.util.paths import RESULTS_ENV_VAR

RUN_PATTERN = "[0-9][0-9][0-9][0-9]_*.json"


class NoSavedRunError(LookupError):
    """No saved run matches; the message says what was looked for, where, and what to run."""


def bench_storage() -> Path:
    """pytest-benchmark storage: ``$SEPBENCH_RESULTS_DIR/bench`` or ``results/bench``."""
    return Path(os.environ.get(RESULTS_ENV_VAR) or "results") / "bench"


def last_run_path(storage: str | os.PathLike[str]) -> Path:
    """The file every ``nox -s bench`` run also writes (``--benchmark-json``)."""
    return Path(storage) / "last-run.json"


def saved_runs(storage: str | os.PathLike[str], name: str | None = None, machine: str | None = None) -> list[Path]:
    """Saved run files under the folder of ``machine`` (default: any machine folder) of ``storage``, oldest first.

    ``name``: only the runs saved as ``--save-as NAME``; a run number (``"3"`` -> ``0003_*``); or a
    path to one run file.
    """
    if name and os.path.isfile(name):
        return [Path(name)]
    if name and name.isdigit():
        pattern = f"{int(name):04d}_*.json"
    else:
        pattern = f"*_{name}.json" if name else RUN_PATTERN
    return sorted(Path(storage).glob(f"{machine or '*'}/{pattern}"), key=lambda p: (p.name, str(p.parent)))


def find_run(storage: str | os.PathLike[str], name: str | None = None, machine: str | None = None) -> Path:
    """The newest saved run (saved as ``name`` if given, on ``machine`` if given); :class:`NoSavedRunError`
    if there is none, saying so when runs exist only for other machines (not comparable: other hardware)."""
    runs = saved_runs(storage, name, machine)
    if not runs:
        what = f"run saved as {name!r}" if name else "saved run (NNNN_*.json)"
        where = f"{storage}/{machine}" if machine else str(storage)
        others = sorted({p.parent.name for p in saved_runs(storage, name)}) if machine else []
        hint = (
            f"; runs exist for other machines ({', '.join(others)}), but a baseline from other hardware is not comparable" if others else ""
        )
        raise NoSavedRunError(f"found no {what} under {where}{hint}; run `nox -s bench` (or `nox -s bench -- --save-as NAME`) first")
    return runs[-1]


def resolve_run(path: str | os.PathLike[str]) -> Path:
    """``path`` if it is a file, else the newest saved run in the storage directory ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise NoSavedRunError(f"{path}: no such benchmark file or storage directory (run `nox -s bench` first)")
    return find_run(path)
