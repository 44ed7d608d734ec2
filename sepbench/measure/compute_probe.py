"""What the machine's arithmetic can do, not what one library's build does: the best float32 GEMM of several
sources, each recorded, and the theoretical peak beside them.

One BLAS build is not the machine: OpenBLAS obeys ``OPENBLAS_CORETYPE``, which some machines set to
``Haswell`` (AVX2 kernels) for reproducibility; on an AVX-512 Zen 5 that read 234 GFLOP/s where the same
library unrestricted gave 403-434.  A floor taken from a crippled probe flatters every path measured
against it.  So the compute floor is the best of:

- ``numpy``: NumPy's matmul in this process, as configured (the figure the run's own BLAS gives);
- ``numpy (no core type)``: the same in a fresh interpreter without ``OPENBLAS_CORETYPE`` (its kernels
  are chosen at load time, so only a new process can tell);
- ``torch``: PyTorch's matmul (its own oneDNN / MKL kernels) where PyTorch is installed, in that process;
- ``fma kernel (halide)``: an FMA microkernel JIT-compiled by Halide where it imports
  (:mod:`sepbench.measure.fma_kernel`): independent chains of full-width vector FMAs in registers, the
  rate no GEMM can beat;

the GEMMs each the fastest of a few ``n x n x n`` products, all at the same threads.  The theoretical peak
(cores x FLOP per cycle of the widest vector ISA, counting 2 FMA units, x the clock) is shown beside them,
not used: FMA units per core are not knowable portably (AVX-512 on Zen 4's 256-bit units does half).  Its
clock is the measured one where the FMA kernel ran (a dependent FMA chain's rate x its latency), else
the one ``/proc/cpuinfo`` reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

SUBPROCESS_TIMEOUT_S = 60.0
CORETYPE_VAR = "OPENBLAS_CORETYPE"

# timed in a fresh interpreter: numpy's matmul without the core type, then torch's where importable
_PROBE = r"""
import json, sys, time
n, threads, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
import numpy as np
import threadpoolctl
out = {}
def best(f):
    f()
    t = float("inf")
    for _ in range(reps):
        s = time.perf_counter(); f(); t = min(t, time.perf_counter() - s)
    return 2.0 * n ** 3 / t
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
with threadpoolctl.threadpool_limits(threads, user_api="blas"):
    out["numpy (no core type)"] = best(lambda: a @ b)
try:
    import torch
except ImportError:
    pass
else:
    torch.set_num_threads(threads)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    out["torch"] = best(lambda: torch.mm(ta, tb))
clock, notes = None, []
try:
    from sepbench.measure.fma_kernel import fma_rates
    fma = fma_rates(threads, reps)
except Exception as exc:  # a kernel that fails to build or run is left out, and said
    fma, notes = None, [f"the FMA kernel failed ({type(exc).__name__})"]
if fma is not None:
    out["fma kernel (halide)"], clock = fma.flops, fma.clock_hz
