"""The result formats sepbench reads, as JSON Schemas (draft 2020-12, the ``*.schema.json`` files beside
this module), and :func:`check`, which validates a document against one of them.

The schemas state each format once: what a reader may assume (types, ranges, which names may become
table cells).  A file that breaks one is a :class:`~sepbench.results.schema.ResultsError` naming the
file and the field; the readers then trust the shape, so a bug in a reader surfaces as the bug it is,
not as a "malformed file".

Numbers are finite: NaN and infinity are not numbers.  NaN, which Python's ``json`` writes for a figure
not measured, counts as ``null``; infinity is neither.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from typing import Any

FORMATS = ("reproduce", "pytest_benchmark", "asv_result", "rates", "paired_records")
_BASE = "https://sepbench.invalid/formats/"
_SHOWN = 120  # characters of a bad value shown in the message


def _is_number(checker: Any, value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(checker: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())


def _is_null(checker: Any, value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@functools.cache
def _validators() -> dict[str, Any]:
    from jsonschema import Draft202012Validator, validators
    from referencing import Registry, Resource

    docs = schema_documents()
    registry = Registry().with_resources((_BASE + name, Resource.from_contents(doc)) for name, doc in docs.items())
    checker = Draft202012Validator.TYPE_CHECKER.redefine_many({"number": _is_number, "integer": _is_integer, "null": _is_null})
    Validator = validators.extend(Draft202012Validator, type_checker=checker)
    # the schemas are checked against the draft's metaschema by the tests (schema_documents), not by every reader:
    # that check cost a report 0.1 s
    return {fmt: Validator(docs[f"{fmt}.schema.json"], registry=registry) for fmt in FORMATS}


def schema_documents() -> dict[str, Any]:
    """Every ``*.schema.json`` beside this module, by file name, as parsed JSON."""
    return {p.name: json.loads(p.read_text()) for p in resources.files(__package__).iterdir() if p.name.endswith(".schema.json")}


@functools.cache
def _validator(fmt: str, part: str | None) -> Any:
    """The validator of ``fmt``, or of its definition ``part`` (made once: the ASV reader checks every result)."""
    validator = _validators()[fmt]
    return validator if part is None else validator.evolve(schema={"$ref": f"{_BASE}{fmt}.schema.json#/$defs/{part}"})


def schema(fmt: str) -> dict[str, Any]:
    """The JSON Schema of format ``fmt`` (one of :data:`FORMATS`)."""
    return _validators()[fmt].schema


def problem(doc: Any, fmt: str, part: str | None = None) -> str | None:
    """Why ``doc`` is not a well-formed ``fmt`` document (the field's path and what is wrong), or ``None``.
    ``part``: a definition of the schema (``"result"``: ``#/$defs/result``) to check ``doc`` against instead."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(fmt, part).iter_errors(doc))
    if error is None:
        return None
    where = error.json_path if error.absolute_path else "the document"
    value = repr(error.instance)
    value = value if len(value) <= _SHOWN else value[:_SHOWN] + "..."
    message = error.message if len(error.message) <= 2 * _SHOWN else f"{value} does not fit the schema ({error.validator})"
    if error.validator in ("anyOf", "oneOf"):  # "a string or null", not "not valid under any of the given schemas"
        wanted = [_wanted(sub) for sub in error.context or () if not sub.relative_path]
        if wanted and all(wanted):
            message = f"{value} is not {' or '.join(dict.fromkeys(w for w in wanted if w))}"
    return f"{where}: {message}"


def _wanted(error: Any) -> str | None:
    """What one branch of an anyOf wanted, in words (``a string``, ``null``), or ``None`` if not simply a type."""
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return " or ".join(f"of type {k!r}" for k in kinds)
    if error.validator == "const":
        return json.dumps(error.validator_value)
    return None


def figures_problem(values: list[Any]) -> str | None:
    """Why a list is not a list of figures (``defs.schema.json#/$defs/figure``: finite numbers, or null, NaN
    counting as null), or ``None``.  The same rule as the schema's, in one pass: jsonschema spends ~100 us
    a figure resolving the ``$ref`` per item, and an ASV result holds millions of figures."""
    for i, v in enumerate(values):
        kind = type(v)
        if v is None or kind is int or (kind is float and (math.isfinite(v) or v != v)):
            continue
        shown = repr(v)
        return f"[{i}]: {shown[:_SHOWN]} is not of type 'number', 'null'"
    return None


def check(doc: Any, fmt: str, source: object, what: str, part: str | None = None) -> None:
    """Raise :class:`~sepbench.results.schema.ResultsError` ("SOURCE: not a well-formed WHAT file: FIELD: why")
    unless ``doc`` fits format ``fmt`` (or its definition ``part``)."""
    from sepbench.results.schema import ResultsError

    why = problem(doc, fmt, part)
    if why is not None:
        raise ResultsError(f"{source}: not a well-formed {what} file: {why}")
