"""One side of an A/B comparison: a process that times one checkout's workloads on request.

Started by :mod:`sepbench.checks.ab_run` as ``python worker.py TREE`` (this file, not the package: the
package under test is TREE's).  TREE goes first on ``sys.path``, so every workload is built from that
commit's code.  It reads one JSON request per line on stdin and answers one JSON line on stdout:

* ``{"setup": {"cases": [...], "threads": 1, "cpu": 1, "data_dir": null}}`` -> ``{"cases": {id: info}, "skipped":
  {backend or case: why}, "sepbench": path}`` (a backend not installed here, or a case this commit cannot
  build, is skipped with the reason)
* ``{"time": id, "calls": k}`` -> ``{"seconds": s}`` (wall seconds of ``k`` calls of the case's timed part)
* ``{"quit": true}`` -> exits

An error answers ``{"error": "..."}``.  Anything the frameworks print goes to stderr (the alert's log).
Standard library only until TREE is on the path.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any


def setup(request: dict[str, Any], workloads: dict[str, Any]) -> dict[str, Any]:
    """Pin the CPU and threads, then build and warm every case from TREE's code."""
    if request.get("cpu") is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(request["cpu"])})  # both sides on one core: the same caches and clock
    try:
        import sepbench
        from impls.registry import unavailable_reason
        from sepbench.core.weights import init_weights
        from sepbench.machine.threads import configure_threads
        from sepbench.measure.workloads import PredictWorkload
    except ImportError as exc:
        raise RuntimeError(f"this commit has no sepbench workload API the A/B alert can drive ({exc})") from None
    skipped: dict[str, str] = {}
    for backend in sorted({c["backend"] for c in request["cases"]}):
        try:
            reason = unavailable_reason(backend)
        except Exception as exc:  # e.g. a backend this commit does not know
            reason = f"{type(exc).__name__}: {exc}"
        if reason:
            skipped[backend] = reason
    cases = [c for c in request["cases"] if c["backend"] not in skipped]
    configure_threads(request.get("threads", 1), sorted({c["backend"] for c in cases}))
    info = {}
    for case in cases:  # each on its own: a case this commit cannot build is skipped, with the reason
        try:
            w = PredictWorkload(case["backend"], case["model"], case["batch_size"], case["n_images"], case.get("path", "default"))
            w.setup(data_dir=request.get("data_dir"), weights=init_weights(case["model"], 0), warmup=2)
        except Exception as exc:
            traceback.print_exc()
            skipped[case["id"]] = f"{type(exc).__name__}: {exc}"
            continue
        workloads[case["id"]] = w
        info[case["id"]] = {"params": w.info["params"]}
    return {"cases": info, "skipped": skipped, "sepbench": os.path.abspath(sepbench.__file__)}


def time_sample(workload: Any, calls: int) -> dict[str, float]:
    start = time.perf_counter()
    for _ in range(calls):
        workload.run()
    return {"seconds": time.perf_counter() - start}


def main() -> int:
    sys.path.insert(0, os.path.abspath(sys.argv[1]))
    # the answers get their own copy of stdout; file descriptor 1 itself (native code, child processes)
    # and Python's sys.stdout go to stderr, the log: nothing else can write into the protocol
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    workloads: dict[str, Any] = {}
    for line in sys.stdin:
        request = json.loads(line)
        if "quit" in request:
            break
        try:
            answer = setup(request["setup"], workloads) if "setup" in request else time_sample(workloads[request["time"]], request["calls"])
        except Exception as exc:  # answered, not raised: the controller reports it with the log
            traceback.print_exc()
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
