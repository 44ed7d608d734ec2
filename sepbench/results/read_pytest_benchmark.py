"""pytest-benchmark JSON runs (``--benchmark-json`` / ``--benchmark-autosave``) -> tidy rows.

Reads the tool's standard format (``machine_info``, ``commit_info``, ``datetime``,
``benchmarks[*].stats``) and the ``extra_info`` keys agreed in the project (workload, backend,
model, batch_size, n_images, path, params, macs_per_image, images_per_s, accuracy,
weights_source, native_bytes, native_format, compute_limit_fraction; fast_config and batch_free of a
fast path; pixels, the input type a path was given; keras_evaluate_floor_s of the TensorFlow graph-forward case).

- :func:`load_pytest_benchmark`: a parsed run -> tidy rows (what the report reads every run with).
- :func:`read_run`: one run file -> the tidy table and its ``machine_info`` (what ``bench-summary`` reads).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from sepbench.core.pairs import STUDY_PAIR
from sepbench.core.traffic import INPUT_BYTES
from sepbench.results.formats import check
from sepbench.results.read_reproduce import seed_rows
from sepbench.results.schema import (
    WORKLOAD_PAIRED,
    WORKLOAD_PAIRED_EVALUATE,
    WORKLOAD_PAIRED_TRAIN,
    WORKLOAD_SEEDS,
    ResultsError,
    read_json,
)
from sepbench.results.tidy import UNITS, drop_implausible, frame, to_float

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


PAIRED_SECONDS = {
    WORKLOAD_PAIRED: "paired_10k_seconds",
    WORKLOAD_PAIRED_EVALUATE: "paired_eval_seconds",
    WORKLOAD_PAIRED_TRAIN: "paired_epoch_seconds",
}
ROLES = ("baseline", "candidate")  # a paired case's two models, in ``params`` as ``role=<role>``
STUDY_ROLES = dict(zip(ROLES, STUDY_PAIR.model_names))  # a run from before pairs were data named neither: the study's
# extra_info key -> stat of the ``paired_ratio`` rows: the per-round ratio's median and quartiles, and the
# estimate with its 95 % interval that the "faster" claim is decided on (sepbench.core.intervals.paired_ratio)
PAIRED_RATIO_STATS = {
    "ratio_median": "median",
    "ratio_q1": "q1",
    "ratio_q3": "q3",
    "ratio_estimate": "estimate",
    "ratio_low": "low",
    "ratio_high": "high",
}


def _pixels(extra: dict[str, Any]) -> str:
    """The input type a case's path was given; a run from before it was recorded gave float32."""
    return extra["pixels"] if extra.get("pixels") in INPUT_BYTES else "float32"


def _paired_rows(extra: dict[str, Any], labels: dict[str, Any], source: Path, bench: dict[str, Any]) -> list[dict[str, Any]]:
    """A paired separable/regular case (predict or the study-style evaluate): each model's median seconds
    over the rounds (``paired_10k_seconds`` / ``paired_eval_seconds``), the per-round ratio's median and
    quartiles and its 95 % interval (``paired_ratio``, no model; the interval's method in ``note``) and
    the number of rounds.  Its pytest-benchmark stats time the whole adaptive loop: not read."""
    workload = extra.get("workload")
    sources = extra.get("weights_source") if isinstance(extra.get("weights_source"), dict) else {}
    models = {role: extra.get(role) if isinstance(extra.get(role), str) else STUDY_ROLES[role] for role in ROLES}
    base = {
        **labels,
        "source_kind": "pytest-benchmark",
        "source_file": str(source),
        "backend": extra.get("backend"),
        "path": extra.get("path") or "default",
        "workload": workload,
        "batch_size": extra.get("batch_size"),
        "n_images": extra.get("n_images"),
        "benchmark": bench.get("fullname") or bench.get("name"),
        "params": None,
        "pair": extra.get("pair") if isinstance(extra.get("pair"), str) else None,
        "pixels": _pixels(extra),
    }
    out = []
    for role, model in models.items():
        v = to_float(extra.get(f"{model}_median_s"))
        if v is not None:
            out.append(
                {
                    **base,
                    "model": model,
                    "params": f"role={role}",
                    "weights_source": sources.get(model),
                    "metric": PAIRED_SECONDS[workload],
                    "stat": "value",
                    "value": v,
                    "unit": "seconds",
                }
            )
    out += _paired_ratio_rows(extra, base)
    return out


