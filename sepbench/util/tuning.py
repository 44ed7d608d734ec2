"""Choices a backend made by measurement on this machine, remembered: FFTW's "wisdom" for the fast paths.

A fast path picks its configuration by timing candidates on its first call (NumPy's lowering per
layer and chunk size, PyTorch's memory format and chunk, ONNX Runtime's optimisation level and chunk,
LiteRT's chunk, fold or split per separable layer).  Candidates often time within a few per cent of
each other, so on a shared machine each process picked another one, and "the fast path" measured
another configuration on every run: the paired NumPy fast ratio was 1.06x in one run and 0.83x in the
next on one machine, minutes apart.  So the first choice on a machine is recorded here and every later
process on the same CPU, thread count and library versions reuses it: a rerun measures the same thing.

The record is ``<cache>/tuning.json`` (``$SEPBENCH_TUNING_FILE`` overrides the path), keyed by the
caller's key plus this CPU's identity; ``SEPBENCH_RETUNE=1`` measures again and records the new choice.
An unreadable record is measured anew and rewritten; a cache that cannot be written keeps the choice
for this process only.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import platform
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sepbench.util.env import env_flag, env_path

TUNING_FILE = "tuning.json"
TUNING_FILE_ENV_VAR = "SEPBENCH_TUNING_FILE"
RETUNE_ENV_VAR = "SEPBENCH_RETUNE"
MAX_RECORD_BYTES = 1 << 20  # a record larger than this is no record of ours: measured anew, rewritten
_CPUINFO_KEYS = ("vendor_id", "cpu family", "model", "model name", "flags")


def tuning_path() -> Path:
    """Where the choices are recorded: ``$SEPBENCH_TUNING_FILE`` or ``<cache>/tuning.json``."""
    from sepbench.util.paths import cache_dir

    value = env_path(TUNING_FILE_ENV_VAR)
    return value if value is not None else cache_dir() / TUNING_FILE


@functools.cache
def cpu_identity() -> str:
    """A short digest of this CPU (vendor, family, model, name, flags, usable cores, architecture): a
    cache shared by two machines (a network home) never hands one machine's choice to the other."""
    facts: dict[str, str] = {"machine": platform.machine(), "cores": str(len(os.sched_getaffinity(0)))}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in _CPUINFO_KEYS and key not in facts:
                facts[key] = value.strip()
    except OSError:
        facts["processor"] = platform.processor()
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def _entry_key(kind: str, key: Mapping[str, Any]) -> str:
    return json.dumps({"kind": kind, "cpu": cpu_identity(), **key}, sort_keys=True, default=str)


def _read(path: Path) -> dict[str, Any]:
    return _read_record(path)[0]


def _read_record(path: Path) -> tuple[dict[str, Any], bool]:
    """The record at ``path`` and whether it may be rewritten: a missing file, a record of ours, or any
    regular file named ``tuning.json`` (sepbench's name: an unreadable one is measured anew and
    rewritten) may be; anything else there (a user's file the setting points at, a fifo) is neither
    read nor replaced."""
    if not path.exists():
        return {}, True
    if not path.is_file():  # a fifo would block the read
        return {}, False
    named_ours = path.name == TUNING_FILE
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            return {}, named_ours
        doc = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return {}, named_ours
    ours = isinstance(doc, dict) and all(isinstance(e, dict) and {"kind", "key", "choice"} <= e.keys() for e in doc.values())
    return (doc, True) if ours else ({}, named_ours)


@functools.cache
def _not_ours(path: Path) -> None:
    print(f"sepbench: {path} is not a record of tuned choices: left as it is, and choices are not remembered", file=sys.stderr)


def retune() -> bool:
    """Whether ``$SEPBENCH_RETUNE`` asks for every choice to be measured again (:func:`~sepbench.util.env.env_flag`:
    ``SEPBENCH_RETUNE=false`` means no; an unknown word is an error)."""
    return env_flag(RETUNE_ENV_VAR)


def recall(kind: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The choice recorded for ``kind`` and ``key`` on this CPU, or ``None`` (none, or a retune asked)."""
    if retune():
        return None
    entry = _read(tuning_path()).get(hashlib.sha256(_entry_key(kind, key).encode()).hexdigest()[:20])
    if not isinstance(entry, dict) or entry.get("key") != _entry_key(kind, key) or not isinstance(entry.get("choice"), dict):
        return None
    return dict(entry["choice"])


def record(kind: str, key: Mapping[str, Any], choice: Mapping[str, Any]) -> None:
    """Record ``choice`` (JSON-able) for ``kind`` and ``key`` on this CPU; an unwritable cache is ignored."""
    from sepbench.util.atomic import atomic_write_json

    path = tuning_path()
    full = _entry_key(kind, key)
    doc, ours = _read_record(path)
    if not ours:
        _not_ours(path)
        return  # the choice holds for this process
    doc[hashlib.sha256(full.encode()).hexdigest()[:20]] = {
        "kind": kind,
        "key": full,
        "choice": dict(choice),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    try:
        atomic_write_json(path, doc)
    except OSError:
        pass  # a read-only cache: the choice holds for this process


def remembered(
    kind: str,
    key: Mapping[str, Any],
    choose: Callable[[], Mapping[str, Any]],
    valid: Callable[[dict[str, Any]], bool] = lambda choice: True,
) -> dict[str, Any]:
    """The recorded choice for ``kind`` and ``key`` if ``valid`` accepts it (a record is input: another
    version of the code, or a hand edit, may have written something this code cannot run), else
    ``choose()`` (a measurement), recorded."""
    found = recall(kind, key)
    if found is not None:
        try:
            if valid(found):
                return found
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
    choice = dict(choose())
    record(kind, key, choice)
    return choice
