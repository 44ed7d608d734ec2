"""What each result file says about the machine that measured it: one description per file.

- pytest-benchmark runs: ``machine_info["machine_name"]``, ``machine_info["fingerprint"]``
  (:meth:`sepbench.machine.fingerprint.Fingerprint.as_dict`) and the roofline probe
  (``machine_info["roofline"]["gemm_gflops"]``);
- ``sepbench reproduce`` files: the same name and fingerprint in ``provenance["machine"]``;
- ASV: ``<machine>/machine.json``, written by ``sepbench.asv.machine_file`` from the same
  fingerprint (``cpu`` = ``"<brand> (<family.model>, <isa>)[, <accelerator>]"``, ``ram`` = ``"<n> MB"``
  with MB = 2**20 bytes) or by ``asv machine`` itself (free text; a bare ``ram`` number is bytes).

Every function here is total: a field of the wrong type is left empty, never an exception (the rows
of the same file are read by the strict readers, which name a broken file).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sepbench.results.schema import ResultsError, read_json
from sepbench.results.tidy import to_float

# one description: the machine's name, its hardware (memory in bytes, GEMM probe in GFLOP/s) and the file
FIELDS: tuple[str, ...] = (
    "machine",
    "cpu_model",
    "cores",
    "logical_cpus",
    "isa",
    "arch",
    "memory_bytes",
    "os",
    "accelerator",
    "gemm_gflops",
    "digest",
    "source_kind",
    "source_file",
    "created",
)
_RAM_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}  # binary, as sepbench writes "MB"
_ASV_CPU = re.compile(r"^(?P<brand>.*) \((?P<fm>[^(),]*), (?P<isa>[^(),]*)\)(?:, (?P<acc>.+))?$")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """A non-empty string, else ``None``."""
    return (value.strip() or None) if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    """A finite number (also from a string of digits), else ``None`` (an int too big for a float included)."""
    try:
        return to_float(float(value) if isinstance(value, str) and value.strip().isdigit() else value)
    except OverflowError:
        return None


def _count(value: Any) -> int | None:
    """A positive whole number (a count of cores, of bytes), else ``None``."""
    v = _number(value)
    return int(v) if v is not None and v >= 1 and v == int(v) else None


def describe(machine: Any, fingerprint: Any, kind: str, source: Path, created: Any = None, gemm_gflops: Any = None) -> dict[str, Any]:
    """One description from a machine name and a fingerprint dict (``Fingerprint.as_dict``; any
    missing or mistyped field left empty). ``memory_bytes`` in bytes, ``gemm_gflops`` in GFLOP/s."""
    fp = _dict(fingerprint)
    memory, gemm = _count(fp.get("memory_bytes")), _number(gemm_gflops)
    return {
        "machine": _text(machine) or _text(fp.get("name")),
        "cpu_model": _text(fp.get("brand")),
        "cores": _count(fp.get("physical_cores")),
        "logical_cpus": _count(fp.get("logical_cpus")),
        "isa": _text(fp.get("isa")),
        "arch": _text(fp.get("arch")),
        "memory_bytes": memory,
        "os": _text(fp.get("os")),
        "accelerator": _text(fp.get("accelerator")),
        "gemm_gflops": gemm if gemm is not None and gemm > 0 else None,
        "digest": _text(fp.get("digest")),
        "source_kind": kind,
        "source_file": str(source),
        "created": _text(created),
    }


def from_pytest_benchmark(doc: Any, source: Path) -> dict[str, Any]:
    """A pytest-benchmark run's machine: ``machine_info`` name (else the host name), fingerprint, GEMM probe."""
    info = _dict(_dict(doc).get("machine_info"))
    out = describe(
        _text(info.get("machine_name")) or info.get("node"),
        info.get("fingerprint"),
        "pytest-benchmark",
        source,
        _dict(doc).get("datetime"),
        _dict(info.get("roofline")).get("gemm_gflops"),
    )
    out["cpu_model"] = out["cpu_model"] or _text(info.get("cpu_model"))
    return out


def from_reproduce(doc: Any, source: Path) -> dict[str, Any]:
    """A ``sepbench reproduce`` file's machine: ``provenance["machine"]`` (name, fingerprint, CPU model)."""
    prov = _dict(_dict(doc).get("provenance"))
    info = _dict(prov.get("machine"))
    name = _text(info.get("machine_name")) or info.get("hostname")
    out = describe(name, info.get("fingerprint"), "reproduce", source, prov.get("created"))
    out["cpu_model"] = out["cpu_model"] or _text(info.get("cpu_model"))
    out["memory_bytes"] = out["memory_bytes"] or _count(info.get("memory_bytes"))
    return out


def parse_ram(text: Any) -> int | None:
    """ASV's ``ram`` in bytes: ``"24105 MB"`` (sepbench: MB = 2**20 bytes), ``"4GB"``, or a bare number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return _count(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text, flags=re.I) if isinstance(text, str) else None
    return _count(float(m.group(1)) * _RAM_UNITS[m.group(2).lower()] // 1) if m else None  # whole bytes


def from_asv_machine(doc: Any, folder: str, source: Path) -> dict[str, Any]:
    """An ASV ``machine.json`` (its folder's name when it names no machine). The ISA level and the
    accelerator are read from a ``cpu`` in sepbench's form; any other ``cpu`` is kept whole as the model."""
    d = _dict(doc)
    cpu = _text(d.get("cpu")) or ""
    m = _ASV_CPU.match(cpu)
    fingerprint = {
        "brand": m.group("brand") if m else cpu,
        "isa": m.group("isa") if m else None,
        "accelerator": (m.group("acc") if m else None) or None,
        "physical_cores": d.get("num_cpu"),
        "arch": d.get("arch"),
        "memory_bytes": parse_ram(d.get("ram")),
        "os": d.get("os"),
    }
    return describe(_text(d.get("machine")) or folder, fingerprint, "asv", source)


def from_asv_results(read: list[Path]) -> list[dict[str, Any]]:
    """One description per machine folder of the ASV result files ``read`` (its ``machine.json``; the
    folder's name alone when that file is missing or unreadable)."""
    out = []
    for folder in dict.fromkeys(p.parent for p in read):
        path = folder / "machine.json"
        try:
            doc = read_json(path) if path.is_file() else {}
        except ResultsError:  # already named in a warning by the ASV reader
            doc = {}
        out.append(from_asv_machine(doc, folder.name, path))
    return out
