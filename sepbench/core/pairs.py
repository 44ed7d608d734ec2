"""Pairs as data: a baseline model, a candidate model, and the data they run on.

The study's claims compare two models; a :class:`Pair` names which two.  The built-in pairs are the
study's (:data:`STUDY_PAIR`), its models with spatially separable convolutions, and its worked example
(one layer on a 7x7x3 input, synthetic data: speed and size only).  A user's pair is a TOML file
(schema: ``sepbench/core/pair.schema.json``; examples in ``examples/pairs/``) read by
:func:`load_pair_file`, which names the file, the line and the field of any mistake.

Every backend builds every model of the built-in pairs; the main job (``nox -s bench``) measures the
pairs of :data:`DEFAULT_BENCH_PAIRS` unless told others (``--pairs study,FILE.toml``).  A pair's
paired cases are named by :func:`case_model` (``pair`` for the study's: the name its saved history
is keyed by).
"""

from __future__ import annotations

import functools
import json
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sepbench.core.budget import check_model
from sepbench.core.pair_data import FileData, PairDataError, file_data
from sepbench.core.recipe import DEFAULT_RECIPE, Recipe
from sepbench.core.spec import MODELS, SPEC_ONLY_MODELS, LayerSpec, ModelSpec, UnknownModelError, described_model_spec, get_model_spec
from sepbench.core.toml_lines import dotted, line_of
from sepbench.util.inputs import NotRegularFileError, TooLargeError, read_regular
from sepbench.util.nesting import check_nesting
from sepbench.util.oserrors import reason

MAX_PAIR_FILE_BYTES = 1 << 20  # a pair file is a few hundred bytes
MNIST_SHAPE, MNIST_CLASSES = (28, 28, 1), 10


class PairError(ValueError):
    """A pair that cannot be used; the message names the pair or the file, line and field."""


@dataclass(frozen=True)
class Pair:
    """Two models to compare: ``candidate`` against ``baseline``, on ``data`` (``mnist``: every claim;
    ``synthetic``: speed and size only, no accuracy; ``files``: the user's labelled ``files``, every claim)."""

    name: str
    baseline: ModelSpec
    candidate: ModelSpec
    data: str = "mnist"
    epochs: int | None = None  # None: the default recipe's
    description: str = ""
    files: FileData | None = None  # data == "files": the pair's own IDX or .npz files, each with its sha256

    @property
    def models(self) -> tuple[ModelSpec, ModelSpec]:
        return (self.baseline, self.candidate)

    @property
    def model_names(self) -> tuple[str, str]:
        return (self.baseline.name, self.candidate.name)

    @property
    def synthetic(self) -> bool:
        """Synthetic input: no labels, so no training and no accuracy; speed and size only."""
        return self.data == "synthetic"

    @property
    def recipe(self) -> Recipe:
        """The recipe both models train with: the default one, with the pair's epochs where it sets some."""
        return DEFAULT_RECIPE if self.epochs is None else DEFAULT_RECIPE.with_(epochs=self.epochs)

    def model(self, name: str | ModelSpec) -> ModelSpec:
        """The pair's model of that name (a :class:`ModelSpec` is looked up by its name);
        :class:`~sepbench.core.spec.UnknownModelError` for a model the pair does not have."""
        key = name.name if isinstance(name, ModelSpec) else name
        for spec in self.models:
            if spec.name == key:
                return spec
        raise UnknownModelError(f"pair {self.name!r} has no model {key!r}; its models are {', '.join(self.model_names)}")

    def check_data_read(self) -> Pair:
        """The pair itself, when what its models train on is known: :class:`PairError` for a pair file read for
        its models only (``data_files=False``), whose own data files were not read (neither MNIST nor its
        data may stand in for them)."""
        if self.data == "files" and self.files is None:
            raise PairError(
                f"pair {self.name!r}: its data files were not read (the pair file was read for its models only): "
                "read it with its data to train, measure or cache its models"
            )
        return self

    def load_split(self, split: str, data_dir: str | Path | None = None, limit: int | None = None) -> tuple[Any, Any]:
        """The images and labels of ``split`` the pair's models train (``train``) and are evaluated (``test``) on
        (:meth:`check_data_read` first)."""
        return load_split(self.check_data_read().files, split, data_dir, limit)

    def label(self) -> str:
        """``candidate/baseline``: how tables name the ratio this pair is about."""
        return f"{self.candidate.name}/{self.baseline.name}"

    def ratio(self, attribute: str) -> float:
        """candidate / baseline of a model figure (``params``, ``macs``, ``float32_bytes``)."""
        return getattr(self.candidate, attribute) / getattr(self.baseline, attribute)


