"""The case matrix of the pytest-benchmark suite, and the figures it shares with the ASV suite.

Models, batch sizes, the test-set size and the backend selection are defined here once; both
``tests/bench`` (through :mod:`sepbench.bench.plugin`) and ``benchmarks/common.py`` read them.
Importing this module imports no framework and not pytest (ASV imports its suite to discover it).

A case's ``id`` and ``group`` key saved runs (``--compare``, the report): changing either cuts the
history; ``tests/test_identifiers.py`` pins the ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sepbench.core.data import TEST_IMAGES
from sepbench.core.pairs import STUDY_PAIR, Pair, case_model, synthetic_model
from sepbench.core.spec import ModelSpec

ASV_MODELS: tuple[str, ...] = STUDY_PAIR.model_names  # the models the ASV suite times (its history is keyed by them)
LATENCY_BATCHES = (1, 32, 10_000)  # predict of one batch of this many images
TEN_K_BATCHES = (32, 1024)  # predict of 10,000 images in batches of this size ("the fastest way" candidates)
QUICK_LATENCY_BATCHES = (1, 32)
QUICK_TEN_K_BATCHES = (1024,)
EVALUATE_BATCH = 32  # the study's Keras evaluate batch size
PAIRED_BATCH = 1024  # the default path's batch size in the paired cases (batch-free paths ignore it)
SEEDS_BATCH = 1000  # the seeds case evaluates each seed's weights at this batch (accuracy does not depend on it)

MATRIX_KINDS = ("predict", "graph-forward-10k")  # the latency matrix: only with --full (or --quick's smoke set)
# single-process latencies a default job short of cores does not time: beside other processes they are the
# load's times and decide nothing, while a first busy run had time for 3 processes of the paired cases where
# the verdict wanted more (its evaluate stays: the accuracy claim reads it)
BUSY_SKIPPED_KINDS = ("predict-10k",)
PAIR = case_model(STUDY_PAIR)  # the ``model`` of the study pair's paired cases: both models, in rounds
PAIRED_KINDS = ("paired-10k", "paired-evaluate-10k", "paired-train")  # both models in paired rounds: they decide the speed claims
# kinds of case, and the test fixture each one parametrizes
KIND_FIXTURES = {
    "predict": "predict_case",
    "predict-10k": "predict_10k_case",
    "evaluate-10k": "evaluate_case",
    "graph-forward-10k": "graph_forward_case",
    "paired-10k": "paired_case",
    "paired-evaluate-10k": "paired_evaluate_case",
    "paired-train": "paired_train_case",
    "seeds-accuracy": "seeds_case",
}


@dataclass(frozen=True)
class Case:
    """One benchmark: ``kind`` is one of :data:`KIND_FIXTURES`: "predict" (one batch), "predict-10k",
    "evaluate-10k", "graph-forward-10k" (TensorFlow only: the compute inside Keras's evaluate), "paired-10k"
    (both models' predict in paired rounds on one backend path, ``model`` = "pair": their time ratio),
    "paired-evaluate-10k" (the study-style evaluate of both models in paired rounds), "paired-train"
    (both models' training steps in paired rounds) or "seeds-accuracy" (each seed's weights evaluated).
    ``batch_size`` and ``n_images`` count images."""

    kind: str
    backend: str
    model: str
    path: str
    batch_size: int
    n_images: int
    pair: Pair = STUDY_PAIR  # the pair a paired case (or the seeds case) compares; a one-model case's: the pair it is of

    @property
    def group(self) -> str:
        """pytest-benchmark's group: the cases compared side by side in its table."""
        if self.kind in PAIRED_KINDS or self.kind == "seeds-accuracy":
            return f"{self.pair.label()} {self.kind}"
        return f"{self.model} batch={self.batch_size}" if self.kind == "predict" else f"{self.model} {self.kind}"

    @property
    def id(self) -> str:
        """The parametrization id: ``<backend>-<model>-<path>-b<batch>-n<images>``."""
        return f"{self.backend}-{self.model}-{self.path}-b{self.batch_size}-n{self.n_images}"


def select_backends(requested: str | None) -> list[str]:
    """Backends named in a comma-separated list (blank or ``None``: every registered one), in that order.

    Raises :class:`impls.registry.UnknownBackendError` for a name the registry does not know.
    """
    from impls.registry import UnknownBackendError, backend_names

    known = list(backend_names())
    if not requested or not requested.strip():
        return known
    names = [b.strip() for b in requested.split(",") if b.strip()]
    unknown = [b for b in names if b not in known]
    if unknown:
        raise UnknownBackendError(f"unknown backend(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return names


@dataclass
class PathCatalog:
    """Each model class's inference paths, read from the class (so a path added to a backend is
    benchmarked automatically); a backend that cannot load here gets the ``default`` path only."""

    unavailable: dict[str, str]  # backend -> why it is skipped
    _paths: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (backend, model) -> paths
    _batch_free: set[tuple[str, str, str]] = field(default_factory=set)  # (backend, model, path) whose work ignores batch_size

    def paths(self, backend: str, model: str | ModelSpec) -> tuple[str, ...]:
        """The inference paths of ``model`` (a built-in model's name, or a pair's model) on ``backend`` (builds
        the model once to ask its class)."""
        key = (backend, model.name if isinstance(model, ModelSpec) else model)
        if key not in self._paths:
            if backend in self.unavailable:
                self._paths[key] = ("default",)
            else:
                from impls.registry import build_model

                cls = type(build_model(backend, model))
                self._paths[key] = tuple(cls.paths)
                self._batch_free.update({(*key, p) for p in cls.batch_free_paths})
        return self._paths[key]

    def batch_free(self, backend: str, model: str | ModelSpec, path: str) -> bool:
        """Whether ``path`` runs in its own chunks whatever the batch size (after :meth:`paths`)."""
        self.paths(backend, model)
        return (backend, model.name if isinstance(model, ModelSpec) else model, path) in self._batch_free


def cases(
    kind: str,
    backends: list[str],
    quick: bool,
    catalog: PathCatalog,
    pairs: list[Pair] | None = None,
    *,
    full: bool = True,
    short_of_cores: bool = False,
) -> list[Case]:
    """Every case of ``kind`` (a key of :data:`KIND_FIXTURES`) for ``backends`` and ``pairs`` (default:
    the study's); ``quick``: the CI smoke set; ``full=False`` (the default job, ``nox -s bench`` without
    ``--full``): what the verdict and the summary read, without the latency matrix (one batch size per
    path for 10,000 images, no per-batch predict, no graph forward).  A synthetic pair has no evaluate,
    training or seeds cases (no labels) and no Keras graph-forward case.  ``short_of_cores`` (the default
    job where other processes hold cores): no single-process 10,000-image predict either, its time going to
    more processes of the paired cases, which decide the speed claims (:data:`BUSY_SKIPPED_KINDS`)."""
    pairs = pairs or [STUDY_PAIR]
    if not full and not quick and (kind in MATRIX_KINDS or (short_of_cores and kind in BUSY_SKIPPED_KINDS)):
        return []
    labelled = [p for p in pairs if not p.synthetic]
    if kind == "paired-10k":
        return [c for p in pairs for c in _paired_cases(backends, quick, catalog, p)]
    if kind == "seeds-accuracy":  # accuracy over the cached training seeds (one case; NumPy evaluates)
        return [Case(kind, "numpy", PAIR, "seeds", SEEDS_BATCH, TEST_IMAGES)] if "numpy" in backends and STUDY_PAIR in pairs else []
    if kind == "paired-evaluate-10k":  # the study's measurement, both models in paired rounds: decides "faster" of the default path
        return [Case(kind, backend, case_model(p), "default", EVALUATE_BATCH, TEST_IMAGES, p) for p in labelled for backend in backends]
    if kind == "paired-train":  # "trains faster": both models' training steps on one trainer, in paired rounds
        from sepbench.core.recipe import TIMED_TRAIN_STEPS as steps
        from sepbench.core.recipe import TRAINERS

        return [Case(kind, b, case_model(p), "train", 32, steps * 32, p) for p in labelled for b in backends if b in TRAINERS]
    out: list[Case] = []
    for model in dict.fromkeys(m for p in pairs for m in p.model_names):
        synthetic = synthetic_model(model, pairs)
        pair = next(p for p in [*labelled, *pairs] if model in p.model_names)  # its labelled pair where it has one
        spec = pair.model(model)
        for backend in backends:
            if kind == "evaluate-10k":
                if not synthetic:
                    out.append(Case(kind, backend, model, "default", EVALUATE_BATCH, TEST_IMAGES, pair))
            elif kind == "graph-forward-10k":
                if backend == "tensorflow" and not synthetic:
                    out.append(Case(kind, backend, model, "graph", EVALUATE_BATCH, TEST_IMAGES, pair))
            else:
                for path in catalog.paths(backend, spec):
                    out += _predict_cases(kind, backend, model, path, quick, catalog.batch_free(backend, spec, path), full, pair)
    return out


def _paired_cases(backends: list[str], quick: bool, catalog: PathCatalog, pair: Pair) -> list[Case]:
    # quick: the fast (batch-free) paths only.  A labelled pair's default path is decided by its paired
    # study-style evaluate (sepbench.results.paired.PAIRED_WORKLOADS): its paired predict would decide nothing
    baseline = pair.baseline
    return [
        Case("paired-10k", backend, case_model(pair), path, PAIRED_BATCH, TEST_IMAGES, pair)
        for backend in backends
        for path in catalog.paths(backend, baseline)
        if (not quick or catalog.batch_free(backend, baseline, path)) and (pair.synthetic or path != "default")
    ]


def _predict_cases(
    kind: str, backend: str, model: str, path: str, quick: bool, batch_free: bool, full: bool = True, pair: Pair = STUDY_PAIR
) -> list[Case]:
    if kind == "predict":
        batches = QUICK_LATENCY_BATCHES if quick else LATENCY_BATCHES
        # a batch-free path's one batch of 10,000 is its predict-10k case: not twice
        return [Case(kind, backend, model, path, b, b, pair) for b in batches if not (batch_free and b == TEST_IMAGES)]
    # a batch-free path ignores the batch size: one case, not the same timing repeated
    # (the fastest of repeats of one measurement would be biased low)
    batches = QUICK_TEN_K_BATCHES if quick or batch_free or not full else TEN_K_BATCHES
    return [Case(kind, backend, model, path, b, TEST_IMAGES, pair) for b in batches]
