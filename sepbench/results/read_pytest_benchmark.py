"""pytest-benchmark JSON runs (``--benchmark-json`` / ``--benchmark-autosave``) -> tidy rows.

Reads the tool's standard format (``machine_info``, ``commit_info``, ``datetime``,
``benchmarks[*].stats``) and the ``extra_info`` keys agreed in the project (workload, backend,
model, batch_size, n_images, path, params, macs_per_image, images_per_s, accuracy,
weights_source, native_bytes, native_format, compute_limit_fraction; fast_config and batch_free of a
fast path; keras_evaluate_floor_s of the TensorFlow graph-forward case).

- :func:`load_pytest_benchmark`: a parsed run -> tidy rows (what the report reads every run with).
- :func:`read_run`: one run file -> the tidy table and its ``machine_info`` (what ``bench-summary`` reads).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from sepbench.results.schema import WORKLOAD_PAIRED, ResultsError, read_json, reader
from sepbench.results.tidy import UNITS, frame, to_float

TIME_STATS = ("min", "max", "mean", "median", "stddev", "iqr", "q1", "q3")
EXTRA_METRICS = ("params", "macs_per_image", "native_bytes", "compute_limit_fraction", "keras_evaluate_floor_s")


def describe_config(config: Any) -> str | None:
    """A fast path's recorded choice (``extra_info["fast_config"]``) in one line:
    ``"channels_last, chunk 2048; conv1 fold, conv2 split, conv3 split"``; ``None`` if there is none."""
    if not isinstance(config, dict) or not config:
        return None
    head = [str(config["memory_format"])] if config.get("memory_format") else []
    if config.get("chunk") is not None:
        head.append(f"chunk {config['chunk']}")
    layers = config.get("layers") if isinstance(config.get("layers"), dict) else {}
    tail = ", ".join(f"{name} {how}" for name, how in layers.items())
    return "; ".join(part for part in (", ".join(head), tail) if part) or None


def _paired_rows(extra: dict[str, Any], labels: dict[str, Any], source: Path, bench: dict[str, Any]) -> list[dict[str, Any]]:
    """A paired separable/regular case: each model's median seconds over the pairs
    (``paired_10k_seconds``) and the per-pair ratio's median and quartiles (``paired_ratio``, no model).
    Its pytest-benchmark stats time a whole pair, which is no model's latency: not read."""
    sources = extra.get("weights_source") if isinstance(extra.get("weights_source"), dict) else {}
    base = {
        **labels,
        "source_kind": "pytest-benchmark",
        "source_file": str(source),
        "backend": extra.get("backend"),
        "path": extra.get("path") or "default",
        "workload": WORKLOAD_PAIRED,
        "batch_size": extra.get("batch_size"),
        "n_images": extra.get("n_images"),
        "benchmark": bench.get("fullname") or bench.get("name"),
        "params": None,
    }
    out = []
    for model in ("regular", "separable"):
        v = to_float(extra.get(f"{model}_median_s"))
        if v is not None:
            out.append(
                {
                    **base,
                    "model": model,
                    "weights_source": sources.get(model),
                    "metric": "paired_10k_seconds",
                    "stat": "value",
                    "value": v,
                    "unit": "seconds",
                }
            )
    for stat, key in (("median", "ratio_median"), ("q1", "ratio_q1"), ("q3", "ratio_q3")):
        v = to_float(extra.get(key))
        if v is not None:
            out.append({**base, "model": None, "weights_source": None, "metric": "paired_ratio", "stat": stat, "value": v, "unit": "ratio"})
    pairs = to_float(extra.get("pairs"))
    if pairs is not None:
        out.append({**base, "model": None, "weights_source": None, "metric": "pairs", "stat": "value", "value": pairs, "unit": "pairs"})
    return out


def is_pytest_benchmark(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("benchmarks"), list) and isinstance(doc.get("machine_info"), dict)


def _labels(doc: dict[str, Any]) -> dict[str, Any]:
    mi = doc.get("machine_info") or {}
    ci = doc.get("commit_info") or {}
    brand = mi["cpu"].get("brand_raw") if isinstance(mi.get("cpu"), dict) else None
    cpu = mi.get("cpu_model") or brand or mi.get("processor")
    commit = ci.get("id") or ((mi.get("git") or {}).get("commit") if isinstance(mi.get("git"), dict) else None)
    if commit and ci.get("dirty"):
        commit = f"{commit}+dirty"
    return {"machine": mi.get("machine_name") or mi.get("node"), "cpu": cpu, "commit": commit, "created": doc.get("datetime")}