def _builtin(name: str, baseline: str, candidate: str, data: str, description: str) -> Pair:
    return Pair(name, described_model_spec(baseline), described_model_spec(candidate), data, None, description)


PAIRS: dict[str, Pair] = {
    "study": _builtin("study", "regular", "separable", "mnist", "the study: Conv2D vs SeparableConv2D (depthwise separable)"),
    "spatial": _builtin("spatial", "regular", "spatial", "mnist", "the study's models with spatially separable convolutions"),
    "example": _builtin("example", "example-regular", "example-separable", "synthetic", "the study's worked multiplication count"),
}
STUDY_PAIR = PAIRS["study"]
DEFAULT_BENCH_PAIRS: tuple[str, ...] = ("study", "spatial")  # what `nox -s bench` decides unless told otherwise
SYNTHETIC = "synthetic"  # a pair's data that decides speed and size only


def case_model(pair: Pair) -> str:
    """The ``model`` of a pair's paired benchmark cases: ``pair`` for the study's (as its history is keyed),
    ``pair-<name>`` for any other."""
    return "pair" if pair.name == STUDY_PAIR.name else f"pair-{pair.name}"


def synthetic_model(model: str, pairs: list[Pair]) -> bool:
    """Whether ``model`` runs on synthetic input: only when every pair of ``pairs`` that has it is synthetic
    (a labelled pair's model keeps its labelled cases)."""
    return all(p.synthetic for p in pairs if model in p.model_names)


def _checked(pair: Pair) -> Pair:
    """A pair as a run uses it: the built-in pair itself for a file of one (``examples/pairs/``); :class:`PairError`
    for another pair under a built-in pair's name, or a built-in model's name for other layers, other data
    or another recipe (a built-in model is one model everywhere: its results and cache are keyed by name)."""
    builtin = PAIRS.get(pair.name)
    if builtin is not None:  # a file of a built-in pair (examples/pairs/) is that pair; another under its name is refused
        same = [(m.name, m.fingerprint()) for m in builtin.models] == [(m.name, m.fingerprint()) for m in pair.models]
        if not same or builtin.data != pair.data or pair.epochs not in (None, builtin.epochs):
            raise PairError(f"pair {pair.name!r}: a built-in pair has that name; give yours another")
        return builtin
    _refuse_builtin_names(pair)  # first, whatever else is wrong
    builtins = [s.name for s in pair.models if s.name in MODELS]
    if builtins and pair.epochs is not None:  # both models train with the pair's recipe, or the accuracy cost compares two recipes
        raise PairError(
            f"pair {pair.name!r}: epochs = {pair.epochs}, but {builtins[0]!r} trains with another recipe (a built-in model): "
            "drop epochs or give the model its own name"
        )
    if builtins and pair.files is not None:  # one name, one data set: the cache and the results key on it
        raise PairError(f"pair {pair.name!r}: {builtins[0]!r} runs on other data (a built-in model): give the model its own name")
    return pair


def _refuse_builtin_names(pair: Pair) -> None:
    """:class:`PairError` for a model of ``pair`` that has a built-in model's name and other layers."""
    for spec in pair.models:
        if (spec.name in MODELS and MODELS[spec.name].fingerprint() != spec.fingerprint()) or spec.name in SPEC_ONLY_MODELS:
            raise PairError(f"pair {pair.name!r}: model name {spec.name!r} is a built-in model's: give yours another name")


def known_specs(pairs: Iterable[Pair] = ()) -> dict[str, ModelSpec]:
    """The specs a result row's counts are checked against, by model name: the built-in models and those of
    ``pairs`` (the pair files given to the report; nothing is registered for building).  :class:`PairError` for a
    model name that a built-in model or an earlier pair gives other layers (:func:`_check_one_model_per_name`;
    recipes and data are not compared: the report reads the models only)."""
    pairs = list(pairs)
    _check_one_model_per_name(pairs, trained=False)
    out = dict(MODELS)
    for pair in pairs:
        for spec in pair.models:
            out.setdefault(spec.name, spec)  # the first of a name (the others have its layers)
    return out