print(json.dumps({"sources": out, "clock_hz": clock, "notes": notes}))
"""


@dataclass(frozen=True)
class ComputeProbe:
    """Float32 GEMM FLOP/s per source (``sources``), the best of them, and the theoretical peak
    (FLOP/s, ``None`` where the clock or the ISA is not known); ``notes`` say what could not be probed."""

    sources: Mapping[str, float]
    theoretical_flops: float | None
    theoretical_basis: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def best_source(self) -> str:
        return max(self.sources, key=lambda k: self.sources[k])

    @property
    def best_flops(self) -> float:
        return self.sources[self.best_source]

    def as_machine_info(self) -> dict[str, object]:
        """GFLOP/s per source, the source that sets the floor, the theoretical peak and its basis."""
        return {
            "gemm_gflops_by_source": {k: round(v / 1e9, 2) for k, v in self.sources.items()},
            "floor_source": self.best_source,
            "theoretical_gflops": None if self.theoretical_flops is None else round(self.theoretical_flops / 1e9, 1),
            "theoretical_basis": self.theoretical_basis,
            "notes": list(self.notes),
        }


def other_sources(n: int, threads: int, repeats: int = 5) -> tuple[dict[str, float], float | None, list[str]]:
    """FLOP/s of the sources timed in a fresh interpreter (NumPy without the core type, PyTorch, the FMA
    kernel), the clock the FMA kernel measured (Hz; ``None`` where it did not run), and a note per failure
    (a probe that failed is left out, never guessed)."""
    env = {k: v for k, v in os.environ.items() if k != CORETYPE_VAR}
    cmd = [sys.executable, "-c", _PROBE, str(n), str(threads), str(repeats)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
        if proc.returncode != 0:
            return {}, None, [f"the fresh-process GEMM probe failed (exit {proc.returncode})"]
        found = json.loads(proc.stdout.strip().splitlines()[-1])
        sources = {str(k): float(v) for k, v in found["sources"].items() if isinstance(v, (int, float)) and v > 0}
        clock = found.get("clock_hz")
        notes = [str(n)[:200] for n in found.get("notes", [])]
        return sources, float(clock) if isinstance(clock, (int, float)) and clock > 0 else None, notes
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError, KeyError, AttributeError) as exc:
        return {}, None, [f"the fresh-process GEMM probe failed ({type(exc).__name__})"]


def theoretical_peak(
    cores: int, isa: Collection[str] | None = None, mhz: float | None = None, measured: bool = False
) -> tuple[float | None, str]:
    """Cores x float32 FLOP per cycle (2 FMA units x lanes of the widest vector ISA x 2) x the clock (MHz;
    ``measured``: by the FMA kernel, else the one ``/proc/cpuinfo`` reports): an upper bound (a core with
    one FMA unit, or AVX-512 on 256-bit units, does half)."""
    if isa is None or mhz is None:
        flags, clock = _cpuinfo()
        isa = isa if isa is not None else sorted(flags)
        mhz = mhz if mhz is not None else clock
    lanes = 16 if "avx512f" in isa else 8 if "avx2" in isa or "avx" in isa else 4
    if not mhz or cores < 1:
        return None, "clock or cores unknown"
    per_cycle = 2 * lanes * 2
    source = "measured by a dependent FMA chain" if measured else "reported clock"
    basis = f"{cores} cores x 2 FMA units x {lanes} float32 lanes x 2 FLOP x {mhz / 1000:.2f} GHz ({source}): an upper bound"
    return cores * per_cycle * mhz * 1e6, basis


def _cpuinfo() -> tuple[set[str], float | None]:
    """The CPU's flags and the clock ``/proc/cpuinfo`` reports for its first CPU (MHz; ``None`` elsewhere)."""
    from pathlib import Path

    from sepbench.machine.fingerprint import parse_cpuinfo

    try:
        text = Path("/proc/cpuinfo").read_text()[:1_000_000]
    except OSError:
        return set(), None
    mhz = next((line.split(":", 1)[1] for line in text.splitlines() if line.lower().startswith("cpu mhz")), None)
    try:
        clock = float(mhz) if mhz is not None else None
    except ValueError:
        clock = None
    return set(parse_cpuinfo(text)["flags"]), clock  # type: ignore[arg-type]


def probe_compute(in_process_flops: float, n: int, threads: int, cores: int) -> ComputeProbe:
    """Every source (``in_process_flops``: this process's NumPy GEMM, already timed) and the peak, at the
    clock the FMA kernel measured where it ran."""
    coretype = os.environ.get(CORETYPE_VAR)
    label = f"numpy ({CORETYPE_VAR}={coretype})" if coretype else "numpy"
    sources = {label: in_process_flops}
    found, clock_hz, notes = other_sources(n, threads)
    sources.update(found)
    if clock_hz is None:
        peak, basis = theoretical_peak(cores)
    else:
        peak, basis = theoretical_peak(cores, mhz=clock_hz / 1e6, measured=True)
    return ComputeProbe(sources, peak, basis, tuple(notes))
