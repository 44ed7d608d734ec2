"""Build the report: load results, compute tables, draw plots, write ``reports/``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sepbench.core.claims import OUTCOME_MEANING
from sepbench.core.study import MAC_RATIO, STUDY_SOURCE
from sepbench.report import fmt
from sepbench.report import tables as T
from sepbench.report.render import Section, write_outputs
from sepbench.results.read_studies import PRODUCER as STUDY_PRODUCER
from sepbench.results.read_studies import STUDY_KINDS
from sepbench.results.sources import Loaded, load_all
from sepbench.util.owned_dir import build_into

PRODUCERS = (
    "`sepbench reproduce` (or `nox -s reproduce`): trains/evaluates both models per backend, writes results/reproduce-<stamp>.json",
    "`nox -s bench`: pytest-benchmark latency runs, saved under results/bench/",
    "`nox -s asv` (ASV): benchmark history per commit in .asv/results/",
    "`nox -s alert-study` / `sepbench gate-study`: the A/B alert's and the benchmark gate's hit and false-alarm rates, "
    "results/<alert-study|gate-study>-<machine>-<stamp>.json",
)


class NoResultsError(Exception):
    """No result file at all: the message says where the report looked and which commands write results."""


# shown before the plots; every other section follows them (collapsed when long)
LEAD_SECTIONS = ("verdict", "verdict_other_machines", "study_vs_measured")


@dataclass
class Report:
    loaded: Loaded
    sections: dict[str, Section]
    missing: list[str]
    warnings: list[str]
    files: dict[str, Path] = field(default_factory=dict)


# sections shown only when they have rows
OPTIONAL_SECTIONS = ("verdict_other_machines", "accuracy_seeds", "evaluate_vs_study", "roofline", "paired")


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
    notes += _missing_studies(kinds)
    if "asv" not in kinds:
        notes.append("No ASV results: no history over commits. Run `nox -s asv`.")
    elif hist["commit"].nunique() < 2:
        notes.append("ASV results for one commit only: the history plot needs at least two commits.")
    machines = T.machine_names(df)
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


def _missing_studies(kinds: set[str]) -> list[str]:
    """Section 4's inputs: a note naming the command for each kind of study absent (one note when both are)."""
    absent = [k for k in STUDY_KINDS if k not in kinds]
    if len(absent) == len(STUDY_KINDS):
        return [
            "No alert or gate study: no measured hit and false-alarm rates of the A/B alert or the benchmark gate "
            f"(section 4). Run `{STUDY_PRODUCER['alert-study']}` (the alert) and `{STUDY_PRODUCER['gate-study']}` (the gate)."
        ]
    return [f"No {k} result: section 4 has no rates for the {k.split('-')[0]}. Run `{STUDY_PRODUCER[k]}`." for k in absent]


STUDY_NOTE = (
    "The newest `sepbench alert-study` and `sepbench gate-study` of each machine: commits that slow one case by real extra "
    "work (factor = the work done / the base commit's; 1.00 = a no-op commit), each judged `trials` times by the A/B alert "
    "(`sepbench alert`) or the benchmark gate (`nox -s bench -- --compare`). At factor 1.00 every alert is a false alarm; "
    "above it an alert on the slowed case is a hit, so `rate` is the false-alarm rate at 1.00 and the hit rate above, "
    "with its 95 % Wilson interval. measured slowdown = the median slowed/base ratio the tool estimated for the slowed case; "
    "other false alarms = trials in which a case that was not slowed alerted; wall s = seconds per alert or gate run "
    "(median / max); commit = the base commit the slowed commits were made on. Configuration: "
)


def _study_section(studies: pd.DataFrame) -> Section | None:
    """Section 4 from the study rows read, or None when there are none (see :func:`missing_notes`)."""
    table = T.studies(studies)
    if table.empty:
        return None
    return Section(
        "studies",
        "4. Alerts and the gate: measured hit and false-alarm rates",
        STUDY_NOTE + fmt.study_configs(table) + ".",
        table,
        fmt.studies(table),
    )