def _check_one_model_per_name(pairs: list[Pair], trained: bool = True) -> None:
    """In one run a model's name is one model (a built-in model's name is that model's), trained with one recipe
    on one data set (its cases, results and trained weights are keyed by its name); :class:`PairError` naming
    the first that is not.  ``trained=False``: the layers only (for what reads the models, not their training)."""
    seen: dict[str, tuple[Pair, ModelSpec]] = {}
    for pair in pairs:
        _refuse_builtin_names(pair)
        for spec in pair.models:
            first = seen.setdefault(spec.name, (pair, spec))
            other, known = first
            if other is pair:
                continue
            if known.fingerprint() != spec.fingerprint():
                raise PairError(
                    f"pair {pair.name!r}: model {spec.name!r} has other layers in an earlier pair ({other.name!r}): give one another name"
                )
            if not trained:
                continue
            if other.recipe != pair.recipe:
                raise PairError(
                    f"pair {pair.name!r}: {spec.name!r} trains with another recipe in pair {other.name!r}: "
                    "drop epochs or give the model its own name"
                )
            if _files_key(other) != _files_key(pair):
                raise PairError(f"pair {pair.name!r}: {spec.name!r} runs on other data in pair {other.name!r}: give the model its own name")


def _files_key(pair: Pair) -> str | None:
    return None if pair.files is None else pair.files.key()


def load_split(files: FileData | None, split: str, data_dir: str | Path | None = None, limit: int | None = None) -> tuple[Any, Any]:
    """Images (float32 NHWC in [0, 1]) and int64 labels of ``split``: of a pair's data ``files`` where it has
    some (verified again before they are parsed), else MNIST's (``data_dir`` as
    :func:`sepbench.core.data.load_mnist` takes it)."""
    if files is not None:
        return files.load(split, limit)
    from sepbench.core.data import load_mnist

    return load_mnist(split, data_dir, limit=limit)  # type: ignore[arg-type]


def model_spec(model: str | ModelSpec, pair: Pair | None = None) -> ModelSpec:
    """A model by name: one of ``pair``'s where a pair is given, else a built-in one."""
    return get_model_spec(model) if pair is None else pair.model(model)


def select_pairs(requested: str | list[str] | None) -> list[Pair]:
    """Pairs by name or file (comma-separated, or a list), in that order, each checked against the built-in
    pairs and models and against each other (one model per name); ``None`` or blank:
    :data:`DEFAULT_BENCH_PAIRS`.  Registers nothing: each pair carries its models, recipe and data.
    Raises :class:`PairError`."""
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        names = list(DEFAULT_BENCH_PAIRS)
    elif isinstance(requested, str):
        names = [n.strip() for n in requested.split(",") if n.strip()]
    else:
        names = list(requested)
    out: list[Pair] = []
    for name in names:
        pair = _checked(get_pair(name))
        if any(p.name == pair.name for p in out):
            raise PairError(f"pair {pair.name!r} is named twice")
        out.append(pair)
    _check_one_model_per_name(out)
    return out


def get_pair(name_or_file: str, data_files: bool = True) -> Pair:
    """A built-in pair by name, or a pair file (a path ending in ``.toml``; ``data_files``: see :func:`load_pair_file`)."""
    if name_or_file in PAIRS:
        return PAIRS[name_or_file]
    # a file by its suffix in any case (EXAMPLE.TOML), or by a path that says it is one
    if name_or_file.lower().endswith(".toml") or os.sep in name_or_file or os.path.lexists(name_or_file):
        return load_pair_file(Path(name_or_file), data_files)
    raise PairError(f"unknown pair {name_or_file!r}: built-in pairs are {', '.join(PAIRS)}; or give a pair file (.toml)")


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator, validators

    doc = json.loads(resources.files(__package__).joinpath("pair.schema.json").read_text())
    Draft202012Validator.check_schema(doc)
    # JSON Schema's "integer" admits 3.0 (a number whose fraction is zero); a pair file's `kernel = 3.0` is a
    # float in TOML and would print 26.0x26.0x4 and fail in training: here an integer is an int, never a bool
    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", lambda _, v: isinstance(v, int) and not isinstance(v, bool))
    return validators.extend(Draft202012Validator, type_checker=checker)(doc)


