"""An ASV results directory (asv 0.6, results API version 2) -> tidy rows.

Layout read::

    <root>/benchmarks.json                  # name -> {type, unit, param_names, params, ...}
    <root>/<machine>/machine.json           # machine, arch, cpu, num_cpu, os, ram
    <root>/<machine>/<commit>-<env>.json    # commit_hash, date (ms), env_name, result_columns, results

Each result row is a list aligned with ``result_columns`` (result, params, version, started_at,
duration, stats_ci_99_a, stats_ci_99_b, stats_q_25, stats_q_75, stats_number, stats_repeat,
samples, profile; trailing ``None`` columns dropped).  A parameterised benchmark's ``result`` is a
flat list over the Cartesian product of its ``params`` (first parameter varying slowest).
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import gc
import itertools
import json
import math
import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from sepbench.results.formats import check, figures_problem, problem, schema
from sepbench.results.schema import ResultsError, read_json
from sepbench.results.tidy import UNITS, to_float

_PARAM_ALIASES = {
    "backend": "backend",
    "model": "model",
    "batch_size": "batch_size",
    "batch": "batch_size",
    "path": "path",
    "n_images": "n_images",
}
_UNITS = {"time": "seconds", "mem": "bytes", "peakmem": "bytes"}


def is_asv_file(doc: Any, path: Path) -> bool:
    """An ASV results file, machine.json or benchmarks.json (read by :func:`load_asv_dir`)."""
    if not isinstance(doc, dict):
        return False
    if "result_columns" in doc and "commit_hash" in doc:
        return True
    if path.name == "machine.json" and "machine" in doc:
        return True
    return path.name == "benchmarks.json" and "version" in doc and all(isinstance(v, dict) for k, v in doc.items() if k != "version")


def asv_root_of(path: Path) -> Path:
    """The results root holding an ASV file (benchmarks.json's folder, or a machine folder's parent)."""
    return path.parent if path.name == "benchmarks.json" else path.parent.parent


def _literal(text: Any) -> Any:
    try:
        return ast.literal_eval(text) if isinstance(text, str) else text
    except (ValueError, SyntaxError):
        return text


def _asv_date(ms: Any) -> str | None:
    v = to_float(ms)
    return dt.datetime.fromtimestamp(v / 1000, dt.UTC).isoformat(timespec="seconds") if v is not None else None


def _combo_rows(
    base: dict[str, Any],
    name: str,
    meta: dict[str, Any],
    names: list[str],
    params: list[list[str]],
    result: list[Any],
    col: dict[str, Any],
) -> list[dict[str, Any]]:
    """One benchmark's rows: per parameter combination its figure (the median of a time benchmark) and the
    quartiles and IQR ASV recorded; a failed (null) or skipped (NaN) combination gives none."""
    out: list[dict[str, Any]] = []
    q1s, q3s = col.get("stats_q_25") or [], col.get("stats_q_75") or []
    # what every combination shares is worked out once: each parameter value's label and text (parsed once,
    # not once a combination), the metric, the unit; a row is then one dict (linear, ~µs a figure)
    aliases = [_PARAM_ALIASES.get(names[j]) if j < len(names) else None for j in range(len(params))]
    texts = names + [None] * (len(params) - len(names))  # a parameter without a name has no text (as zip drops it)
    choices = [[(alias, lit, n and f"{n}={lit}") for v in p for lit in (_literal(v),)] for alias, n, p in zip(aliases, texts, params)]
    kind = meta.get("type") or name.rsplit(".", 1)[-1].split("_", 1)[0]
    unit = meta.get("unit") or _UNITS.get(kind, "")
    short = name.rsplit(".", 1)[-1]
    extra: dict[str, Any] = {}
    if kind == "time" and {"backend", "model", "batch_size"} <= set(aliases):
        metric, extra = "latency_s", {"workload": "predict"}
    elif short.startswith("track_") and short[6:] in UNITS:  # e.g. track_params, track_native_bytes
        metric = short[6:]
    elif "accuracy" in short:
        metric = "accuracy"
    else:
        metric = name
    stat = "median" if kind == "time" else "value"
    for i, combo in enumerate(itertools.product(*choices) if params else [()]):
        value = to_float(result[i]) if i < len(result) else None
        if value is None or math.isnan(value):  # failed (null) or skipped (NaN) benchmark
            continue
        labels = {alias: lit for alias, lit, _ in combo if alias is not None}
        text = ", ".join([t for _, _, t in combo if t]) or None
        row = {**base, **labels, "benchmark": name, "params": text, **extra, "metric": metric, "stat": stat, "value": value, "unit": unit}
        out.append(row)
        q1 = to_float(q1s[i]) if i < len(q1s) else None
        q3 = to_float(q3s[i]) if i < len(q3s) else None
        for name_q, q in (("q1", q1), ("q3", q3)):
            if q is not None:
                out.append({**row, "stat": name_q, "value": q, "unit": unit})
        if kind == "time" and q1 is not None and q3 is not None:
            out.append({**row, "stat": "iqr", "value": q3 - q1, "unit": unit})
    return out


def load_asv_result(doc: Any, source: Path, machine: dict[str, Any], benchmarks: dict[str, Any]) -> list[dict[str, Any]]:
    """Tidy rows of one ``<commit>-<env>.json``; raises ResultsError naming ``source`` and the field if
    malformed.  ``benchmarks``: benchmarks.json's entries, each well-formed (:func:`load_asv_dir` checks them)."""
    check(doc, "asv_result", source, "ASV result")  # sepbench/results/formats/asv_result.schema.json
    columns, results, commit = doc["result_columns"], doc["results"], doc["commit_hash"]
    base = {
        "source_kind": "asv",
        "source_file": str(source),
        "created": _asv_date(doc.get("date")),
        "machine": (doc.get("params") or {}).get("machine") or machine.get("machine"),
        "cpu": machine.get("cpu"),
        "commit": commit,
        "env": doc.get("env_name"),
    }
    out: list[dict[str, Any]] = []
    passed: set[str] = set()
    for name, values in results.items():
        col = dict(zip(columns, values))
        _check_result(col, f"{source} (result of {name!r})", passed)
        meta = benchmarks.get(name) or {}  # checked by load_asv_dir (#/$defs/benchmark)
        params = col.get("params") or meta.get("params") or []
        names = list(meta.get("param_names") or [f"param{i + 1}" for i in range(len(params))])
        result = col.get("result")
        if result is None:  # failed as a whole (its setup): no figure
            continue
        result = result if isinstance(result, list) else [result]
        # ASV's results run over the product of the parameters: a product larger than the results is a
        # malformed file (nine lists of ten names in a few hundred bytes would be 10^9 rows)
        n_combos = math.prod(len(p) for p in params) if params else 1
        if n_combos > len(result):
            raise ResultsError(f"{source}: {name!r} has {n_combos:,} parameter combinations but {len(result):,} results")
        out += _combo_rows(base, name, meta, names, params, result, col)
    return out


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a file's rows are built: rows hold no cycles, and among
    millions of new dicts its passes (each over every object alive) took half of a 19 MB result's read."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


