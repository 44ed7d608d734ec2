"""``sepbench reproduce`` result files (schema :mod:`sepbench.results.schema`) -> tidy rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sepbench.core.data import TEST_IMAGES, TRAIN_IMAGES
from sepbench.results.schema import WORKLOAD_SEEDS, ResultsError, validate_results
from sepbench.results.tidy import UNITS, to_float

# row fields that name things rather than measure them
_LABELS = {"backend", "model", "path", "native_format", "weights_sha256", "weights_source", "claims", "machine", "notes"}


def provenance_labels(prov: dict[str, Any]) -> dict[str, Any]:
    """machine, cpu, commit and created from a :func:`sepbench.machine.provenance.collect_provenance` dict."""
    machine = prov.get("machine") if isinstance(prov.get("machine"), dict) else {}
    git = prov.get("git") if isinstance(prov.get("git"), dict) else {}
    commit = git.get("commit")
    if commit and git.get("dirty"):
        commit = f"{commit}+dirty"
    return {
        "machine": machine.get("machine_name") or machine.get("hostname"),
        "cpu": machine.get("cpu_model"),
        "commit": commit,
        "created": prov.get("created"),
    }


def _count(value: Any, full: int) -> int:
    number = to_float(value)
    return int(number) if number is not None and number >= 1 else full


def load_reproduce(doc: Any, source: Path) -> list[dict[str, Any]]:
    """Tidy rows of one reproduce result document; raises ResultsError naming ``source`` if invalid."""
    validate_results(doc, source=str(source))
    if doc["kind"] != "reproduce":
        raise ResultsError(f"{source}: a sepbench result of kind {doc['kind']!r}; the report reads kind 'reproduce'")
    labels = provenance_labels(doc["provenance"])
    out: list[dict[str, Any]] = []
    for row in doc["rows"]:  # the schema guarantees each has a backend and a model (names)
        base = {
            **labels,
            "source_kind": "reproduce",
            "source_file": str(source),
            "backend": row["backend"],
            "model": row["model"],
            "path": row.get("path", "default"),
            "workload": "evaluate",
            "batch_size": row.get("batch_size", 32),
            # the images the figures were measured on (files before test_images existed: the full set)
            "n_images": _count(row.get("test_images"), TEST_IMAGES),
            "weights_source": "trained-subset"
            if _count(row.get("train_images"), TRAIN_IMAGES) < TRAIN_IMAGES
            else row.get("weights_source", "trained"),
        }
        for key, value in row.items():
            number = to_float(value)
            if key in _LABELS or number is None:
                continue
            out.append({**base, "metric": key, "stat": "value", "value": number, "unit": UNITS.get(key, "")})
    return out + _seed_rows(doc, labels, source)


def _seed_rows(doc: dict[str, Any], labels: dict[str, Any], source: Path) -> list[dict[str, Any]]:
    """``reproduce --seeds``: one ``test_accuracy`` / ``test_loss`` row per seed and model (workload ``seeds``)."""
    seeds = doc.get("seeds") if isinstance(doc.get("seeds"), dict) else {}
    per_seed = seeds.get("per_seed") if isinstance(seeds.get("per_seed"), list) else []
    data = doc["provenance"].get("reproduce") if isinstance(doc["provenance"].get("reproduce"), dict) else {}
    n_test, n_train = _count(data.get("test_images"), TEST_IMAGES), _count(data.get("train_images"), TRAIN_IMAGES)
    common = {**labels, "source_kind": "reproduce", "source_file": str(source), "n_images": n_test}

    def per_row(r: dict[str, Any]) -> dict[str, Any]:
        source_of = "trained-subset" if n_train < TRAIN_IMAGES else r.get("weights_source", "trained")
        return {"backend": r.get("trainer"), "weights_source": source_of}

    return seed_rows(per_seed, common, per_row)


def seed_rows(per_seed: Any, common: dict[str, Any], per_row: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of accuracies over training seeds (``reproduce --seeds``, the bench's cached-seeds case): one
    ``test_accuracy`` and one ``test_loss`` per seed and model (workload ``seeds``, the seed in ``params``),
    with the fields ``common`` to the file and those ``per_row`` gives from each seed's record."""
    out = []
    for r in per_seed if isinstance(per_seed, list) else []:
        if not isinstance(r, dict) or not r.get("model"):
            continue
        base = {**common, "model": r["model"], "path": "default", "workload": WORKLOAD_SEEDS, "batch_size": None}
        base |= {"params": f"seed={r.get('seed')}", **per_row(r)}
        for metric in ("test_accuracy", "test_loss"):
            value = to_float(r.get(metric))
            if value is not None:
                out.append({**base, "metric": metric, "stat": "value", "value": value, "unit": UNITS.get(metric, "")})
    return out