# the report's main sections in order: key (CSV stem), title, note, table of the tidy measurements, its display form
MAIN_SECTIONS: tuple[tuple[str, str, str, Callable[[pd.DataFrame], pd.DataFrame], Callable[[pd.DataFrame], pd.DataFrame]], ...] = (
    (
        "verdict",
        "The verdict: the claims on this machine, per pair and backend path",
        "Each cell: the outcome, the estimate and its 95 % interval [low, high], and how many rounds or seeds. "
        + "; ".join(f"{k} = {m}" for k, m in OUTCOME_MEANING.items())
        + ". Size: separable / regular parameters and native file bytes (exact counts, both below 1). Speed: separable / regular "
        "time from paired rounds of both models in a random order (the study-style evaluate, 10,000 images at batch 32, on each "
        "backend's default path; each fast/int8 path's predict), the median ratio with a percentile bootstrap interval, against "
        "the band 0.95-1.05. Accuracy: regular - separable test accuracy in points (trained weights, all 10,000 test images) "
        "against (0, 5]: on the t interval over seeds where several were trained, else one seed's point, labelled '1 seed'. "
        "The study's row is its published figures (one run each, no interval). Other machines: the next table.",
        T.verdict,
        lambda d: d.fillna(""),
    ),
    (
        "verdict_other_machines",
        "The verdict on other machines",
        "The same records for every other machine in the results read (other result files, the ASV history in history/), with "
        "what each measured: a machine that only ASV measured has its sizes and a point ratio per commit (no interval, so "
        "'inconclusive').",
        T.verdict_other_machines,
        lambda d: d.fillna(""),
    ),
    (
        "study_vs_measured",
        "1. The study vs our measurements",
        "Per metric and model: the study's published value, ours per backend and machine, measured minus study, and measured / study. "
        "Sizes in bytes, loss in nats, accuracy as a fraction, evaluation = wall time of a 10,000-image Keras-style evaluate at batch 32 "
        "in seconds.",
        T.study_vs_measured,
        fmt.study_vs_measured,
    ),
    (
        "claims",
        "1b. The claims, per pair, backend and machine",
        "Every verdict record, as sepbench.core.claims decided it (the same engine `sepbench reproduce` and `bench-summary` use): "
        "outcome, estimate, 95 % interval (low, high), n (rounds, seeds, or 1 for a count or a point), method, unit, note and "
        "the figures it came from (JSON).",
        T.claims,
        fmt.claims,
    ),
    (
        "accuracy_seeds",
        "1d. Test accuracy over training seeds",
        "`sepbench reproduce --seeds N` (`nox -s reproduce`: 5): each model trained with N seeds in the fastest trainer; the mean test "
        "accuracy "
        "with its 95 % t interval beside the study's single run (no seed published). The accuracy claim stands on the interval of the "
        "paired cost.",
        T.accuracy_over_seeds,
        fmt.by_column,
    ),
    (
        "evaluate_vs_study",
        "1c. The study's evaluation time: ours beside it, and why where it is slower",
        "Seconds for model.evaluate-style evaluation of the 10,000 test images at batch 32 (313 steps). The study's machine is unknown "
        "(a hosted notebook), "
        "so 'beats' compares against its published seconds. For TensorFlow the evaluate is taken apart, measured in the same run: "
        "Keras's loop alone "
        "(keras_floor_s: evaluate of a 784->10 softmax regression, same data and batch), the model's compute (graph_b32_s: one "
        "tf.function per batch of 32) "
        "and the rest (loss, metrics, data handling).",
        T.evaluate_vs_study,
        fmt.evaluate_vs_study,
    ),
    (
        "matrix",
        "2. Backend x model",
        "Parameters, MACs per image, file sizes (bytes), loss, accuracy (test_accuracy: trained weights on all 10,000 test images; "
        "accuracy: on the images a benchmark predicted) and the 10k-evaluation time (s).",
        T.matrix,
        fmt.by_column,
    ),
    (
        "latency",
        "2b. Predict latency per batch size",
        "Seconds per predict call of n_images images (shown in ms): median, first and third quartile and IQR over the benchmark's "
        "rounds; images/s = n_images / median.",
        T.latency,
        fmt.by_column,
    ),
    (
        "ratios",
        "2c. Separable / regular",
        "ratio = separable / regular of each figure, beside the study's ratio (for times: its evaluate ratio 0.78) and the MAC ratio "
        f"{MAC_RATIO:.3f} "
        "(the time ratio if time were proportional to the arithmetic; for images/s its inverse).",
        T.ratios,
        fmt.ratios,
    ),
    (
        "roofline",
        "2d. Against the machine's roofline",
        "Each path's fastest predict of the 10,000 test images (seconds) beside the compute limit "
        "of the run that measured it: 2 x MACs/image x 10,000 / that run's probed float32 GEMM FLOP/s (gemm_gflops; mem_gbs = probed "
        "memory bandwidth). "
        "x_limit = seconds / limit: 1.0 would be the machine's GEMM peak. chosen = what a fast path picked by timing in that run "
        "(memory format, chunk of images, each layer's lowering or fold/split), so it can differ between machines. "
        "`sepbench profile` shows the GEMM rate at each layer's own shape.",
        T.roofline,
        fmt.roofline,
    ),
    (
        "paired",
        "2e. Candidate / baseline, measured in alternating pairs",
        "Per pair (the study's: separable / regular; the spatially separable one: spatial / regular) and backend path, the 10,000 "
        "test images predicted by both models in a random order per round, for `pairs` rounds in one run (`nox -s bench`): both "
        "halves of a round see the same machine load, so the per-round ratio (median, q1-q3) is the figure to trust on a shared "
        "machine. baseline_s, candidate_s: each model's median; mac_ratio: what the arithmetic alone would give. "
        "For a path without a Keras-style evaluate, the 'faster' claim is decided from these medians when a run has them.",
        T.paired,
        fmt.paired,
    ),
)


