"""What a saved run records about the machine (pytest-benchmark's ``machine_info``), and which of it
must match before two runs are compared."""

from __future__ import annotations

import json
from typing import Any

from sepbench.bench.options import BenchOptions

VOLATILE_MACHINE_KEYS = ("roofline", "git", "sepbench", "cpu")  # differ from run to run by nature (cpu: clock readings)


def bench_machine_info(opts: BenchOptions | None) -> dict[str, Any]:
    """The machine by its hardware (``machine_name``, ``fingerprint``), CPU model, usable cores, thread
    settings, versions, GPUs, the roofline probe and git state (``opts``: the session's options, or
    ``None`` outside a configured bench session)."""
    from impls.registry import get_backend
    from sepbench.machine.fingerprint import fingerprint, gpus, machine_name
    from sepbench.machine.provenance import cpu_model, git_info, package_versions
    from sepbench.machine.threads import thread_settings, usable_cores
    from sepbench.measure.extra_info import roofline

    versions: dict[str, Any] = {k: v for k, v in package_versions().items() if v is not None}
    for name in opts.available if opts else []:
        versions.update(get_backend(name).versions())
    own = (
        {
            "quick": opts.quick,
            "threads": opts.threads,
            "free_cores": opts.free_cores.as_dict() if opts.free_cores is not None else None,  # None: --threads chose
            "backends": opts.backends,
            "unavailable": opts.unavailable,
        }
        if opts
        else None
    )
    return dict(
        machine_name=machine_name(),  # the report groups by it; pytest-benchmark's "node" is the host name
        fingerprint=fingerprint().as_dict(),
        cpu_model=cpu_model(),
        usable_cores=usable_cores(),
        threads=thread_settings(),
        versions=versions,
        gpus=gpus(),
        # the session's probe where a case took it (every GEMM source), else this process's NumPy alone
        roofline=(opts.roofline if opts is not None and opts.roofline is not None else roofline()).as_machine_info(),
        git=git_info(),
        sepbench=own,
    )


def machine_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The ``machine_info`` keys, other than :data:`VOLATILE_MACHINE_KEYS`, whose values differ
    (``current`` is compared as it would be saved: tuples become lists)."""
    current = json.loads(json.dumps(current, default=str))
    return sorted(k for k in set(saved) | set(current) if k not in VOLATILE_MACHINE_KEYS and saved.get(k) != current.get(k))
