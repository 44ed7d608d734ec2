"""ASV around the suite in ``benchmarks/``: machine names, running ``python -m asv``, its configuration.

The ASV check (``sepbench check asv``) is :mod:`sepbench.asv.continuous`; the history archive is
:mod:`sepbench.asv.archive`.  Nothing here imports ASV: it is run as ``python -m asv`` from the
environment that has it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


class AsvError(RuntimeError):
    """ASV could not run, or a ref or result is missing."""


def default_machine() -> str:
    """``$SEPBENCH_ASV_MACHINE``, else the machine's hardware name (:func:`sepbench.machine.fingerprint.machine_name`,
    which ``$SEPBENCH_MACHINE`` overrides): two CPUs behind one host name are two machines."""
    from sepbench.machine.fingerprint import check_machine_name, machine_name

    override = os.environ.get("SEPBENCH_ASV_MACHINE", "").strip()
    return check_machine_name(override, "SEPBENCH_ASV_MACHINE") if override else machine_name()


def machine_facts(name: str) -> dict[str, str]:
    """ASV's machine description of this machine from its fingerprint (the same facts every result of
    sepbench records): machine, os, arch, cpu (brand, family.model, ISA level, accelerator), num_cpu
    (physical cores), ram."""
    from sepbench.machine.fingerprint import fingerprint

    fp = fingerprint()
    cpu = f"{fp.brand} ({fp.family_model}, {fp.isa})" + (f", {fp.accelerator}" if fp.accelerator else "")
    facts = {"machine": name, "os": fp.os, "arch": fp.arch, "cpu": cpu, "num_cpu": str(fp.physical_cores)}
    if fp.memory_bytes:
        facts["ram"] = f"{fp.memory_bytes // 2**20} MB"
    return facts


def asv(*args: str, cwd: str | os.PathLike[str] = ".", check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -m asv ARGS`` in ``cwd`` (output streamed unless ``capture``)."""
    cmd = [sys.executable, "-m", "asv", *args]
    proc = subprocess.run(cmd, cwd=cwd, text=True, capture_output=capture)
    if check and proc.returncode != 0:
        raise AsvError(
            f"`asv {' '.join(args)}` exited with status {proc.returncode}" + (f":\n{proc.stdout}{proc.stderr}" if capture else "")
        )
    return proc


def ensure_machine(name: str, cwd: str | os.PathLike[str] = ".") -> None:
    """Record this machine's description under ``name`` (``~/.asv-machine.json``) without prompting."""
    proc = subprocess.run([sys.executable, "-m", "sepbench.asv.machine_file", name], cwd=cwd, text=True, capture_output=True)
    if proc.returncode != 0:
        raise AsvError(f"could not record machine {name!r} for ASV: {proc.stderr.strip()}")


def read_asv_conf(path: str | os.PathLike[str]) -> dict:
    """An ``asv.conf.json`` (JSON with whole-line ``//`` comments) as a dict."""
    import json
    import re

    return json.loads(re.sub(r"^\s*//.*$", "", Path(path).read_text(), flags=re.M))