def _machine_sections(df: pd.DataFrame, described: pd.DataFrame) -> list[Section]:
    """Section 3 (the same figures, one column per machine) and 3a (each machine's fingerprint)."""
    pm, fp = T.per_machine(df), T.machine_fingerprints(described)
    return [
        Section(
            "machines",
            "3. Across machines",
            "The same figures with one column per machine (named by its hardware), per backend path and model: "
            "predict_10k_seconds = the fastest way to predict the 10,000 test images and eval_seconds = the study's Keras-style "
            "evaluate at batch 32 (both as in section 1b), latency_s batch=B = one predict call's median (2b, ASV included), "
            "paired_ratio = separable / regular measured in alternating pairs (2e), compute_limit_fraction = compute limit / the "
            "fastest predict (2d: 1.0 = the machine's probed GEMM peak). Where no benchmark run measured them, ASV fills "
            "predict_10k_seconds of `<backend> (fast)` (PredictFast) and paired_ratio (SeparableRatio): ASV-only machines show "
            "their newest ASV commit (by commit date), and where a machine has both, the pytest-benchmark figure is shown. "
            "Times in ms; empty = not measured on that machine.",
            pm,
            fmt.across_machines(pm, T.MACHINE_KEYS),
        ),
        Section(
            "machine_fingerprints",
            "3a. The machines",
            "Each machine as its result files describe it: the hardware fingerprint recorded by pytest-benchmark runs and "
            "`sepbench reproduce` (machine_info / provenance), else ASV's machine.json. cores = physical cores, isa = widest vector "
            "instructions, memory in GiB, gemm_gflops = the newest float32 GEMM probe (GFLOP/s, pytest-benchmark runs only), "
            "digest = the fingerprint's hash (two under one name: two machines share that name), sources = files per kind.",
            fp,
            fmt.fingerprints(fp),
        ),
    ]


