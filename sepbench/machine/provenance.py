"""Where a result came from: git commit, package versions, thread settings, machine, seed.

Nothing here imports a framework; versions come from package metadata.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

from impls.registry import distribution_name, framework_packages
from sepbench.machine.fingerprint import fingerprint, gpus, machine_name
from sepbench.machine.threads import thread_settings, usable_cores

# every registered backend's framework, then what the backends and paths pull in beside it
PACKAGES: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            "sepbench",
            *(distribution_name(p) for p in framework_packages()),
            "tensorflow-cpu",
            "keras",
            "onnx",
            "nncf",
            "numba",
            "halide",
            "scipy",
            "jsonschema",
            "h5py",
            "pandas",
            "matplotlib",
            "pytest-benchmark",
            "asv",
            "threadpoolctl",
        )
    )
)
REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding sepbench/ (for git_info)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def git_info(repo: Path = REPO_ROOT) -> dict[str, Any]:
    """Commit, branch and whether the work tree has uncommitted changes (``None`` each outside git)."""
    from sepbench.util.git import GitError, dirty_files, git

    def ask(*args: str) -> str | None:
        try:
            return git(*args, cwd=repo, timeout=10)
        except GitError:
            return None

    try:
        dirty: bool | None = bool(dirty_files(repo))
    except GitError:
        dirty = None
    return {"commit": ask("rev-parse", "HEAD"), "branch": ask("rev-parse", "--abbrev-ref", "HEAD"), "dirty": dirty}


def cpu_model() -> str:
    """The CPU's brand string, as the fingerprint read it."""
    return fingerprint().brand


def machine_info() -> dict[str, Any]:
    """The machine by its hardware (name and fingerprint), CPU model, cores, memory (bytes), GPUs, OS and Python."""
    return {
        "hostname": socket.gethostname(),
        "machine_name": machine_name(),  # from the hardware unless $SEPBENCH_MACHINE names it
        "fingerprint": fingerprint().as_dict(),
        "cpu_model": cpu_model(),
        "cpu_count_logical": os.cpu_count(),
        "usable_cores": usable_cores(),
        "memory_bytes": fingerprint().memory_bytes,
        "gpus": gpus(),
        "platform": platform.platform(),
        "arch": platform.machine(),
        "python": sys.version.split()[0],
    }


def collect_provenance(seed: int | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a result must carry to be reproducible."""
    return {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git": git_info(),
        "versions": package_versions(),
        "threads": thread_settings(),
        "machine": machine_info(),
        "seed": seed,
        "argv": sys.argv,
        **(extra or {}),
    }
