"""The trained-weight cache: train once, reuse everywhere (benchmarks, reports, reproduce).

Layout: ``cache_dir()/trained/<backend>/<model>-seed<seed>-<key>.npz`` (trained portable weights)
and ``...-<key>.opt.npz`` (the RMSprop velocities after training, Keras layout, for the HDF5 file
with optimizer state).  ``key`` is the first 16 hex digits of a sha256 over the recipe
(:meth:`Recipe.as_dict`), seed, backend, model and :func:`training_code_hash` (the code, without docstrings
or comments, of the modules that decide training and load its data), so changing any of them trains anew.
Writes are atomic (:meth:`PortableWeights.save`).  Entries are always trained on the full training set
(MNIST's 60,000 images, or a pair's own training files).
"""

from __future__ import annotations

import ast
import hashlib
import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from sepbench.core.pairs import STUDY_PAIR, Pair, model_spec
from sepbench.core.recipe import Recipe
from sepbench.core.spec import ModelSpec
from sepbench.core.weights import PortableWeights, WeightsError
from sepbench.util.paths import cache_dir

# modules whose code decides the trained weights, per backend: the recipe, the trainers, the weights' layout,
# the models, and the loading and scaling of the training data (MNIST's and a pair's own files); the inference
# modules are not included: they only build the model and move weights, which the parity tests pin down
_COMMON_CODE = (
    "sepbench.core.recipe",
    "sepbench.training.trainers",
    "sepbench.core.weights",
    "sepbench.core.spec",
    "impls.train_common",
    "sepbench.core.data",
    "sepbench.core.pair_data",
    "sepbench.core.pixels",
)
_BACKEND_CODE = {
    "numpy": ("impls.train_numpy", "impls.numpy_grad"),
    "torch": ("impls.train_torch", "impls.torch_backend"),  # the modules it trains are built there
    "tensorflow": ("impls.train_tensorflow", "impls.tensorflow_backend"),  # the Keras layers (SpatialSeparableConv2D) too
}


def training_modules(backend: str) -> tuple[str, ...]:
    """The modules whose code :func:`training_code_hash` keys ``backend``'s trained weights on."""
    return (*_COMMON_CODE, *_BACKEND_CODE.get(backend, ()))


class _NoDocstrings(ast.NodeTransformer):
    """Drops every statement that is a bare string (a docstring, or a string left as a comment): it does nothing."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and all(isinstance(s, ast.stmt) for s in body):
            kept = [
                s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))
            ]
            node.body = kept or [ast.Pass()]  # type: ignore[attr-defined]
        return node


def code_key(source: str) -> str:
    """sha256 (hex) of a module's code: its syntax tree without docstrings, written back as source
    (:func:`ast.unparse`), so a comment, a docstring or the layout may change without changing the key."""
    tree = _NoDocstrings().visit(ast.parse(source))
    return hashlib.sha256(ast.unparse(tree).encode()).hexdigest()


@cache
def training_code_hash(backend: str) -> str:
    """sha256 (hex) of the code that trains ``backend`` (:func:`training_modules`, each by :func:`code_key`; read,
    not imported: no framework needed).  Only code counts: editing a docstring or a comment keeps every cached
    entry, while a change to the code of any of these modules changes the key of every entry, so each model is
    retrained once (on first use).  A Python whose :func:`ast.unparse` writes some code otherwise may do so too."""
    import importlib.util

    from impls.registry import check_backend_name

    check_backend_name(backend)
    h = hashlib.sha256()
    for module in training_modules(backend):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"training code {module} not found: is sepbench installed completely?")
        h.update(module.encode())
        h.update(code_key(Path(spec.origin).read_text(encoding="utf-8")).encode())
    return h.hexdigest()


# the study's models were cached before the key held the layers (their layers are fixed in the code, whose
# hash is in the key): their keys still hold no layers, so an entry stays valid while the hashed code does
LEGACY_KEYED_MODELS = STUDY_PAIR.model_names


Model = str | ModelSpec  # a built-in model's name, or (with its pair) a pair's model by name or spec


def training_pair(pair: Pair | None) -> Pair:
    """The pair whose recipe and data train a model: ``pair``, or the study's for a built-in model without one
    (the default recipe, MNIST); :class:`~sepbench.core.pairs.PairError` for a pair whose data files were not
    read (:meth:`Pair.check_data_read`: it must not train, or be keyed, as if on MNIST)."""
    return STUDY_PAIR if pair is None else pair.check_data_read()


def recipe_of(pair: Pair | None, recipe: Recipe | None = None) -> Recipe:
    """``recipe`` where given, else the pair's (:func:`training_pair`: the default one for a built-in model)."""
    pair = training_pair(pair)
    return recipe or pair.recipe