def _sections(df: pd.DataFrame, hist: pd.DataFrame, described: pd.DataFrame, studies: pd.DataFrame | None = None) -> dict[str, Section]:
    secs = []
    for key, title, note, table, shown in MAIN_SECTIONS:
        raw = table(df)
        secs.append(Section(key, title, note, raw, shown(raw)))
    secs = [sec for sec in secs if sec.key not in OPTIONAL_SECTIONS or not sec.raw.empty]  # nothing to show: left out (see missing_notes)
    if len(T.machine_names(df)) > 1:
        secs += _machine_sections(df, described)
    if not hist.empty:
        hw = T.history_wide(hist)
        secs.append(
            Section(
                "history",
                "3b. History per commit (ASV)",
                "ASV's figure per benchmark and parameters, one column per commit in date order (seconds for time benchmarks).",
                hist,
                fmt.by_row_metric(hw, "unit"),
            )
        )
    study = _study_section(studies) if studies is not None else None
    if study is not None:
        secs.append(study)
    srcs = T.sources(df, studies)
    secs.append(Section("sources", "Sources", "Every file read, with its provenance.", srcs, srcs.fillna("")))
    secs.append(
        Section(
            "measurements",
            "All measurements (tidy)",
            f"{len(df)} rows, one per measured figure with its provenance (source file, machine, CPU, commit); the CSV is the complete "
            "data behind every table.",
            df,
            None,
        )
    )
    return {s.key: s for s in secs}


def build_report(
    results_dirs: list[Path],
    asv_dirs: list[Path],
    output: Path,
    title: str = "sepbench: separable vs regular convolutions",
    this_machine: str | None = None,
) -> Report:
    """Load, tabulate, plot and write the report into ``output``.

    Raises :class:`NoResultsError` when no result file could be read (alert and gate studies count).
    """
    from sepbench.report import plots

    loaded = load_all([Path(d) for d in results_dirs], [Path(d) for d in asv_dirs])
    df = loaded.measurements
    df.attrs["this_machine"] = this_machine  # whose verdict comes first (else the newest run's machine)
    if df.empty and loaded.studies.empty:
        looked = "\n".join(f"  - {p} ({'exists' if p.is_dir() else 'does not exist'})" for p in loaded.looked_in)
        skipped = ("\nSkipped:\n" + "\n".join(f"  - {w}" for w in loaded.warnings)) if loaded.warnings else ""
        raise NoResultsError(
            "no results to report. Looked in:\n"
            + looked
            + skipped
            + "\nResults are written by:\n"
            + "\n".join(f"  - {p}" for p in PRODUCERS)
            + "\nor point the report elsewhere with --results DIR / --asv-results DIR."
        )
    hist = T.history(df)
    sections = _sections(df, hist, loaded.machines, loaded.studies)
    missing = missing_notes(loaded, hist)
    output = Path(output)
    built = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    n_files = sum(len(v) for v in loaded.files.values())
    # built in a fresh folder, then moved in: only files this report owns (its manifest) are replaced
    with build_into(output, adopt=("index.html", 'data-report="sepbench"')) as staging:
        pngs: list[tuple[str, Path]] = []
        for title_, path in (
            (
                "Predict latency by backend and model (median, error bars q1-q3)",
                plots.latency_plot(sections["latency"].raw, staging / "latency.png"),
            ),
            ("Test accuracy vs parameters", plots.accuracy_params_plot(sections["matrix"].raw, staging / "accuracy_params.png")),
            ("Test accuracy over training seeds", plots.accuracy_seeds_plot(T.accuracy_over_seeds(df), staging / "accuracy_seeds.png")),
            (
                "Separable / regular time per backend vs the MAC ratio",
                plots.speed_ratio_plot(sections["ratios"].raw, staging / "speed_ratio.png"),
            ),
            ("History over commits (ASV)", plots.history_plot(hist, staging / "history.png")),
        ):
            if path is not None:
                pngs.append((title_, path))
        staged = write_outputs(
            staging, title, built, STUDY_SOURCE, n_files, list(sections.values()), pngs, missing, loaded.warnings, LEAD_SECTIONS
        )
    files = {name: output / path.name for name, path in staged.items()} | {p.name: output / p.name for _, p in pngs}
    return Report(loaded, sections, missing, loaded.warnings, files)
