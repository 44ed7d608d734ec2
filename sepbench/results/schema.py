"""sepbench's own result files: their envelope, atomic writes, and reading JSON with limits.

A sepbench result file is JSON::

    {
      "schema": "sepbench-results",      # always this string
      "version": 1,
      "kind": "reproduce",               # what produced it (reproduce, ...)
      "provenance": {...},               # sepbench.machine.provenance.collect_provenance()
      "recipe": {...} | null,            # the training recipe, when training was involved
      "rows": [ {...}, ... ]             # one row per backend x model; see REPRODUCE_ROW_FIELDS
    }

The format is stated once, as a JSON Schema (sepbench/results/formats/reproduce.schema.json).  Other
result sources (pytest-benchmark JSON, ASV results, the slowdown checks' rates files) keep their own formats,
each with its schema beside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sepbench.util.atomic import atomic_write_json
from sepbench.util.inputs import NotRegularFileError, TooLargeError, read_regular
from sepbench.util.oserrors import reason

# ``workload`` values of benchmark results that are not one model's inference path (the report and
# bench-summary keep them out of path tables): the TensorFlow evaluate anatomy, and the paired
# separable/regular cases (both models in one case)
WORKLOAD_GRAPH_FORWARD = "graph-forward"
WORKLOAD_PAIRED = "paired-predict"
WORKLOAD_PAIRED_EVALUATE = "paired-evaluate"  # the study-style evaluate of both models in paired rounds
WORKLOAD_PAIRED_TRAIN = "paired-train"  # both models' training steps on one trainer in paired rounds ("trains faster")
WORKLOAD_SEEDS = "seeds"  # reproduce --seeds: accuracy of the fastest trainer's weights per seed (no inference path)

SCHEMA = "sepbench-results"
VERSION = 1

REPRODUCE_ROW_FIELDS: dict[str, str] = {
    "backend": "backend name (numpy, tensorflow, torch, onnxruntime, litert, openvino)",
    "model": "model name (a model of the spec or of a pair file)",
    "params": "parameters, as the backend counts them (the spec's: a batch norm's moving statistics too)",
    "float32_bytes": "raw float32 parameter size, bytes",
    "hdf5_bytes": "Keras model.save('.h5') size with optimizer state, bytes (the study's figure; any backend's weights loaded into Keras)",
    "native_bytes": "size of the backend's own native file, bytes",
    "native_format": "suffix of that file (.h5, .pt, .npz; .xml+.bin: OpenVINO's graph and its weights beside it)",
    "test_loss": "mean categorical cross-entropy on the 10,000 test images",
    "test_accuracy": "fraction correct on the 10,000 test images",
    "eval_seconds": "wall time of a Keras-style evaluation of 10,000 images at batch 32, seconds",
    "train_seconds": "wall time of training, seconds",
    "trained_by": "the backend whose trainer made the weights (an inference-only runtime evaluates another's)",
    "epochs": "training epochs",
    "weights_sha256": "fingerprint of the trained portable weights",
}


class ResultsError(ValueError):
    """A result file that cannot be read or is not a sepbench result file; the message names it."""


def make_results(kind: str, rows: list[dict[str, Any]], provenance: dict[str, Any], recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"schema": SCHEMA, "version": VERSION, "kind": kind, "provenance": provenance, "recipe": recipe, "rows": rows}


def write_results(path: str | os.PathLike[str], doc: dict[str, Any]) -> Path:
    """Validate and write atomically (an interrupted run leaves the previous file or none)."""
    validate_results(doc, source=str(path))
    return atomic_write_json(path, doc)


def validate_results(doc: Any, source: str = "<memory>") -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsError(f'{source}: not a sepbench result file (no "schema": "{SCHEMA}")')
    if doc.get("version") != VERSION:
        raise ResultsError(f"{source}: unsupported sepbench result version {doc.get('version')!r} (this sepbench reads {VERSION})")
    from sepbench.results.formats import check

    check(doc, "reproduce", source, "sepbench result")  # sepbench/results/formats/reproduce.schema.json
    return doc


MAX_RESULT_BYTES = 256 * 2**20  # a pytest-benchmark file of every case is a few MiB; more is not ours


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; any failure raises :class:`ResultsError` naming the file."""
    path = Path(path)
    try:
        data = read_regular(path, MAX_RESULT_BYTES)  # opened without blocking: a fifo is refused, never waited on
        if not data:
            raise ResultsError(f"{path}: empty (0 bytes; a run killed while writing it?): delete it or run again")
        return json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except TooLargeError:
        raise ResultsError(f"{path}: larger than any result file ({MAX_RESULT_BYTES // 2**20} MiB at most)") from None
    except NotRegularFileError as exc:
        raise ResultsError(f"{path}: {exc.strerror}") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({reason(exc, path)})") from None
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise ResultsError(f"{path}: JSON nested too deeply to be a result file") from None


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a sepbench result file."""
    return validate_results(read_json(path), source=str(path))
