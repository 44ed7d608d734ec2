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
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sepbench.core.recipe import DEFAULT_RECIPE, Recipe
from sepbench.core.spec import LayerSpec, ModelSpec, described_model_spec

MAX_PAIR_FILE_BYTES = 1 << 20  # a pair file is a few hundred bytes
MNIST_SHAPE, MNIST_CLASSES = (28, 28, 1), 10


class PairError(ValueError):
    """A pair that cannot be used; the message names the pair or the file, line and field."""


@dataclass(frozen=True)
class Pair:
    """Two models to compare: ``candidate`` against ``baseline``, on ``data`` (``mnist``: every claim;
    ``synthetic``: speed and size only, no accuracy)."""

    name: str
    baseline: ModelSpec
    candidate: ModelSpec
    data: str = "mnist"
    epochs: int | None = None  # None: the default recipe's
    description: str = ""

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


def use_pair(pair: Pair) -> Pair:
    """Make a pair's models buildable by every backend in this process (a pair file's models are not
    built in); :class:`PairError` for a name that a built-in pair or model already has."""
    from sepbench.core.spec import MODELS, USER_MODELS, register_model

    builtin = PAIRS.get(pair.name)
    if builtin is not None:  # a file of a built-in pair (examples/pairs/) is that pair; another under its name is refused
        same = [(m.name, m.fingerprint()) for m in builtin.models] == [(m.name, m.fingerprint()) for m in pair.models]
        if not same or builtin.data != pair.data or pair.epochs not in (None, builtin.epochs):
            raise PairError(f"pair {pair.name!r}: a built-in pair has that name; give yours another")
        return builtin
    for spec in pair.models:  # a built-in model's name for other layers: refused first, whatever else is wrong
        if spec.name in MODELS and MODELS[spec.name].fingerprint() != spec.fingerprint():
            raise PairError(f"pair {pair.name!r}: model name {spec.name!r} is a built-in model's: give yours another name")
    if pair.epochs is not None:  # both models train with the pair's recipe, or the accuracy cost compares two recipes
        shared = [s.name for s in pair.models if s.name in MODELS or (s.name in USER_MODELS and _EPOCHS.get(s.name) != pair.epochs)]
        if shared:
            raise PairError(
                f"pair {pair.name!r}: epochs = {pair.epochs}, but {shared[0]!r} trains with another recipe (a built-in model, or another "
                "pair's): drop epochs or give the model its own name"
            )
    for spec in pair.models:
        known = MODELS.get(spec.name)
        if known is not None and known.fingerprint() == spec.fingerprint():
            continue
        try:
            register_model(spec)
        except ValueError as exc:
            raise PairError(f"pair {pair.name!r}: {exc}") from None
        if pair.epochs is not None:
            _EPOCHS.setdefault(spec.name, pair.epochs)
    return pair


_EPOCHS: dict[str, int] = {}  # model -> the epochs of the pair file that brought it (use_pair)


def recipe_for(model: str) -> Recipe:
    """The recipe a model trains with: the default one, with the epochs of its pair file where it set some
    (a model first registered by :func:`use_pair` keeps its first pair's)."""
    epochs = _EPOCHS.get(model)
    return DEFAULT_RECIPE if epochs is None else DEFAULT_RECIPE.with_(epochs=epochs)


def select_pairs(requested: str | list[str] | None) -> list[Pair]:
    """Pairs by name or file (comma-separated, or a list), in that order, each made usable
    (:func:`use_pair`); ``None`` or blank: :data:`DEFAULT_BENCH_PAIRS`.  Raises :class:`PairError`."""
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        names = list(DEFAULT_BENCH_PAIRS)
    elif isinstance(requested, str):
        names = [n.strip() for n in requested.split(",") if n.strip()]
    else:
        names = list(requested)
    out: list[Pair] = []
    for name in names:
        pair = use_pair(get_pair(name))
        if any(p.name == pair.name for p in out):
            raise PairError(f"pair {pair.name!r} is named twice")
        out.append(pair)
    return out


def get_pair(name_or_file: str) -> Pair:
    """A built-in pair by name, or a pair file (a path ending in ``.toml``)."""
    if name_or_file in PAIRS:
        return PAIRS[name_or_file]
    if name_or_file.endswith(".toml"):
        return load_pair_file(Path(name_or_file))
    raise PairError(f"unknown pair {name_or_file!r}: built-in pairs are {', '.join(PAIRS)}; or give a pair file (.toml)")


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    doc = json.loads(resources.files(__package__).joinpath("pair.schema.json").read_text())
    Draft202012Validator.check_schema(doc)
    return Draft202012Validator(doc)