def _paired_ratio_rows(extra: dict[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    """A paired case's rows that belong to no model: the ratio's statistics, the rounds, the compute threads,
    the cores others used."""
    out = []
    note = "; ".join(str(extra[k]) for k in ("ratio_method", "ratio_note") if isinstance(extra.get(k), str) and extra[k]) or None
    for key, stat in PAIRED_RATIO_STATS.items():
        v = to_float(extra.get(key))
        if v is not None:
            out.append(
                {
                    **base,
                    "model": None,
                    "weights_source": None,
                    "metric": "paired_ratio",
                    "stat": stat,
                    "value": v,
                    "unit": "ratio",
                    "note": note,
                }
            )
    pairs = to_float(extra.get("pairs"))
    if pairs is not None:
        out.append({**base, "model": None, "weights_source": None, "metric": "pairs", "stat": "value", "value": pairs, "unit": "pairs"})
    threads = extra.get("threads")
    if isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1:  # the compute threads the rounds ran
        out.append(
            {
                **base,
                "model": None,
                "weights_source": None,
                "metric": "threads",
                "stat": "value",
                "value": float(threads),
                "unit": "threads",
            }
        )
    others = to_float(extra.get("others_cores"))
    if others is not None:  # the cores other processes used during the rounds; ``note``: why that was too many
        busy = extra.get("busy") if isinstance(extra.get("busy"), str) and extra.get("busy") else None
        out.append(
            {**base, "model": None, "weights_source": None, "metric": "others_cores", "stat": "value", "value": others, "unit": "cores"}
            | {"note": busy}
        )
    return out


def _seed_rows(extra: dict[str, Any], labels: dict[str, Any], source: Path, bench: dict[str, Any]) -> list[dict[str, Any]]:
    """The cached-seeds case: each seed's test accuracy and loss per model, as ``reproduce --seeds`` rows are
    (workload ``seeds``, the seed in ``params``), so the accuracy claim is decided on their interval."""
    benchmark = bench.get("fullname") or bench.get("name")
    common = {**labels, "source_kind": "pytest-benchmark", "source_file": str(source), "n_images": extra.get("n_images")}
    common |= {"backend": extra.get("trainer"), "weights_source": "trained", "benchmark": benchmark}
    return seed_rows(extra.get("per_seed"), common, lambda r: {})


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
    """The run's roofline probe (``machine_info["roofline"]``): GEMM GFLOP/s (its ``note``: the probe source that set
    it, where the run names one) and memory GB/s."""
    roof = (doc.get("machine_info") or {}).get("roofline")
    if not isinstance(roof, dict):
        return []
    floor_source = (roof.get("compute") or {}).get("floor_source")
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
            note = floor_source if metric == "roofline_gemm_gflops" and floor_source else None
            out.append({**base, "metric": metric, "stat": "value", "value": v, "unit": unit, "note": note})
    return out


def load_pytest_benchmark(doc: Any, source: Path) -> list[dict[str, Any]]:
    """Tidy rows of one pytest-benchmark run; raises ResultsError naming ``source`` if malformed."""
    if not is_pytest_benchmark(doc):
        raise ResultsError(f"{source}: not a pytest-benchmark JSON run (no 'machine_info' and 'benchmarks')")
    check(doc, "pytest_benchmark", source, "pytest-benchmark")  # sepbench/results/formats/pytest_benchmark.schema.json
    labels = _labels(doc)
    out: list[dict[str, Any]] = _roofline_rows(doc, labels, source)
    for bench in doc["benchmarks"]:
        stats = bench["stats"]
        extra = bench.get("extra_info") if isinstance(bench.get("extra_info"), dict) else {}
        params = bench.get("params") if isinstance(bench.get("params"), dict) else {}
        given = {**params, **extra}  # extra_info first, else the case's parameters
        pick = given.get
        workload = pick("workload") or ("evaluate" if "evaluate" in str(bench.get("group", "")) else "predict")
        if workload == WORKLOAD_SEEDS:
            out += _seed_rows(extra, labels, source, bench)
            continue
        if workload in PAIRED_SECONDS:
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
            "pixels": _pixels(extra),
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


def read_run(path: str | os.PathLike[str], warnings: list[str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One pytest-benchmark run file: its tidy table (:func:`load_pytest_benchmark`, times in seconds; a figure
    that cannot be one, or a count a built-in model's spec contradicts, dropped as the report drops it, with a
    line appended to ``warnings``) and its ``machine_info``; raises :class:`ResultsError` naming the file if it
    cannot be read."""
    path = Path(path)
    doc = read_json(path)
    rows, dropped = drop_implausible(load_pytest_benchmark(doc, path))
    if warnings is not None:
        warnings.extend(dropped)
    return frame(rows), doc["machine_info"]
