"""Explicit thread control, identical for every backend in a run, and a report of what is in force.

``configure_threads(n)`` sets the BLAS/OpenMP environment variables (for libraries not loaded
yet), limits already-loaded BLAS pools with threadpoolctl, and sets torch and TensorFlow
intra-op threads to ``n`` (inter-op 1) for every backend asked for.  Call it early: TensorFlow
refuses new thread settings once it has run an op.
"""

from __future__ import annotations

import os
from typing import Any

import threadpoolctl

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_current: int | None = None


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def requested_threads() -> int | None:
    """The thread count :func:`configure_threads` last applied (``None``: not called yet)."""
    return _current


def configure_threads(n: int | None = None, backends: list[str] | None = None) -> dict[str, Any]:
    """Use ``n`` compute threads (default: all usable cores) in NumPy's BLAS and in each backend.

    ``backends`` (default: those already imported) are loaded and configured.  Returns
    :func:`thread_settings`.
    """
    global _current
    from impls.registry import BackendUnavailableError, backend_names, get_backend

    n = usable_cores() if n is None else int(n)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n)
    threadpoolctl.threadpool_limits(limits=n)
    _current = n
    import sys

    names = backends if backends is not None else [b for b in backend_names() if _framework_loaded(b, sys.modules)]
    for name in names:
        try:
            get_backend(name).set_threads(n)
        except BackendUnavailableError:
            continue
    return thread_settings()


def _framework_loaded(backend: str, modules: dict[str, Any]) -> bool:
    from impls.registry import BACKEND_MODULES

    return BACKEND_MODULES[backend][0] in modules


def thread_settings() -> dict[str, Any]:
    """Threads in force: the requested count, env vars, BLAS pools and each loaded backend's own report."""
    import sys

    from impls.registry import backend_names, get_backend

    out: dict[str, Any] = {
        "requested": _current,
        "usable_cores": usable_cores(),
        "env": {v: os.environ.get(v) for v in THREAD_ENV_VARS if os.environ.get(v) is not None},
        "blas": [
            {"library": p.get("internal_api"), "num_threads": p.get("num_threads"), "version": p.get("version")}
            for p in threadpoolctl.threadpool_info()
        ],
    }
    for name in backend_names():
        if name != "numpy" and _framework_loaded(name, sys.modules):
            out[name] = get_backend(name).thread_settings()
    return out