def cache_key(model: Model, backend: str, seed: int = 0, recipe: Recipe | None = None, pair: Pair | None = None) -> str:
    """16 hex digits naming a trained-weights entry: ``model`` (one of ``pair``'s where a pair is given, else a
    built-in one) trained by ``backend`` with ``recipe`` (None: the pair's, :attr:`Pair.recipe`) on the pair's data."""
    spec = model_spec(model, pair)
    doc = {
        "recipe": recipe_of(pair, recipe).as_dict(),  # refuses a pair whose data files were not read
        "seed": int(seed),
        "backend": backend,
        "model": spec.name,
        "code": training_code_hash(backend),
    }
    if spec.name not in LEGACY_KEYED_MODELS:  # a pair file's model may change under its name: its layers key it too
        doc["layers"] = spec.fingerprint()
    if pair is not None and pair.files is not None:  # a pair file's own data: what the weights were trained on
        doc["data"] = pair.files.key()
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def trained_dir() -> Path:
    return cache_dir() / "trained"


def cache_path(model: Model, backend: str, seed: int = 0, recipe: Recipe | None = None, pair: Pair | None = None) -> Path:
    """Where the trained weights of this (model, backend, seed, recipe, data, code) live."""
    name = model_spec(model, pair).name
    return trained_dir() / backend / f"{name}-seed{int(seed)}-{cache_key(model, backend, seed, recipe, pair)}.npz"


def _opt_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(".npz")] + ".opt.npz")


def _load_or_none(path: Path, spec: ModelSpec) -> PortableWeights | None:
    """The weights file at ``path`` (of ``spec``'s model, or another built-in one), or ``None`` when absent or
    unreadable (then: train again)."""
    if not path.exists():
        return None
    try:
        return PortableWeights.load(path, spec)
    except WeightsError:
        return None


def load_trained_weights(
    model: Model, backend: str, seed: int = 0, recipe: Recipe | None = None, pair: Pair | None = None
) -> PortableWeights | None:
    """The cached trained weights, or ``None`` when absent, unreadable or another model's (then: train again;
    a file copied over the entry must not be measured and reported as this model's)."""
    spec = model_spec(model, pair)
    path = cache_path(spec, backend, seed, recipe, pair)
    weights = _load_or_none(path, spec)
    if weights is not None and weights.model != spec.name:
        warnings.warn(f"{path} holds the weights of model {weights.model!r}, not {spec.name!r}: not used", RuntimeWarning, stacklevel=2)
        return None
    return weights


def load_trained_velocities(
    model: Model, backend: str, seed: int = 0, recipe: Recipe | None = None, pair: Pair | None = None
) -> PortableWeights | None:
    """The cached RMSprop velocities that go with :func:`load_trained_weights`, or ``None``."""
    spec = model_spec(model, pair)
    return _load_or_none(_opt_path(cache_path(spec, backend, seed, recipe, pair)), spec)


def check_storable(model: Model, backend: str, seed: int = 0, recipe: Recipe | None = None, pair: Pair | None = None) -> Path:
    """Where :func:`store` will write, checked writable before training (minutes of training must not end
    in a cache that cannot take them); :class:`sepbench.util.atomic.UnwritableError` otherwise."""
    from sepbench.util.atomic import check_writable

    return check_writable(cache_path(model, backend, seed, recipe, pair))


def store(result: Any, pair: Pair | None = None) -> Path:
    """Write a :class:`sepbench.training.trainers.TrainResult` (trained on the full data: ``pair``'s, MNIST
    without one) to the cache; returns the path."""
    path = cache_path(result.weights.spec, result.backend, result.seed, result.recipe, pair)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = result.weights.copy()
    weights.meta.update(
        {
            "cache_key": path.stem.rsplit("-", 1)[-1],
            "recipe": result.recipe.as_dict(),
            "train_seconds": result.seconds,
            "iterations": result.iterations,
            "final_loss": float(result.step_losses[-1]) if len(result.step_losses) else None,
        }
    )
    if result.velocities is not None:
        vel = result.velocities.copy()
        vel.meta.update({"iterations": result.iterations})
        vel.save(_opt_path(path))
    weights.save(path)  # last: its presence marks a complete entry
    return path


def train_and_cache(
    model: Model, backend: str, seed: int = 0, recipe: Recipe | None = None, progress: bool = True, pair: Pair | None = None
) -> PortableWeights:
    """The cached trained weights, training first if needed on the full training set: the pair's data
    (MNIST's 60,000 images without a pair, or for a pair on MNIST), with the pair's recipe."""
    spec = model_spec(model, pair)
    cached = load_trained_weights(spec, backend, seed, recipe, pair)
    if cached is not None:
        return cached
    from sepbench.training.trainers import train

    check_storable(spec, backend, seed, recipe, pair)
    x, y = training_pair(pair).load_split("train")
    result = train(backend, spec, x, y, recipe_of(pair, recipe), seed=seed, progress=progress)
    store(result, pair)
    return PortableWeights.load(cache_path(spec, backend, seed, recipe, pair), spec)
