"""A machine known by its hardware: a fingerprint and a readable name derived from it.

Host names say nothing here (every development VM is called ``vm``), and the same hosted-runner
label gets different CPUs, so results are filed under a name made from what the machine *is*:
``xeon-f6m207-2c-avx512-24g`` (CPU family and model number, physical cores, widest vector ISA,
memory rounded to GiB), ``epyc7763-2c-avx2-16g``, ``neoverse-n1-4c-neon-16g``.  A user who wants a
name of their own sets ``SEPBENCH_MACHINE`` (or ``--machine`` where a command has it).

Standard library only: the noxfile and ASV's machine file use it before anything is installed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

MACHINE_ENV_VAR = "SEPBENCH_MACHINE"
GIB = 2**30

# widest vector ISA first: the first one whose flags are all present names the level
X86_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("avx512", ("avx512f", "avx512bw", "avx512vl")),
    ("avx2", ("avx2", "fma")),
    ("avx", ("avx",)),
    ("sse4", ("sse4_2",)),
)
ARM_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (("sve2", ("sve2",)), ("sve", ("sve",)), ("neon", ("asimd",)))
# words of a CPU brand string that name its product line, in the order they are looked for
PRODUCT_LINES = ("epyc", "ryzen", "threadripper", "xeon", "core", "celeron", "pentium", "atom", "graviton", "neoverse", "ampere", "apple")
# Arm "CPU part" numbers of common server cores (from the Arm TRMs), for a cpuinfo without a brand
ARM_PARTS = {"0xd0c": "neoverse-n1", "0xd40": "neoverse-v1", "0xd49": "neoverse-n2", "0xd4f": "neoverse-v2", "0xd8e": "neoverse-n3"}


@dataclass(frozen=True)
class Fingerprint:
    """What decides a benchmark's speed on a machine, read from the OS (memory in bytes)."""

    arch: str  # x86_64, aarch64, ...
    vendor: str  # GenuineIntel, AuthenticAMD, ARM, ...
    brand: str  # the CPU's model name as the OS reports it
    family_model: str  # "6.207" (x86 family.model) or Arm "implementer:part"; "" if unknown
    physical_cores: int
    logical_cpus: int
    isa: str  # widest vector ISA level: avx512, avx2, avx, sse4, sve2, sve, neon, or the arch
    memory_bytes: int | None
    os: str  # e.g. "linux-debian-12"
    accelerator: str  # "" or e.g. "1x NVIDIA H200"

    def digest(self) -> str:
        """8 hex digits over every field: two machines with the same name but other hardware differ here."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]

    def name(self) -> str:
        """The readable default machine name, e.g. ``xeon-f6m207-2c-avx512-24g``."""
        mem = f"-{round(self.memory_bytes / GIB)}g" if self.memory_bytes else ""
        acc = "-" + _slug(self.accelerator) if self.accelerator else ""
        return f"{cpu_token(self.brand, self.family_model)}-{self.physical_cores}c-{self.isa}{mem}{acc}"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "name": self.name(), "digest": self.digest()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def cpu_token(brand: str, family_model: str = "") -> str:
    """The CPU part of a machine name: product line plus model number (``epyc7763``, ``xeon8375c``),
    or the product line plus family/model when the brand names no model (``xeon-f6m207``)."""
    words = _slug(re.sub(r"\((r|tm)\)", " ", brand, flags=re.I)).split("-")
    line = next((w for w in PRODUCT_LINES if w in words), None)
    if family_model in ARM_PARTS.values():
        return family_model
    number = next(
        (w for w in words if re.fullmatch(r"[a-z]?\d[0-9a-z]{2,5}", w) and sum(c.isdigit() for c in w) >= 3 and not w.endswith("ghz")), None
    )
    if line and number:
        return f"{line}{number}"
    fm = "f" + family_model.replace(".", "m") if family_model and "." in family_model else _slug(family_model)
    head = line or (words[0] if words and words[0] else "cpu")
    return f"{head}-{fm}" if fm else head


def isa_level(arch: str, flags: set[str]) -> str:
    """The widest vector ISA level the CPU flags show (``avx512``, ``avx2``, ``neon``...), else the arch."""
    levels = ARM_LEVELS if arch.startswith(("aarch64", "arm")) else X86_LEVELS
    for level, needed in levels:
        if all(f in flags for f in needed):
            return level
    return arch


def parse_cpuinfo(text: str) -> dict[str, object]:
    """Brand, vendor, family.model (or Arm implementer:part), flags and physical cores from ``/proc/cpuinfo`` text."""
    blocks = [dict(_kv(line) for line in block.splitlines() if ":" in line) for block in text.strip().split("\n\n") if block.strip()]
    first = blocks[0] if blocks else {}
    flags = set((first.get("flags") or first.get("Features") or "").split())
    brand = first.get("model name") or first.get("Model name") or first.get("cpu model") or ""
    if "cpu family" in first and "model" in first:
        family_model = f"{first['cpu family']}.{first['model']}"
    elif "CPU part" in first:
        part = first["CPU part"].lower()
        family_model = ARM_PARTS.get(part, f"{first.get('CPU implementer', '?').lower()}:{part}")
    else:
        family_model = ""
    # physical cores: distinct (physical id, core id) pairs; Arm lists one block per core
    cores = {(b.get("physical id", "0"), b.get("core id", str(i))) for i, b in enumerate(blocks) if "processor" in b}
    return {
        "brand": brand,
        "vendor": first.get("vendor_id") or ("ARM" if "CPU implementer" in first else ""),
        "family_model": family_model,
        "flags": flags,
        "physical_cores": len(cores) or None,
        "logical_cpus": sum("processor" in b for b in blocks) or None,
    }


def _kv(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def _os_name() -> str:
    system = platform.system().lower()
    try:
        release = platform.freedesktop_os_release()
        return f"{system}-{release.get('ID', '')}-{release.get('VERSION_ID', '')}".rstrip("-")
    except (OSError, AttributeError):
        return f"{system}-{platform.release()}"


@functools.cache
def gpus() -> list[dict[str, str]]:
    """The NVIDIA GPUs ``nvidia-smi`` lists (name, memory, driver); empty when there is none.  The one
    place sepbench asks for them: the fingerprint's accelerator and the provenance's GPU list read this."""
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
    found = []
    for line in out.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3 and parts[0]:
            found.append({"name": parts[0], "memory": parts[1], "driver": parts[2]})
    return found


def _accelerator() -> str:
    """``"<count>x <name>"`` of the NVIDIA GPUs; empty when there are none."""
    found = gpus()
    return f"{len(found)}x {found[0]['name']}" if found else ""


def memory_bytes() -> int | None:
    """Physical memory in bytes (``None`` where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


@functools.cache
def fingerprint() -> Fingerprint:
    """This machine's fingerprint (read once per process)."""
    try:
        info = parse_cpuinfo(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:  # not Linux: what the platform module knows
        info = {
            "brand": platform.processor(),
            "vendor": "",
            "family_model": "",
            "flags": set(),
            "physical_cores": None,
            "logical_cpus": None,
        }
    arch = platform.machine() or "unknown"
    logical = int(info["logical_cpus"] or os.cpu_count() or 1)  # type: ignore[arg-type]
    return Fingerprint(
        arch=arch,
        vendor=str(info["vendor"]),
        brand=str(info["brand"] or platform.processor() or arch),
        family_model=str(info["family_model"]),
        physical_cores=int(info["physical_cores"] or logical),  # type: ignore[arg-type]
        logical_cpus=logical,
        isa=isa_level(arch, info["flags"]),  # type: ignore[arg-type]
        memory_bytes=memory_bytes(),
        os=_os_name(),
        accelerator=_accelerator(),
    )


def machine_name() -> str:
    """``$SEPBENCH_MACHINE`` if set, else the name derived from this machine's hardware."""
    override = os.environ.get(MACHINE_ENV_VAR, "").strip()
    if override:
        return check_machine_name(override, MACHINE_ENV_VAR)
    return fingerprint().name()


def check_machine_name(name: str, source: str = "machine name") -> str:
    """``name`` if it can name a folder of results (1-64 letters, digits, '.', '_' or '-', not starting
    with '.' or '-'); else :class:`ValueError` saying where the name came from (``source``)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise ValueError(f"{source}={name!r}: a machine name is 1-64 letters, digits, '.', '_' or '-' (it names folders)")
    return name
