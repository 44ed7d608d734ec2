"""Find result files, sort them by kind, and load them into one tidy DataFrame (the alert and gate
rates files of the slowdown checks, which measure the checks rather than the models, into a table of their own).

A file that is not valid JSON, or is JSON of no known kind, becomes a warning naming it; it never
stops the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sepbench.results import machines as machine_files
from sepbench.results import tidy
from sepbench.results.paired_records import PairedRecord, is_records, validate_records
from sepbench.results.read_asv import asv_root_of, is_asv_file, load_asv_dir
from sepbench.results.read_pytest_benchmark import is_pytest_benchmark, load_pytest_benchmark
from sepbench.results.read_rates import OLD_KINDS, RATE_KINDS, is_rates, load_rates, looks_like_untagged_rates
from sepbench.results.read_rates import frame as rates_frame
from sepbench.results.read_reproduce import load_reproduce
from sepbench.results.schema import SCHEMA, ResultsError, read_json
from sepbench.util.oserrors import what_is_at

if TYPE_CHECKING:
    from sepbench.core.spec import ModelSpec


@dataclass
class Loaded:
    """Everything read: the tidy measurements, the files by kind, and warnings (one line each)."""

    measurements: pd.DataFrame
    files: dict[str, list[Path]] = field(default_factory=dict)  # kind -> files read
    warnings: list[str] = field(default_factory=list)
    looked_in: list[Path] = field(default_factory=list)
    # one description per file read of the machine that measured it (columns: sepbench.results.machines.FIELDS)
    machines: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(machine_files.FIELDS)))
    # ab-rates / gate-rates files: one row per file and slowdown factor (columns: sepbench.results.read_rates.RATE_FIELDS)
    rates: pd.DataFrame = field(default_factory=lambda: rates_frame([]))
    # paired-case records (one file per benchmark process): the speed claims are estimated over their processes
    records: list[PairedRecord] = field(default_factory=list)
    # models whose parameter and MAC counts no spec checked (a user pair's, its pair file not given to the report)
    unchecked: list[str] = field(default_factory=list)

    def kinds(self) -> set[str]:
        return {k for k, v in self.files.items() if v}


def _json_files(directory: Path, warnings: list[str]) -> list[Path]:
    """*.json below ``directory``, skipping hidden files and folders (atomic-write temporaries); a folder
    that cannot be read becomes a warning naming it (``rglob`` would pass over it without a word)."""

    def unreadable(exc: OSError) -> None:
        warnings.append(f"skipped {exc.filename}: cannot be read ({exc.strerror or exc})")

    found = []
    for root, dirs, names in os.walk(directory, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / n for n in names if n.endswith(".json") and not n.startswith("."))
    odd = sorted(p for p in found if not p.is_file() and p.exists())  # a fifo would block a read: said, not read
    warnings.extend(f"skipped {p}: {what_is_at(p)}, not a regular file" for p in odd)
    return sorted(p for p in found if p.is_file())


def _not_a_folder(directory: Path, warnings: list[str]) -> bool:
    """Whether ``directory`` is no folder; a file given for one is said in ``warnings``, not passed over as if absent."""
    if directory.is_dir():
        return False
    if os.path.lexists(directory):
        warnings.append(f"skipped {directory}: {what_is_at(directory)}, not a folder (--results takes a folder of result files)")
    return True


def _load_asv_roots(
    roots: list[Path], rows: list[dict[str, Any]], read: list[Path], warnings: list[str], described: list[dict[str, Any]]
) -> None:
    """Each ASV results root once (a root found inside another is read by it), each result file once
    across roots: its rows, warnings, the files read and their machines appended to the lists given."""
    for root in dict.fromkeys(Path(r).resolve() for r in roots):
        if not root.is_dir() or any(root.resolve() == r.resolve() for r in _seen(read)):
            continue
        a_rows, a_warn, a_read = load_asv_dir(root, skip=_asv_keys(read))
        rows.extend(a_rows)
        warnings.extend(a_warn)
        read.extend(a_read)
        described.extend(machine_files.from_asv_results(a_read))


def load_all(results_dirs: list[Path], asv_dirs: list[Path], specs: Mapping[str, ModelSpec] | None = None) -> Loaded:
    """Load every result under ``results_dirs`` (recursively) and the ASV results roots ``asv_dirs``; a count a
    model's spec in ``specs`` (default: the built-in ones) contradicts is dropped (:func:`tidy.drop_implausible`).
    An ASV result file found under several roots (the same machine folder and ``<commit>-<env>.json``,
    e.g. in ``.asv/results`` and in ``history/``) is read once, from the first root that has it.
    """
    rows: list[dict[str, Any]] = []
    files: dict[str, list[Path]] = {"reproduce": [], "pytest-benchmark": [], "asv": [], "paired-records": [], **{k: [] for k in RATE_KINDS}}
    records: list[PairedRecord] = []
    warnings: list[str] = []
    rates: list[dict[str, Any]] = []
    described: list[dict[str, Any]] = []
    asv_roots: list[Path] = []
    seen: set[Path] = set()  # a folder given twice, or one inside another, is read once
    for directory in results_dirs:
        if _not_a_folder(directory, warnings):
            continue
        for path in _json_files(directory, warnings):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                doc = read_json(path)
                if isinstance(doc, dict) and doc.get("schema") == SCHEMA:
                    rows.extend(load_reproduce(doc, path))
                    files["reproduce"].append(path)
                    described.append(machine_files.from_reproduce(doc, path))
                elif is_records(doc):
                    records.extend(validate_records(doc, str(path)))
                    files["paired-records"].append(path)
                elif is_pytest_benchmark(doc):
                    rows.extend(load_pytest_benchmark(doc, path))
                    files["pytest-benchmark"].append(path)
                    described.append(machine_files.from_pytest_benchmark(doc, path))
                elif is_rates(doc):
                    rates.extend(load_rates(doc, path))
                    files[OLD_KINDS.get(doc["kind"], doc["kind"])].append(path)
                elif is_asv_file(doc, path):
                    root = asv_root_of(path)
                    if root not in asv_roots:
                        asv_roots.append(root)
                elif looks_like_untagged_rates(doc):
                    warnings.append(
                        f'skipped {path}: an ab-rates or gate-rates file without "kind" (written before rates files carried it); '
                        'add "kind": "ab-rates" or "gate-rates" to read it'
                    )
                else:
                    warnings.append(
                        f"skipped {path}: not a result file the report knows "
                        "(sepbench reproduce, check ab-rates or gate-rates, pytest-benchmark or ASV)"
                    )
            except ResultsError as exc:  # a file that breaks its format's schema (the readers' own bugs are not caught)
                warnings.append(f"skipped {exc}")
    _load_asv_roots([*asv_dirs, *asv_roots], rows, files["asv"], warnings, described)
    looked = [Path(d) for d in [*results_dirs, *asv_dirs]]
    rows, rejected = tidy.drop_implausible(rows, specs)
    described_frame = pd.DataFrame(described, columns=list(machine_files.FIELDS))
    unchecked = tidy.unchecked_models(rows, specs)
    return Loaded(tidy.frame(rows), files, warnings + rejected, looked, described_frame, rates_frame(rates), records, unchecked)


def _seen(asv_files: list[Path]) -> list[Path]:
    return [p.parent.parent for p in asv_files]


def _asv_keys(asv_files: list[Path]) -> set[tuple[str, str]]:
    """(machine folder, file name) of ASV result files: one result of one machine, commit and environment."""
    return {(p.parent.name, p.name) for p in asv_files}
