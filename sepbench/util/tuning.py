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
The record is sealed (:mod:`sepbench.util.ownership`): only a sealed record, or no file at all, is
ever replaced.  Any other file at the path (a user's file the setting names, one named ``tuning.json``,
an edited or older unsealed record, a fifo) is left as it is, with one line saying so, and the choices
hold for that process only; so does a cache that cannot be written.
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
MAX_RECORD_BYTES = 1 << 20  # a record larger than this is no record of ours: left alone, choices not remembered
RECORD_KIND = "sepbench-tuning"  # the seal's kind (sepbench.util.ownership): proves a record is ours
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


def _entries(doc: object) -> bool:
    return isinstance(doc, dict) and all(isinstance(e, dict) and {"kind", "key", "choice"} <= e.keys() for e in doc.values())


def _read_record(path: Path) -> tuple[dict[str, Any], str | None]:
    """The choices recorded at ``path``, and why the file may not be replaced (``None``: it may).

    It may be replaced only when missing or when it is a record this program wrote, proved by its seal
    (:mod:`sepbench.util.ownership`): a file's name proves nothing (a user's own ``tuning.json``, or any
    file the setting points at).  An unsealed record of an older version is read, never rewritten; a
    fifo or device is neither (opened without blocking)."""
    from sepbench.util.inputs import read_regular
    from sepbench.util.ownership import unseal

    if not os.path.lexists(path):
        return {}, None
    try:
        data = read_regular(path, MAX_RECORD_BYTES)
    except OSError as exc:
        from sepbench.util.oserrors import reason

        return {}, f"cannot be used as the record of tuned choices ({reason(exc, path)})"
    body = unseal(data, RECORD_KIND)
    if body is not None and _entries(body.get("entries")):
        return dict(body["entries"]), None
    try:
        old = json.loads(data)
    except (ValueError, RecursionError):
        old = None
    if _entries(old) and old:  # an older sepbench's record (unsealed): its choices still hold
        return old, "is a record of tuned choices without a seal (an older sepbench's, or edited by hand)"
    return {}, "is not a record of tuned choices this program wrote (nor one it can prove its own)"


@functools.cache
def _not_ours(path: Path, why: str) -> None:
    print(f"sepbench: {path} {why}: left as it is, and new choices are not remembered", file=sys.stderr)


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
    from sepbench.util.atomic import atomic_write_text
    from sepbench.util.ownership import seal

    path = tuning_path()
    full = _entry_key(kind, key)
    doc, why = _read_record(path)
    if why is not None:
        _not_ours(path, why)
        return  # the choice holds for this process
    doc[hashlib.sha256(full.encode()).hexdigest()[:20]] = {
        "kind": kind,
        "key": full,
        "choice": dict(choice),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    try:
        atomic_write_text(path, seal(RECORD_KIND, {"entries": doc}))
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