def _roofline_rows(doc: dict[str, Any], labels: dict[str, Any], source: Path) -> list[dict[str, Any]]:
    """The run's roofline probe (``machine_info["roofline"]``): GEMM GFLOP/s and memory GB/s."""
    roof = (doc.get("machine_info") or {}).get("roofline")
    if not isinstance(roof, dict):
        return []
    base = {
        **labels,
        "source_kind": "pytest-benchmark",
        "source_file": str(source),
        "backend": None,
        "model": None,
        "path": None,
        "workload": "roofline",
        "batch_size": None,
        "n_images": None,
        "weights_source": None,
        "benchmark": "roofline probe",
        "params": None,
    }
    out = []
    for key, metric, unit in (("gemm_gflops", "roofline_gemm_gflops", "GFLOP/s"), ("mem_bandwidth_gbs", "roofline_mem_gbs", "GB/s")):
        v = to_float(roof.get(key))
        if v is not None:
            out.append({**base, "metric": metric, "stat": "value", "value": v, "unit": unit})
    return out


@reader("pytest-benchmark")
def load_pytest_benchmark(doc: Any, source: Path) -> list[dict[str, Any]]:
    """Tidy rows of one pytest-benchmark run; raises ResultsError naming ``source`` if malformed."""
    if not is_pytest_benchmark(doc):
        raise ResultsError(f"{source}: not a pytest-benchmark JSON run (no 'machine_info' and 'benchmarks')")
    labels = _labels(doc)
    out: list[dict[str, Any]] = _roofline_rows(doc, labels, source)
    for i, bench in enumerate(doc["benchmarks"]):
        if not isinstance(bench, dict) or not isinstance(bench.get("stats"), dict):
            raise ResultsError(f"{source}: benchmark {i} has no 'stats'")
        stats = bench["stats"]
        extra = bench.get("extra_info") if isinstance(bench.get("extra_info"), dict) else {}
        params = bench.get("params") if isinstance(bench.get("params"), dict) else {}
        given = {**params, **extra}  # extra_info first, else the case's parameters
        pick = given.get
        workload = pick("workload") or ("evaluate" if "evaluate" in str(bench.get("group", "")) else "predict")
        if workload == WORKLOAD_PAIRED:
            out += _paired_rows(extra, labels, source, bench)
            continue
        base = {
            **labels,
            "source_kind": "pytest-benchmark",
            "source_file": str(source),
            "backend": pick("backend"),
            "model": pick("model"),
            "path": pick("path") or "default",
            "config": describe_config(extra.get("fast_config")),
            "batch_free": extra.get("batch_free") is True,
            "workload": workload,
            "batch_size": pick("batch_size"),
            "n_images": pick("n_images"),
            "weights_source": pick("weights_source"),
            "benchmark": bench.get("fullname") or bench.get("name"),
            "params": ", ".join(f"{k}={v}" for k, v in params.items()) or None,
        }
        time_metric = "eval_seconds" if workload == "evaluate" else "latency_s"
        for stat in TIME_STATS:
            v = to_float(stats.get(stat))
            if v is not None:
                out.append({**base, "metric": time_metric, "stat": stat, "value": v, "unit": "seconds"})
        if to_float(stats.get("rounds")) is not None:
            out.append({**base, "metric": "rounds", "stat": "value", "value": float(stats["rounds"]), "unit": "rounds"})
        median, n = to_float(stats.get("median")), to_float(base["n_images"])
        ips = to_float(extra.get("images_per_s"))
        if ips is None and median and n:
            ips = n / median
        if ips is not None:
            out.append({**base, "metric": "images_per_s", "stat": "median", "value": ips, "unit": "images/s"})
        acc = to_float(extra.get("accuracy"))
        if acc is not None:
            # the study's accuracy is that of trained weights on all 10,000 test images
            full = workload == "evaluate" and base["n_images"] == 10_000 and base["weights_source"] == "trained"
            out.append({**base, "metric": "test_accuracy" if full else "accuracy", "stat": "value", "value": acc, "unit": "fraction"})
        for key in EXTRA_METRICS:
            v = to_float(extra.get(key))
            if v is not None:
                out.append({**base, "metric": key, "stat": "value", "value": v, "unit": UNITS.get(key, "")})
    return out


def read_run(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One pytest-benchmark run file: its tidy table (:func:`load_pytest_benchmark`, times in seconds)
    and its ``machine_info``; raises :class:`ResultsError` naming the file if it cannot be read."""
    path = Path(path)
    doc = read_json(path)
    df = frame(load_pytest_benchmark(doc, path))
    return df, doc["machine_info"]