def load_pair_file(path: str | Path, data_files: bool = True) -> Pair:
    """Read and check a pair file; :class:`PairError` naming the file, the line and the field otherwise.
    ``data_files=False``: its data files are neither opened nor hashed (``files`` is ``None``): for what needs the
    models only (the report's count checks), never for training or measuring."""
    path = Path(path)
    try:
        text = read_regular(path, MAX_PAIR_FILE_BYTES).decode("utf-8")  # a fifo is refused, never waited on
    except FileNotFoundError:
        raise PairError(f"{path}: no such pair file") from None
    except (NotRegularFileError, TooLargeError) as exc:
        raise PairError(f"{path}: {exc.strerror}: not a pair file") from None
    except OSError as exc:
        raise PairError(f"{path}: cannot be read ({reason(exc, path)})") from None
    except UnicodeDecodeError as exc:
        raise PairError(f"{path}: not UTF-8 text ({exc})") from None
    try:
        check_nesting(text, str(path))  # tomllib recurses once a level: 10^5 levels were a RecursionError
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message says the line and column
        raise PairError(f"{path}: not valid TOML: {exc}") from None
    except ValueError as exc:
        raise PairError(str(exc)) from None
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        keys = list(error.absolute_path)
        if error.validator == "required":  # the field that is missing, under the table that lacks it
            missing = re.search(r"'([^']+)' is a required property", error.message)
            keys = keys + [missing.group(1)] if missing else keys
        raise PairError(f"{path}{line_of(text, error.absolute_path)}: {dotted(keys) or 'the file'}: {error.message}")
    meta = doc["pair"]
    models = []
    for role in ("baseline", "candidate"):
        m = doc[role]
        try:
            layers = _layer_specs(m["layers"])
            spec = ModelSpec(m["name"], layers, tuple(meta["input_shape"]), m.get("description", ""))
            spec.summary()  # shapes: a kernel larger than its input fails here
            check_model(spec)  # and tensors too large to allocate, before anything is built
        except ValueError as exc:
            raise PairError(f"{path}: {role}: {exc}") from None
        models.append(spec)
    baseline, candidate = models
    if baseline.name == candidate.name:
        raise PairError(f"{path}: baseline and candidate are both named {baseline.name!r}: give them two names")
    if baseline.output_shape != candidate.output_shape:
        raise PairError(f"{path}: baseline outputs {baseline.output_shape}, candidate {candidate.output_shape}: they cannot be compared")
    data, files = meta.get("data", "mnist"), None
    if isinstance(data, dict):
        data, files = "files", _files_of(path, text, data, baseline) if data_files else None
    if data == "mnist" and (tuple(meta["input_shape"]) != MNIST_SHAPE or baseline.output_shape != (MNIST_CLASSES,)):
        raise PairError(
            f"{path}{line_of(text, ['pair', 'input_shape'])}: pair.data: MNIST is 28x28x1 images of 10 classes, but this pair takes "
            f'{tuple(meta["input_shape"])} and outputs {baseline.output_shape}: set data = "synthetic" (speed and size only) or fit MNIST'
        )
    return Pair(meta["name"], baseline, candidate, data, meta.get("epochs"), meta.get("description", ""), files)


def _files_of(path: Path, text: str, table: dict[str, Any], model: ModelSpec) -> FileData:
    """The pair's data files, each checked against its sha256 and against the models' shapes now (loading
    every split hashes every file: a mistake is told when the pair file is read, not after an hour of training)."""
    if len(model.output_shape) != 1:
        raise PairError(
            f"{path}{line_of(text, ['pair', 'data'])}: pair.data: labelled data needs models that output classes, not {model.output_shape}"
        )
    try:
        files = file_data(table, path.parent)
        files.check_fits(model.input_shape, model.output_shape[-1])
    except PairDataError as exc:
        field = re.match(r"pair\.data\.(\w+)", str(exc))
        keys = ["pair", "data", field.group(1)] if field else ["pair", "data"]
        raise PairError(f"{path}{line_of(text, keys)}: {exc}") from None
    return files


def _layer_specs(layers: list[dict[str, Any]]) -> tuple[LayerSpec, ...]:
    """A file's layers as the spec's (schema-checked already): ``pointwise_conv`` is a ``conv`` of kernel 1;
    a closing ``softmax`` is the activation of the dense layer before it; an ``avg_pool`` without a
    stride strides by its window (Keras's default)."""
    out: list[LayerSpec] = []
    for i, layer in enumerate(layers):
        layer = dict(layer)
        kind = layer["kind"]
        if kind == "softmax":
            if i != len(layers) - 1 or not out or out[-1].kind != "dense":
                raise ValueError(
                    f"layer {layer['name']!r}: softmax ends the model, right after a dense layer (it is that layer's activation)"
                )
            out[-1] = LayerSpec(out[-1].name, "dense", out[-1].filters, activation="softmax")
            continue
        if kind in ("depthwise_conv", "avg_pool") and "filters" in layer:
            raise ValueError(f"layer {layer['name']!r}: a {kind} keeps its input's channels: drop filters")
        if kind == "pointwise_conv":
            layer.update(kind="conv", kernel=layer.get("kernel", 1))
            if layer["kernel"] != 1:
                raise ValueError(f"layer {layer['name']!r}: a pointwise_conv has kernel 1 (use conv for another)")
        if kind == "avg_pool":
            layer.setdefault("stride", layer["kernel"])
        out.append(LayerSpec(**layer))
    return tuple(out)