def load_pair_file(path: str | Path) -> Pair:
    """Read and check a pair file; :class:`PairError` naming the file, the line and the field otherwise."""
    path = Path(path)
    try:
        if not path.is_file():
            raise PairError(f"{path}: no such pair file" + (" (it is a folder)" if path.is_dir() else ""))
        if path.stat().st_size > MAX_PAIR_FILE_BYTES:
            raise PairError(f"{path}: {path.stat().st_size:,} bytes, too large to be a pair file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PairError(f"{path}: cannot be read ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message says the line and column
        raise PairError(f"{path}: not valid TOML: {exc}") from None
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        keys = list(error.absolute_path)
        if error.validator == "required":  # the field that is missing, under the table that lacks it
            missing = re.search(r"'([^']+)' is a required property", error.message)
            keys = keys + [missing.group(1)] if missing else keys
        raise PairError(f"{path}{_line_of(text, error.absolute_path)}: {_dotted(keys) or 'the file'}: {error.message}")
    meta = doc["pair"]
    models = []
    for role in ("baseline", "candidate"):
        m = doc[role]
        try:
            layers = tuple(LayerSpec(**layer) for layer in m["layers"])
            spec = ModelSpec(m["name"], layers, tuple(meta["input_shape"]), m.get("description", ""))
            spec.summary()  # shapes: a kernel larger than its input fails here
        except ValueError as exc:
            raise PairError(f"{path}: {role}: {exc}") from None
        models.append(spec)
    baseline, candidate = models
    if baseline.name == candidate.name:
        raise PairError(f"{path}: baseline and candidate are both named {baseline.name!r}: give them two names")
    if baseline.output_shape != candidate.output_shape:
        raise PairError(f"{path}: baseline outputs {baseline.output_shape}, candidate {candidate.output_shape}: they cannot be compared")
    data = meta.get("data", "mnist")
    if data == "mnist" and (tuple(meta["input_shape"]) != MNIST_SHAPE or baseline.output_shape != (MNIST_CLASSES,)):
        raise PairError(
            f"{path}{_line_of(text, ['pair', 'input_shape'])}: pair.data: MNIST is 28x28x1 images of 10 classes, but this pair takes "
            f'{tuple(meta["input_shape"])} and outputs {baseline.output_shape}: set data = "synthetic" (speed and size only) or fit MNIST'
        )
    return Pair(meta["name"], baseline, candidate, data, meta.get("epochs"), meta.get("description", ""))


def _dotted(keys: list[Any]) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")


def _line_of(text: str, keys: Any) -> str:
    """``":LINE"`` of the field at ``keys`` in a TOML text, found the way a reader would find it: the
    table's header, then the n-th layer below it, then the key; ``""`` where it cannot be told."""
    keys = list(keys)
    lines = [_code(line) for line in text.splitlines()]
    at = 0
    if keys and isinstance(keys[0], str):
        header = next((i for i, line in enumerate(lines) if re.match(rf"\s*\[\s*{re.escape(keys[0])}\s*\]", line)), None)
        if header is None:
            return ""
        at = header
    if len(keys) >= 3 and keys[1] == "layers" and isinstance(keys[2], int):
        # a layer is an inline table `{ ... }` (one or more a line) or an array-of-tables entry
        # `[[baseline.layers]]`; a `{` in a comment or a quoted string is neither (see _code)
        entry = re.compile(rf"\s*\[\[\s*{re.escape(keys[0])}\.layers\s*\]\]")
        starts: list[int] = []
        for i in range(at + 1, len(lines)):
            if re.match(r"\s*\[", lines[i]) and not entry.match(lines[i]):
                break  # the next table: this one's layers are all behind
            starts += [i] * (lines[i].count("{") + bool(entry.match(lines[i])))
        if keys[2] >= len(starts):
            return f":{at + 1}"
        at = starts[keys[2]]
    # the field itself when the path ends in one (an item of a list, like input_shape[1], is on its line)
    field = keys[-1] if keys and isinstance(keys[-1], str) else (keys[-2] if len(keys) >= 2 and keys[-2] != "layers" else None)
    if field and len(keys) > 1:
        hit = next((i for i in range(at, len(lines)) if re.search(rf"(^|[\s{{,]){re.escape(field)}\s*=", lines[i])), None)
        if hit is not None:
            return f":{hit + 1}"
    return f":{at + 1}"


def _code(line: str) -> str:
    """A TOML line without its comment, its quoted strings emptied: what is left is keys and brackets."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', '""', line).split("#", 1)[0]
