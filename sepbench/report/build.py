"""Build the report: load results, compute tables, draw plots, write ``reports/``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sepbench.core.study import STUDY_SOURCE
from sepbench.report.headline import Headline, headline
from sepbench.report.render import Plot, Section, write_outputs
from sepbench.report.sections import ORDER, Inputs
from sepbench.report.sections.machines import history, machine_names
from sepbench.report.sections.seeds import accuracy_by_seed
from sepbench.results.read_rates import PRODUCER as RATES_PRODUCER
from sepbench.results.read_rates import RATE_KINDS
from sepbench.results.sources import Loaded, load_all
from sepbench.results.tidy import unchecked_note
from sepbench.util.oserrors import what_is_at
from sepbench.util.owned_dir import build_into

if TYPE_CHECKING:
    from sepbench.core.spec import ModelSpec

PRODUCERS = (
    "`sepbench reproduce` (or `nox -s reproduce`): trains/evaluates both models per backend, writes results/reproduce-<stamp>.json",
    "`nox -s bench`: pytest-benchmark latency runs, saved under results/bench/",
    "`nox -s asv` (ASV): benchmark history per commit in .asv/results/",
    "`nox -s check-ab-rates` / `sepbench check gate-rates`: the A/B check's and the benchmark gate's hit and false-alarm "
    "rates, results/<ab-rates|gate-rates>-<machine>-<stamp>.json",
)


class NoResultsError(Exception):
    """No result file at all: the message says where the report looked and which commands write results."""


# shown before the plots; every other section follows them (collapsed when long)
LEAD_SECTIONS = tuple(spec.key for spec in ORDER if spec.lead)


@dataclass
class Report:
    loaded: Loaded
    sections: dict[str, Section]
    headline: Headline
    missing: list[str]
    warnings: list[str]
    files: dict[str, Path] = field(default_factory=dict)


def missing_notes(loaded: Loaded, hist: pd.DataFrame) -> list[str]:
    """Plain sentences saying which kinds of results are absent and what that leaves out."""
    kinds, df = loaded.kinds(), loaded.measurements
    notes = []
    if "reproduce" not in kinds:
        notes.append(
            "No `sepbench reproduce` result: the study's loss, test accuracy and HDF5 file size are not measured "
            "(evaluation time and sizes come from benchmarks if present). Run `sepbench reproduce`."
        )
    if "pytest-benchmark" not in kinds:
        notes.append(
            "No pytest-benchmark run: no predict latency per batch size, images/s or speed ratios per batch size. Run `nox -s bench`."
        )
    elif not df["metric"].eq("roofline_gemm_gflops").any():
        notes.append(
            "The pytest-benchmark runs read have no roofline probe (machine_info['roofline'], recorded by `nox -s bench`): "
            "no comparison with the machine's compute limit."
        )
    notes += _missing_rates(kinds)
    if loaded.unchecked:  # a user pair's counts, its pair file not given: said, not silently trusted
        notes.append(unchecked_note(loaded.unchecked))
    if "asv" not in kinds:
        notes.append("No ASV results: no history over commits. Run `nox -s asv`.")
    elif hist["commit"].nunique() < 2:
        notes.append("ASV results for one commit only: the history plot needs at least two commits.")
    machines = machine_names(df)
    if len(machines) == 1:
        notes.append(f"Results from one machine only ({machines[0]}): the across-machines table needs results from several.")
    seeded = df[(df["weights_source"] == "seeded-init") & df["metric"].isin(["accuracy", "test_accuracy", "test_loss"])]
    if not seeded.empty:
        notes.append(
            f"{len(seeded)} accuracy/loss figure(s) came from untrained (seeded-init) weights and are left out of the accuracy comparisons."
        )
    subset = df[
        df["source_kind"].eq("reproduce")
        & (df["weights_source"].eq("trained-subset") | pd.to_numeric(df["n_images"], errors="coerce").lt(10_000))
    ]
    if not subset.empty:
        files = ", ".join(sorted({Path(str(f)).name for f in subset["source_file"]}))
        notes.append(
            f"{len(subset)} figure(s) from `sepbench reproduce` runs on a subset of MNIST ({files}) are not comparable with the study's "
            "full-data figures: kept in the tables, left out of the claims."
        )
    return notes


def _missing_rates(kinds: set[str]) -> list[str]:
    """Section 4's inputs: a note naming the command for each kind of rates file absent (one note when both are)."""
    absent = [k for k in RATE_KINDS if k not in kinds]
    if len(absent) == len(RATE_KINDS):
        return [
            "No measured hit and false-alarm rates of the A/B check or the benchmark gate "
            f"(section 4). Run `{RATES_PRODUCER['ab-rates']}` (the A/B check) and `{RATES_PRODUCER['gate-rates']}` (the gate)."
        ]
    check = {"ab-rates": "A/B check", "gate-rates": "gate"}
    return [f"No {k} result: section 4 has no rates for the {check[k]}. Run `{RATES_PRODUCER[k]}`." for k in absent]


