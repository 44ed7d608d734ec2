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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sepbench.core.claims import Verdict
from sepbench.core.pairs import STUDY_PAIR
from sepbench.core.recipe import VARIANTS, Recipe
from sepbench.core.spec import get_model_spec
from sepbench.util.timer import time_calls

MODEL_ORDER = STUDY_PAIR.model_names  # the study published figures for its two models
TABLE_METRICS = ("params", "hdf5_bytes", "float32_bytes", "test_loss", "test_accuracy", "eval_seconds")


@dataclass
class ReproduceOptions:
    backends: list[str] | None = None  # None: every registered backend (unavailable ones skipped with a reason)
    models: list[str] = field(default_factory=lambda: list(MODEL_ORDER))
    seed: int = 0
    seeds: int = 1  # > 1: also train seeds seed .. seed+seeds-1 in the fastest trainer, for accuracy with an interval
    epochs: int | None = None  # None: the recipe's
    threads: int | None = None  # None: all usable cores
    limit: int | None = None  # first N training images (None: all 60,000; only then the cache is used)
    test_limit: int | None = None  # first N test images (None: all 10,000)
    variant: str = "keras3"
    eval_repeats: int = 3
    use_cache: bool = True
    progress: bool = True
    data_dir: str | None = None

    def recipe(self) -> Recipe:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown recipe variant {self.variant!r}; known: {', '.join(VARIANTS)}")
        recipe = VARIANTS[self.variant]
        return recipe.with_(epochs=self.epochs) if self.epochs is not None else recipe


def check_options(opts: ReproduceOptions) -> tuple[list[str], list[dict[str, str]]]:
    """Validate the options; returns (backends to run, skipped backends with reasons)."""
    from impls.registry import backend_names, unavailable_reason

    known = backend_names()
    if opts.backends is not None and not opts.backends:
        raise ValueError(f"--backends names no backend; give some of: {', '.join(known)} (or leave it out for all)")
    if not opts.models:
        raise ValueError("--models names no model; give regular, separable or both")
    names = opts.backends or known
    bad = [b for b in names if b not in known]
    if bad:
        raise ValueError(f"unknown backend(s) {', '.join(map(repr, bad))}; known backends: {', '.join(known)}")
    for m in opts.models:
        get_model_spec(m)  # raises UnknownModelError with the known names
    for name, value in (("limit", opts.limit), ("test_limit", opts.test_limit), ("epochs", opts.epochs), ("threads", opts.threads)):
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if opts.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {opts.seed}")
    if opts.eval_repeats < 1:
        raise ValueError("eval_repeats must be >= 1")
    if opts.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {opts.seeds}")
    opts.recipe()
    run, skipped = [], []
    for b in dict.fromkeys(names):
        reason = unavailable_reason(b)
        if reason is None:
            run.append(b)
        else:
            skipped.append({"backend": b, "reason": reason})
    return run, skipped


def _train_or_load(backend: str, model: str, x: np.ndarray, y: np.ndarray, opts: ReproduceOptions, recipe: Recipe) -> dict[str, Any]:
    from sepbench.training import weights_cache as trained
    from sepbench.training.trainers import train, trainer_for

    backend = trainer_for(backend)

    full = opts.limit is None
    if full and opts.use_cache:
        weights = trained.load_trained_weights(model, backend, opts.seed, recipe)
        if weights is not None:
            return {
                "weights": weights,
                "velocities": trained.load_trained_velocities(model, backend, opts.seed, recipe),
                "iterations": int(weights.meta.get("iterations", 0) or 0),
                "train_seconds": weights.meta.get("train_seconds"),
                "source": "cache",
                "trained_by": backend,
                "final_loss": weights.meta.get("final_loss"),
            }
    if full:
        trained.check_storable(model, backend, opts.seed, recipe)
    result = train(backend, model, x, y, recipe, seed=opts.seed, progress=opts.progress)
    if full:
        trained.store(result)
    return {
        "weights": result.weights,
        "velocities": result.velocities,
        "iterations": result.iterations,
        "train_seconds": result.seconds,
        "source": "trained",
        "trained_by": backend,
        "final_loss": float(result.step_losses[-1]) if len(result.step_losses) else None,
    }


def _hdf5_bytes(trained_: dict[str, Any], recipe: Recipe, workdir: Path) -> int | None:
    from impls.registry import unavailable_reason

    if unavailable_reason("tensorflow") is not None:
        return None
    from impls.keras_h5 import save_h5_with_optimizer

    return save_h5_with_optimizer(trained_["weights"], trained_["velocities"], trained_["iterations"], recipe, workdir / "model.h5")


