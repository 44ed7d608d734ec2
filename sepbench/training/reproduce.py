"""``sepbench reproduce``: train both models in each backend, measure what the study measured,
and put the study's figures beside ours.

Per backend and model (one row of :data:`sepbench.results.schema.REPRODUCE_ROW_FIELDS`):

* train with the recipe (or reuse the trained-weight cache when training on the full data);
* ``test_loss`` / ``test_accuracy``: ``InferenceModel.evaluate`` on the 10,000 test images at
  batch 32 (Keras: compiled ``model.evaluate``, as the study);
* ``eval_seconds``: wall time of that evaluation, after one untimed warm-up call (median of
  ``eval_repeats`` timed calls);
* ``hdf5_bytes``: the trained weights in the Keras model, compiled with the recipe's RMSprop, the
  optimizer holding this backend's own RMSprop state after training, saved with
  ``model.save(".h5")`` (:mod:`impls.keras_h5`; needs TensorFlow, else ``None``);
* ``float32_bytes`` (params x 4), ``native_bytes`` of the backend's own file.

Threads are configured with :func:`sepbench.machine.threads.configure_threads` before any backend runs.
"""

from __future__ import annotations

import datetime as _dt
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sepbench.core.recipe import Recipe
from sepbench.core.spec import get_model_spec
from sepbench.training.reproduce_options import MODEL_ORDER, ReproduceOptions, check_options, configure_run_threads
from sepbench.training.seed_spread import seed_spread
from sepbench.training.train_or_load import hdf5_bytes, train_or_load
from sepbench.training.trainer_choice import available_trainers
from sepbench.util.timer import time_calls

__all__ = ["MODEL_ORDER", "ReproduceOptions", "check_options", "default_output_path", "measure_model", "run_reproduce"]
TABLE_METRICS = ("params", "hdf5_bytes", "float32_bytes", "test_loss", "test_accuracy", "eval_seconds")


def measure_model(
    backend: str,
    model: str,
    x: np.ndarray,
    y: np.ndarray,
    xt: np.ndarray,
    yt: np.ndarray,
    opts: ReproduceOptions,
    recipe: Recipe,
    workdir: Path,
    trained: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Train (or load) and measure one backend x model; returns a results row.  ``trained`` keeps this
    run's weights per (trainer, model), so runtimes that borrow a trainer do not train again."""
    from impls.registry import get_backend
    from sepbench.training.trainers import trainer_for

    trained = {} if trained is None else trained
    key = (trainer_for(backend), model)
    if key not in trained:
        trained[key] = train_or_load(backend, model, x, y, opts, recipe)
    t = trained[key]
    m = get_backend(backend).build(t["weights"])
    m.evaluate(xt[:32], yt[:32], batch_size=32)  # warm-up (tracing, first-call costs), untimed
    timing = time_calls(lambda: m.evaluate(xt, yt, batch_size=32), repeat=opts.eval_repeats)
    times, ev = list(timing.samples), timing.result
    suffix = type(m).native_suffixes[0]
    native = m.save_native(workdir / f"{backend}-{model}{suffix}")
    params = m.count_params()
    return {
        "backend": backend,
        "model": model,
        "params": params,
        "float32_bytes": 4 * t["weights"].num_params,
        "hdf5_bytes": hdf5_bytes(t, recipe, workdir),
        "native_bytes": m.native_bytes(native),
        "native_format": "+".join(f.suffix for f in m.native_files(native)),
        "test_loss": ev.loss,
        "test_accuracy": ev.accuracy,
        "test_images": ev.n,
        "eval_seconds": statistics.median(times),
        "eval_seconds_all": times,
        "train_seconds": t["train_seconds"],
        "train_images": len(x),
        "epochs": recipe.epochs,
        "weights_source": t["source"],
        "trained_by": t["trained_by"],
        "final_train_loss": t["final_loss"],
        "weights_sha256": t["weights"].fingerprint(),
    }


def figures_of(rows: list[dict[str, Any]], backend: str) -> dict[str, dict[str, float | None]]:
    """``figures[metric][model]`` of one backend (the shape :func:`sepbench.core.claims.decide_claims` takes)."""
    out: dict[str, dict[str, float | None]] = {}
    for row in rows:
        if row["backend"] != backend:
            continue
        for metric in (*TABLE_METRICS, "native_bytes"):
            out.setdefault(metric, {})[row["model"]] = row.get(metric)
    return out


def run_reproduce(opts: ReproduceOptions) -> dict[str, Any]:
    """Configure threads, train and measure, decide the claims; returns the results document."""
    from sepbench.core.claims import decide_claims, not_comparable
    from sepbench.core.data import load_mnist
    from sepbench.core.evidence import claim_evidence
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results

    backends, skipped = check_options(opts)
    if not backends:
        raise ValueError("no backend to run: " + "; ".join(f"{s['backend']}: {s['reason']}" for s in skipped))
    recipe = opts.recipe()
    # the seed spread probes every trainer (TensorFlow's among them) after the backends ran: their threads are
    # set now, before any framework's first op, or TensorFlow's pools would already be fixed at their default
    trainers = available_trainers() if opts.seeds > 1 else []
    thread_warnings = configure_run_threads(opts.threads, list(dict.fromkeys([*backends, *trainers])))
    x, y = load_mnist("train", opts.data_dir, limit=opts.limit)
    xt, yt = load_mnist("test", opts.data_dir, limit=opts.test_limit)
    rows: list[dict[str, Any]] = []
    trained: dict[tuple[str, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sepbench-reproduce-") as tmp:
        for backend in backends:
            for model in opts.models:
                rows.append(measure_model(backend, get_model_spec(model).name, x, y, xt, yt, opts, recipe, Path(tmp), trained))
    seeds = seed_spread(x, y, xt, yt, opts, recipe) if opts.seeds > 1 else None
    # "faster" needs paired rounds, which the measure layer (nox -s bench) makes; reproduce's medians of
    # separate evaluate calls do not decide it: no speed estimate here
    claims = {}
    subset = not_comparable(len(x), len(xt))
    costs = seeds["summary"].get("cost_points_per_seed") if seeds is not None and not subset.get("small_accuracy_cost") else None
    for backend in backends:
        figs = figures_of(rows, backend)
        if all(m in figs.get("params", {}) for m in MODEL_ORDER):
            evidence, missing, point_decides = claim_evidence(figs, None, costs)
            verdicts = decide_claims(evidence, missing=missing, subset=subset, point_decides=point_decides)
            claims[backend] = [v.as_dict() for v in verdicts]
    provenance = collect_provenance(
        opts.seed,
        extra={
            "reproduce": {
                "backends": backends,
                "models": opts.models,
                "train_images": len(x),
                "test_images": len(xt),
                "eval_batch_size": 32,
                "eval_repeats": opts.eval_repeats,
                "variant": opts.variant,
            },
            "skipped": skipped,
            "thread_warnings": thread_warnings,
        },
    )
    doc = make_results("reproduce", rows, provenance, recipe.as_dict())
    doc["claims"] = claims
    doc["speed"] = {}  # the format keeps the field: speed is decided by the benchmark runs
    if seeds is not None:
        doc["seeds"] = seeds
    doc["skipped"] = skipped
    doc["thread_warnings"] = thread_warnings
    return doc


def default_output_path() -> Path:
    """A new, unique ``reproduce-<UTC time>.json`` in the results directory (reserved at once: two runs
    finishing in the same second get two files)."""
    from sepbench.util.atomic import unique_path
    from sepbench.util.paths import results_dir

    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return unique_path(results_dir(), f"reproduce-{stamp}", ".json")