def _sections(inputs: Inputs) -> dict[str, Section]:
    """Every section of :data:`~sepbench.report.sections.ORDER` that applies to ``inputs``, by key."""
    secs = {}
    for spec in ORDER:
        if spec.when is not None and not spec.when(inputs):
            continue
        raw = spec.table(inputs)
        if spec.optional and raw.empty:  # nothing to show: left out (see missing_notes)
            continue
        note = spec.note(raw) if callable(spec.note) else spec.note
        shown = spec.shown(raw) if spec.shown is not None else None
        secs[spec.key] = Section(spec.key, spec.title, note, raw, shown, spec.view(inputs) if spec.view is not None else None)
    return secs


def _plots(inputs: Inputs, staging: Path) -> list[Plot]:
    """Draw the report's PNGs into ``staging``, the verdict's forest plots first; those with nothing to draw are left out.
    Every label is drawn as written (:func:`~sepbench.report.plots.literal_text`)."""
    from sepbench.report import plots  # matplotlib: imported when a report is built, not with the package
    from sepbench.report.forest import forest_plot

    decided = inputs.decided
    with plots.literal_text():
        drawn: list[tuple[str, Path | tuple[Path, int] | None]] = [
            (
                "The verdict on this machine: each path's ratio and 95 % interval, coloured by outcome (log axis)",
                forest_plot(decided.this_machine(), staging / "forest.png"),
            ),
            (
                "The verdict on other machines (log axis)",
                forest_plot(decided.other_machines(), staging / "forest_other_machines.png", by_machine=True),
            ),
            (
                "Predict latency by backend and model (median, error bars q1-q3)",
                plots.latency_plot(inputs.latency, staging / "latency.png"),
            ),
            ("Test accuracy vs parameters", plots.accuracy_params_plot(inputs.matrix, staging / "accuracy_params.png")),
            ("Test accuracy over training seeds", plots.accuracy_seeds_plot(accuracy_by_seed(inputs.df), staging / "accuracy_seeds.png")),
            ("History over commits (ASV)", plots.history_plot(inputs.hist, staging / "history.png")),
        ]
    # a forest plot returns its path and its rows (stated beside the image)
    return [Plot(title, *d) if isinstance(d, tuple) else Plot(title, d) for title, d in drawn if d is not None]


def _folder_or_not(path: Path) -> str:
    """What a results path is, as the no-results message says it: a file given for a folder is no "does not exist"."""
    what = what_is_at(path)
    return "a folder: no result read from it" if what == "a folder" else what if what == "does not exist" else f"{what}, not a folder"


def build_report(
    results_dirs: list[Path],
    asv_dirs: list[Path],
    output: Path,
    title: str = "sepbench: separable vs regular convolutions",
    this_machine: str | None = None,
    specs: Mapping[str, ModelSpec] | None = None,
) -> Report:
    """Load, tabulate, plot and write the report into ``output``.  ``specs``: the models whose counts a result's
    are checked against (default: the built-in ones; :func:`sepbench.core.pairs.known_specs` adds pair files').

    Raises :class:`NoResultsError` when no result file could be read (rates files of the checks count).
    """
    loaded = load_all([Path(d) for d in results_dirs], [Path(d) for d in asv_dirs], specs)
    df = loaded.measurements
    df.attrs["this_machine"] = this_machine  # whose verdict comes first (else the newest run's machine)
    if df.empty and loaded.rates.empty:
        raise NoResultsError(_no_results(loaded))
    hist = history(df)
    inputs = Inputs(df, hist, loaded.machines, loaded.rates, tuple(loaded.records))
    sections = _sections(inputs)
    top, missing = headline(inputs.decided), missing_notes(loaded, hist)
    output, n_files = Path(output), sum(len(v) for v in loaded.files.values())
    built = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    # built in a fresh folder, then moved in: only files this report proves its own (their hashes) are replaced
    left_alone: list[str] = []
    with build_into(output, left_alone) as staging:
        pngs = _plots(inputs, staging)
        staged = write_outputs(
            staging, title, built, STUDY_SOURCE, n_files, list(sections.values()), pngs, missing, loaded.warnings, LEAD_SECTIONS, top
        )
    files = {name: output / path.name for name, path in staged.items()}  # the PNGs among them
    return Report(loaded, sections, top, missing, loaded.warnings + left_alone, files)


def _no_results(loaded: Loaded) -> str:
    """The no-results message: where the report looked, what it skipped, and which commands write results."""
    looked = "\n".join(f"  - {p} ({_folder_or_not(p)})" for p in loaded.looked_in)
    skipped = ("\nSkipped:\n" + "\n".join(f"  - {w}" for w in loaded.warnings)) if loaded.warnings else ""
    return (
        "no results to report. Looked in:\n"
        + looked
        + skipped
        + "\nResults are written by:\n"
        + "\n".join(f"  - {p}" for p in PRODUCERS)
        + "\nor point the report elsewhere with --results DIR / --asv-results DIR."
    )