def measure(
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
        trained[key] = _train_or_load(backend, model, x, y, opts, recipe)
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
        "hdf5_bytes": _hdf5_bytes(t, recipe, workdir),
        "native_bytes": native.stat().st_size,
        "native_format": suffix,
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
    from sepbench.core.intervals import Estimate
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results

    backends, skipped = check_options(opts)
    if not backends:
        raise ValueError("no backend to run: " + "; ".join(f"{s['backend']}: {s['reason']}" for s in skipped))
    recipe = opts.recipe()
    thread_warnings = _configure_threads(opts.threads, backends)
    x, y = load_mnist("train", opts.data_dir, limit=opts.limit)
    xt, yt = load_mnist("test", opts.data_dir, limit=opts.test_limit)
    rows: list[dict[str, Any]] = []
    trained: dict[tuple[str, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sepbench-reproduce-") as tmp:
        for backend in backends:
            for model in opts.models:
                rows.append(measure(backend, get_model_spec(model).name, x, y, xt, yt, opts, recipe, Path(tmp), trained))
    seeds = _seed_study(x, y, xt, yt, opts, recipe) if opts.seeds > 1 else None
    # "faster" needs paired rounds, which the measure layer (nox -s bench) makes; reproduce's medians of
    # separate evaluate calls do not decide it
    speed: dict[str, Any] = {}
    claims = {}
    subset = not_comparable(len(x), len(xt))
    costs = seeds["summary"].get("cost_points_per_seed") if seeds is not None and not subset.get("small_accuracy_cost") else None
    for backend in backends:
        figs = figures_of(rows, backend)
        if all(m in figs.get("params", {}) for m in MODEL_ORDER):
            paired = speed.get(backend)
            est = (Estimate.from_dict(paired["estimate"]), {k: v for k, v in paired.items() if k != "estimate"}) if paired else None
            evidence, missing, point_decides = claim_evidence(figs, est, costs)
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
    doc["speed"] = speed
    if seeds is not None:
        doc["seeds"] = seeds
    doc["skipped"] = skipped
    doc["thread_warnings"] = thread_warnings
    return doc


def _seed_study(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, opts: ReproduceOptions, recipe: Recipe) -> dict[str, Any]:
    """Each model trained with ``opts.seeds`` seeds in the fastest trainer (cached on the full data),
    evaluated on the test images: per-seed rows and :func:`sepbench.core.seed_stats.summarize_seeds`."""
    from impls.registry import get_backend
    from sepbench.core.claims import decide, not_comparable
    from sepbench.core.seed_stats import summarize_seeds
    from sepbench.core.study import STUDY
    from sepbench.training.trainers import shared_trainer

    trainer = shared_trainer()
    per_seed = []
    for seed in range(opts.seed, opts.seed + opts.seeds):
        for model in opts.models:
            t = _train_or_load(trainer, get_model_spec(model).name, x, y, _with_seed(opts, seed), recipe)
            ev = get_backend("numpy").build(t["weights"]).evaluate(xt, yt, batch_size=1000)
            per_seed.append(
                {
                    "seed": seed,
                    "model": model,
                    "trainer": trainer,
                    "test_accuracy": ev.accuracy,
                    "test_loss": ev.loss,
                    "weights_source": t["source"],
                    "weights_sha256": t["weights"].fingerprint(),
                }
            )
    summary = summarize_seeds(per_seed, STUDY)
    subset = not_comparable(len(x), len(xt)).get("small_accuracy_cost")
    if subset and "claim" in summary:
        summary["claim"] = decide("small_accuracy_cost", None, not_comparable=subset).as_dict()
    return {"trainer": trainer, "seeds": list(range(opts.seed, opts.seed + opts.seeds)), "per_seed": per_seed, "summary": summary}


def _with_seed(opts: ReproduceOptions, seed: int) -> ReproduceOptions:
    from dataclasses import replace

    return replace(opts, seed=seed)


def _configure_threads(threads: int | None, backends: list[str]) -> list[str]:
    """Set threads for every backend before any runs; returns warnings (e.g. TensorFlow already
    started in this process, so its thread pools keep their size -- recorded, not hidden)."""
    from sepbench.machine.threads import configure_threads

    warnings: list[str] = []
    configure_threads(threads, [b for b in backends if b != "tensorflow"])
    if "tensorflow" in backends:
        try:
            configure_threads(threads, ["tensorflow"])
        except RuntimeError as exc:
            warnings.append(f"tensorflow: {exc}; its thread settings are recorded as in force")
    return warnings


def default_output_path() -> Path:
    """A new, unique ``reproduce-<UTC time>.json`` in the results directory (reserved at once: two runs
    finishing in the same second get two files)."""
    from sepbench.util.atomic import unique_path
    from sepbench.util.paths import results_dir

    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return unique_path(results_dir(), f"reproduce-{stamp}", ".json")


# ---- the printed table --------------------------------------------------------------------
def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "params":
        return f"{value:,.0f}"
    if metric.endswith("_bytes"):
        return f"{value / 1024:,.2f} KiB"
    if metric == "eval_seconds":
        return f"{value:.3f} s"
    return f"{value:.4f}"


def _ratio(values: dict[str, float | None]) -> str:
    reg, sep = (values.get(m) for m in STUDY_PAIR.model_names)
    if reg is None or sep is None or reg == 0:
        return "-"
    return f"{sep / reg:.3f}"


def print_report(doc: dict[str, Any], console: Any = None) -> None:
    """The study-vs-measured table, one column group per backend, then the claims per backend."""
    from rich.console import Console
    from rich.table import Table

    from sepbench.core.study import STUDY

    console = console or Console(width=200)
    rows = doc["rows"]
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    models = [m for m in MODEL_ORDER if any(r["model"] == m for r in rows)]
    recipe = doc.get("recipe") or {}
    data = doc["provenance"].get("reproduce") or {}
    table = Table(
        title=f"Study vs measured (recipe {recipe.get('epsilon_placement', '?')}, {recipe.get('epochs', '?')} epochs, "
        f"seed {doc['provenance'].get('seed')}, {data.get('train_images', '?')} training / {data.get('test_images', '?')} test images)",
        title_justify="left",
    )
    # one column per source, each cell "regular / separable (sep/reg)": readable with five backends
    table.add_column(" / ".join(models) + (" (sep/reg)" if len(models) == 2 else ""))
    for group in ("study", *backends):
        table.add_column(group, justify="right")
    for metric in TABLE_METRICS:
        cells = [metric]
        for b in ("study", *backends):
            values = STUDY.get(metric, {}) if b == "study" else {r["model"]: r.get(metric) for r in rows if r["backend"] == b}
            cell = " / ".join(_fmt(metric, values.get(m)) for m in models)
            cells.append(f"{cell} ({_ratio(values)})" if len(models) == 2 and values else cell)
        table.add_row(*cells)
    console.print(table)
    claims = doc.get("claims") or {}
    if claims:
        ct = Table(title="The study's claims, per backend (this run)", title_justify="left")
        ct.add_column("backend")
        ct.add_column("claim")
        ct.add_column("verdict (estimate [95 % interval])")
        ct.add_column("method")
        for b, verdicts in claims.items():
            for v in verdicts:
                verdict = Verdict.from_dict(v)
                ct.add_row(b, verdict.claim, verdict.cell(), verdict.method or verdict.note)
        console.print(ct)
    if doc.get("seeds"):
        _print_seeds(doc["seeds"], console)
    for w in doc.get("thread_warnings") or []:
        console.print(f"warning: {w}")
    for s in doc.get("skipped") or []:
        console.print(f"skipped backend {s['backend']}: {s['reason']}")


def _print_seeds(seeds: dict[str, Any], console: Any) -> None:
    """Accuracy over seeds: per model the mean with its 95 % interval beside the study's single figure,
    then the paired cost and the claim decided on it."""
    from rich.table import Table

    summary = seeds["summary"]
    table = Table(
        title=f"Test accuracy over {len(seeds['seeds'])} seeds ({seeds['trainer']} trainer; 95 % t intervals)", title_justify="left"
    )
    for col in ("model", "accuracy mean", "95 % interval", "sd", "loss mean (interval)", "study", "study vs ours", "per seed"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for model, m in summary["models"].items():
        acc, loss = m["test_accuracy"], m["test_loss"]
        per = " ".join(f"{r['test_accuracy']:.4f}" for r in seeds["per_seed"] if r["model"] == model)
        z = m.get("study_z")
        where = f"z {z:+.1f}, {m.get('seeds_below_study')} of {acc['n']} seeds below" if z is not None else "-"
        table.add_row(
            model,
            f"{acc['mean']:.4f}",
            f"{acc['low']:.4f} - {acc['high']:.4f}",
            f"{acc['sd']:.4f}",
            f"{loss['mean']:.4f} ({loss['low']:.4f} - {loss['high']:.4f})",
            f"{m.get('study_accuracy') or 0:.4f}",
            where,
            per,
        )
    console.print(table)
    if "claim" in summary:
        c = Verdict.from_dict(summary["claim"])
        console.print(f"a little accuracy (on the interval of regular - separable): {c.cell()} ({c.method})")
