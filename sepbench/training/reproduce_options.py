"""``sepbench reproduce``'s options: what a run trains and measures, checked before any work, and its threads."""

from __future__ import annotations

from dataclasses import dataclass, field

from sepbench.core.pairs import STUDY_PAIR
from sepbench.core.recipe import VARIANTS, Recipe
from sepbench.core.spec import get_model_spec

MODEL_ORDER = STUDY_PAIR.model_names  # the study published figures for its two models


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
    from sepbench.core.budget import check_batch

    for m in opts.models:
        spec = get_model_spec(m)  # raises UnknownModelError with the known names
        for option, images in (("--limit", opts.limit), ("--test-limit", opts.test_limit)):
            if images is not None:  # held at once (loaded, then batched): the batch budget, as profile's --chunk
                check_batch(spec, images, option)
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


def configure_run_threads(threads: int | None, backends: list[str]) -> list[str]:
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