FIGURE_COLUMNS = ("result", "stats_q_25", "stats_q_75")  # the columns of figures, one per parameter combination


def _check_result(col: dict[str, Any], where: str, passed: set[str]) -> None:
    """One benchmark's columns against ``#/$defs/result``: the lists of figures in one pass
    (:func:`~sepbench.results.formats.figures_problem`), the rest by the schema, once per distinct rest
    (``passed``: the rests of this file that passed; a file's benchmarks mostly share their parameters)."""
    lists = [k for k in FIGURE_COLUMNS if isinstance(col.get(k), list)]
    for k in lists:
        why = figures_problem(col[k])
        if why is not None:
            raise ResultsError(f"{where}: not a well-formed ASV result file: $.{k}{why}")
    rest = {**col, **{k: [] for k in lists}}
    key = json.dumps(rest, sort_keys=True, default=repr)
    if key not in passed:
        check(rest, "asv_result", where, "ASV result", part="result")
        passed.add(key)


def _machine_dirs(root: Path, warnings: list[str]) -> list[Path]:
    """The machine folders of an ASV results root; one that cannot be listed becomes a warning naming it."""
    try:
        dirs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    except OSError as exc:
        warnings.append(f"skipped {root}: cannot be read ({exc.strerror or exc})")
        return []
    readable = [d for d in dirs if os.access(d, os.R_OK | os.X_OK)]
    warnings.extend(f"skipped {d}: cannot be read (permission denied)" for d in dirs if d not in readable)
    return readable


def load_asv_dir(root: Path, skip: Collection[tuple[str, str]] = ()) -> tuple[list[dict[str, Any]], list[str], list[Path]]:
    """All results under an ASV results root: (rows, warnings, files read).  Bad files become warnings.

    ``skip``: (machine folder, file name) pairs already read from another root, left out.
    """
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    read: list[Path] = []
    benchmarks: dict[str, Any] = {}
    bfile = root / "benchmarks.json"
    if bfile.is_file():
        try:
            doc = read_json(bfile)
            if not isinstance(doc, dict):
                raise ResultsError(f"{bfile}: not an ASV benchmarks.json (not an object)")
            fields = schema("asv_result")["$defs"]["benchmark"]["properties"]  # what the schema checks of an entry
            verdicts: dict[str, str | None] = {}  # each distinct set of those fields checked once (the suite's share them)
            for name, meta in doc.items():
                if not isinstance(meta, dict):
                    continue  # benchmarks.json's "version" entry
                checked = {k: v for k, v in meta.items() if k in fields}
                key = json.dumps(checked, sort_keys=True, default=repr)
                if key not in verdicts:
                    verdicts[key] = problem(checked, "asv_result", part="benchmark")
                why = verdicts[key]
                if why is None:
                    benchmarks[name] = meta
                else:
                    warnings.append(f"skipped {bfile}: benchmark {name!r} is not well-formed ({why}); its results are read without it")
        except ResultsError as exc:
            warnings.append(f"skipped {exc}")
    for mdir in _machine_dirs(root, warnings):
        machine: dict[str, Any] = {}
        mfile = mdir / "machine.json"
        if mfile.is_file():
            try:
                mdoc = read_json(mfile)
                machine = mdoc if isinstance(mdoc, dict) else {}
            except ResultsError as exc:
                warnings.append(f"skipped {exc}")
        machine.setdefault("machine", mdir.name)
        for rfile in sorted(mdir.glob("*.json")):
            if rfile.name == "machine.json" or rfile.name.startswith(".") or (mdir.name, rfile.name) in skip:
                continue
            try:
                with _collector_paused():
                    rows.extend(load_asv_result(read_json(rfile), rfile, machine, benchmarks))
                read.append(rfile)
            except ResultsError as exc:
                warnings.append(f"skipped {exc}")
            except (TypeError, ValueError, json.JSONDecodeError) as exc:
                warnings.append(f"skipped {rfile}: unexpected ASV result content ({exc})")
    return rows, warnings, read
