"""Where a result came from: git commit, package versions, thread settings, machine, seed.

Nothing here imports a framework; versions come from package metadata.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.metadata as md
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from sepbench.machine.fingerprint import fingerprint, machine_name
from sepbench.machine.threads import thread_settings, usable_cores

PACKAGES = (
    "sepbench",
    "numpy",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "torch",
    "onnxruntime",
    "onnx",
    "ai-edge-litert",
    "scipy",
    "jsonschema",
    "h5py",
    "pandas",
    "matplotlib",
    "pytest-benchmark",
    "asv",
    "threadpoolctl",
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
    """Commit, branch and whether the work tree has uncommitted changes (``None`` outside git)."""

    def run(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "branch": run("rev-parse", "--abbrev-ref", "HEAD"), "dirty": bool(status) if status is not None else None}


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        import cpuinfo

        return str(cpuinfo.get_cpu_info().get("brand_raw") or platform.processor() or "unknown")
    except Exception:  # noqa: BLE001 - cpuinfo is best effort
        return platform.processor() or "unknown"


@functools.cache
def gpu_info() -> list[dict[str, str]]:
    """GPUs seen by ``nvidia-smi`` (empty when there is none)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "memory": parts[1], "driver": parts[2]})
    return gpus


def memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def machine_info() -> dict[str, Any]:
    """The machine by its hardware (name and fingerprint), CPU model, cores, memory (bytes), GPUs, OS and Python."""
    return {
        "hostname": socket.gethostname(),
        "machine_name": machine_name(),  # from the hardware unless $SEPBENCH_MACHINE names it
        "fingerprint": fingerprint().as_dict(),
        "cpu_model": cpu_model(),
        "cpu_count_logical": os.cpu_count(),
        "usable_cores": usable_cores(),
        "memory_bytes": memory_bytes(),
        "gpus": gpu_info(),
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
