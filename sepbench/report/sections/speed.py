"""Sizes and speed: backend x model, latency per batch size, the two models' ratios, the roofline, the paired ratios."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sepbench.core.linearity import affine_collapse
from sepbench.core.pairs import PAIRS, STUDY_PAIR
from sepbench.core.spec import MODELS, get_model_spec
from sepbench.core.study import MAC_RATIO, STUDY, study_ratio
from sepbench.report import fmt
from sepbench.report.sections.base import SectionSpec
from sepbench.results import paired as paired_rules
from sepbench.results import verdict as V
from sepbench.results.verdict import best, figures

TIME_METRICS = ("eval_seconds", "latency_s", "paired_10k_seconds")


MATRIX_METRICS = (
    "params",
    "macs_per_image",
    "float32_bytes",
    "hdf5_bytes",
    "native_bytes",
    "test_loss",
    "test_accuracy",
    "accuracy",
    "eval_seconds",
)


def matrix(df: pd.DataFrame, fig: pd.DataFrame | None = None) -> pd.DataFrame:
    """Backend x model: params, MACs/image, file sizes (bytes), loss, accuracy, 10k-evaluation seconds.
    ``fig``: :func:`~sepbench.results.verdict.figures` of ``df`` where the caller has it."""
    fig = figures(df) if fig is None else fig
    cols = ["machine", "backend", "model", *MATRIX_METRICS]
    if fig.empty:
        return pd.DataFrame(columns=cols)
    fig = fig[fig["metric"].isin(MATRIX_METRICS)]
    wide = fig.pivot_table(index=["machine", "variant", "model"], columns="metric", values="value", aggfunc="first").reset_index()
    wide = wide.rename(columns={"variant": "backend"}).rename_axis(columns=None)
    for m in MATRIX_METRICS:
        if m not in wide:
            wide[m] = float("nan")
    # MACs per image are a property of the model (computed by sepbench.core.spec), whatever the source
    model_macs = wide["model"].map(lambda m: float(MODELS[m].macs) if m in MODELS else float("nan"))
    wide["macs_per_image"] = wide["macs_per_image"].fillna(model_macs)
    return wide[cols].sort_values(["machine", "backend", "model"]).reset_index(drop=True)


def latency(df: pd.DataFrame) -> pd.DataFrame:
    """Predict latency per batch size: median, q1, q3, IQR (seconds per call), images/s, rounds, source."""
    cols = ["machine", "backend", "model", "batch_size", "n_images", "median_s", "q1_s", "q3_s", "iqr_s", "images_per_s", "source"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    d = df[(df["metric"].isin(["latency_s", "images_per_s"])) & df["backend"].notna() & df["model"].notna() & V.is_inference(df)].copy()
    if d.empty:
        return pd.DataFrame(columns=cols)
    d["variant"] = V.variant(d)
    d = d[d["batch_size"].notna()]
    d["what"] = d["metric"].where(d["metric"] == "images_per_s", "latency_" + d["stat"].astype(str))
    # per (machine, variant, model, batch): the preferred source's figures
    keys = ["machine", "variant", "model", "batch_size"]
    chosen = best(d[d["what"] == "latency_median"], keys)[[*keys, "source_file", "source_kind"]]
    d = d.merge(chosen, on=["machine", "variant", "model", "batch_size", "source_file", "source_kind"])
    wide = d.pivot_table(
        index=["machine", "variant", "model", "batch_size", "source_kind"], columns="what", values="value", aggfunc="first"
    ).reset_index()
    n = d.groupby(["machine", "variant", "model", "batch_size"], dropna=False)["n_images"].first().reset_index()
    wide = wide.rename_axis(columns=None).merge(n, on=["machine", "variant", "model", "batch_size"], how="left")
    for c in ("latency_median", "latency_q1", "latency_q3", "latency_iqr", "images_per_s"):
        if c not in wide:
            wide[c] = float("nan")
    wide["latency_iqr"] = wide["latency_iqr"].fillna(wide["latency_q3"] - wide["latency_q1"])
    wide["images_per_s"] = wide["images_per_s"].fillna(wide["n_images"].astype("float") / wide["latency_median"])
    wide = wide.rename(
        columns={
            "variant": "backend",
            "latency_median": "median_s",
            "latency_q1": "q1_s",
            "latency_q3": "q3_s",
            "latency_iqr": "iqr_s",
            "source_kind": "source",
        }
    )
    return wide[cols].sort_values(["machine", "backend", "batch_size", "model"]).reset_index(drop=True)


RATIO_METRICS = ("params", "hdf5_bytes", "native_bytes", "test_accuracy", "eval_seconds", "paired_10k_seconds")


def ratios(df: pd.DataFrame, fig: pd.DataFrame | None = None, lat: pd.DataFrame | None = None) -> pd.DataFrame:
    """Separable / regular of each figure per machine and backend, beside the study's ratio and the MAC ratio.

    For times (lower is faster) the MAC ratio (0.129) is what a speed-up proportional to the
    arithmetic would give; the study's time ratio is that of its 10k ``evaluate`` (0.78).
    ``fig``: :func:`~sepbench.results.verdict.figures` of ``df`` where the caller has it. ``lat``: :func:`latency` of ``df``, likewise.
    """
    base, cand = STUDY_PAIR.model_names  # the study's ratios stand beside these: its pair's
    cols = ["machine", "backend", "figure", base, cand, "ratio", "study_ratio", "mac_ratio"]
    rows = []
    for (machine, variant), figs in V.figure_dicts(figures(df) if fig is None else fig).items():
        for m in RATIO_METRICS:
            pair = V.separable_over_regular(figs, m)
            if pair is None:
                continue
            rows.append(
                {
                    "machine": machine,
                    "backend": variant,
                    "figure": m,
                    base: pair[0],
                    cand: pair[1],
                    "ratio": pair[2],
                    "study_ratio": study_ratio(m if m in STUDY else "eval_seconds") if m in STUDY or m in TIME_METRICS else None,
                    "mac_ratio": MAC_RATIO if m in TIME_METRICS else None,
                }
            )
    lat = latency(df) if lat is None else lat
    if not lat.empty:
        for (machine, backend, batch), sub in lat.groupby(["machine", "backend", "batch_size"], sort=True, dropna=False):
            by = sub.set_index("model")
            if {base, cand} <= set(by.index):
                for what, col in (("latency_s", "median_s"), ("images_per_s", "images_per_s")):
                    reg, sep = float(by.at[base, col]), float(by.at[cand, col])
                    if pd.isna(reg) or pd.isna(sep):
                        continue
                    rows.append(
                        {
                            "machine": machine,
                            "backend": backend,
                            "figure": f"{what} batch={batch}",
                            base: reg,
                            cand: sep,
                            "ratio": sep / reg if reg else float("nan"),
                            "study_ratio": study_ratio("eval_seconds") if what == "latency_s" else 1 / study_ratio("eval_seconds"),
                            "mac_ratio": MAC_RATIO if what == "latency_s" else 1 / MAC_RATIO,
                        }
                    )
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["machine", "backend"], kind="stable").reset_index(drop=True)


def roofline(df: pd.DataFrame, fig: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each backend variant's fastest 10,000-image predict against the compute limit of the run that
    measured it.

    ``compute_limit_s`` = 2 x MACs/image x 10,000 / the run's probed float32 GEMM FLOP/s (the time the
    arithmetic alone needs); ``x_limit`` = time / limit (1.0 = at the machine's GEMM peak); ``chosen``
    what a fast path picked by measurement in that run.  Only pytest-benchmark runs record a roofline probe.
    ``fig``: :func:`~sepbench.results.verdict.figures` of ``df`` where the caller has it.
    """
    cols = ["machine", "backend", "model", "seconds", "gemm_gflops", "floor_source", "mem_gbs", "compute_limit_s", "x_limit", "chosen"]
    cols += ["source"]
    probes = V.roofline_probes(df)
    if probes.empty or "workload" not in df:
        return pd.DataFrame(columns=cols)
    fig = figures(df) if fig is None else fig
    fig = fig[fig["metric"].eq("predict_10k_seconds") & fig["source_file"].isin(probes.index)]
    rows = []
    for r in fig.sort_values(["machine", "variant", "model"]).itertuples():
        probe = probes.loc[r.source_file]
        limit = V.compute_limit_s(r.model, probe["gemm_gflops"])
        rows.append(
            {
                "machine": r.machine,
                "backend": r.variant,
                "model": r.model,
                "seconds": r.value,
                "gemm_gflops": probe["gemm_gflops"],
                "floor_source": probe["floor_source"],
                "mem_gbs": probe["mem_gbs"],
                "compute_limit_s": limit,
                "x_limit": r.value / limit,
                "chosen": r.config if isinstance(r.config, str) else "",
                "source": Path(str(r.source_file)).name,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def paired(df: pd.DataFrame, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Candidate / baseline per machine, pair and backend variant, measured in alternating pairs
    (:func:`sepbench.results.paired.paired`, or ``table`` where already computed), with the MAC ratio beside
    them (and the study's own evaluate ratio for the study's pair)."""
    cols = ["machine", "pair", "backend", "baseline", "candidate", "baseline_s", "candidate_s", "ratio", "q1", "q3", "pairs"]
    cols += ["study_ratio", "mac_ratio", "source"]
    table = paired_rules.paired(df) if table is None else table
    if table.empty:
        return pd.DataFrame(columns=cols)
    table = table.drop(columns=["backend"]).rename(columns={"variant": "backend"})
    table["source"] = [Path(str(s)).name for s in table["source_file"]]
    table["study_ratio"] = [study_ratio("eval_seconds") if p == V.STUDY_PAIR.name else None for p in table["pair"]]
    table["mac_ratio"] = [_mac_ratio(b, c) for b, c in zip(table["baseline"], table["candidate"])]
    return table.reindex(columns=cols)


def _mac_ratio(baseline: object, candidate: object) -> float | None:
    """Candidate / baseline MACs per image of two known models (``None`` for a model this process does not know)."""
    if baseline in MODELS and candidate in MODELS:
        return MODELS[str(candidate)].macs / MODELS[str(baseline)].macs
    return None


MATRIX = SectionSpec(
    key="matrix",
    title="2. Backend x model",
    note=(
        "Parameters, MACs per image, file sizes (bytes), loss, accuracy (test_accuracy: trained weights on all 10,000 test images; "
        "accuracy: on the images a benchmark predicted) and the 10k-evaluation time (s)."
    ),
    table=lambda i: i.matrix,
    shown=fmt.by_column,
)


LATENCY = SectionSpec(
    key="latency",
    title="2b. Predict latency per batch size",
    note=(
        "Seconds per predict call of n_images images (shown in ms): median, first and third quartile and IQR over the benchmark's "
        "rounds; images/s = n_images / median."
    ),
    table=lambda i: i.latency,
    shown=fmt.by_column,
)


def affine_note(names: Sequence[str]) -> str:
    """The affine-map analysis of the models ``names`` (:mod:`sepbench.core.linearity`): what each model without a
    nonlinearity between its layers collapses to (parameters and MACs per image) beside what its layers hold and do."""
    parts, fewer = [], []
    for name in dict.fromkeys(names):
        spec = get_model_spec(name)
        flat = affine_collapse(spec)
        if flat is None:
            parts.append(f"{name} has a nonlinearity (relu) between its layers: it is no single affine map")
            continue
        fewer += [name] if flat.macs < spec.macs else []
        parts.append(
            f"{name} ({spec.params:,} parameters, {spec.macs:,} MACs per image in its layers) is one affine map "
            f"{flat.inputs:,} -> {flat.outputs:,}: {flat.params:,} parameters, {flat.macs:,} MACs ({flat.macs / spec.macs:.3f}x)"
        )
    where = f"; computed as that map, {', '.join(fewer)} would do fewer MACs per image than its layers do" if fewer else ""
    return (
        "Affine-map analysis (no nonlinearity between the layers: their composition is one affine map, softmax aside): "
        + "; ".join(parts)
        + f". Such a model is a linear classifier (its accuracy is at best one's){where}."
    )


RATIOS = SectionSpec(
    key="ratios",
    title="2c. Separable / regular",
    note=(
        "ratio = separable / regular of each figure, beside the study's ratio (for times: its evaluate ratio 0.78) and the MAC ratio "
        f"{MAC_RATIO:.3f} "
        "(the time ratio if time were proportional to the arithmetic; for images/s its inverse). "
        + affine_note([*PAIRS["study"].model_names, *PAIRS["spatial"].model_names])
    ),
    table=lambda i: ratios(i.df, i.figures, i.latency),
    shown=fmt.ratios_shown,
)


ROOFLINE = SectionSpec(
    key="roofline",
    title="2d. Against the machine's roofline",
    note=(
        "Each path's fastest predict of the 10,000 test images (seconds) beside the compute limit "
        "of the run that measured it: 2 x MACs/image x 10,000 / that run's probed float32 GEMM FLOP/s (gemm_gflops, the best of the "
        "compute sources the run timed (GEMMs and an FMA kernel); floor_source = the one that set it, e.g. numpy, torch or "
        "fma kernel (halide); mem_gbs = probed memory bandwidth). x_limit = seconds / limit: 1.0 would be the machine's peak. "
        "chosen = what a fast path picked by timing in that run "
        "(memory format, chunk of images, each layer's lowering or fold/split), so it can differ between machines. "
        "`sepbench profile` shows the GEMM rate at each layer's own shape."
    ),
    table=lambda i: roofline(i.df, i.figures),
    shown=fmt.roofline_shown,
    optional=True,
)


PAIRED = SectionSpec(
    key="paired",
    title="2e. Candidate / baseline, measured in alternating pairs",
    note=(
        "Per pair (the study's: separable / regular; the spatially separable one: spatial / regular) and backend path, the 10,000 "
        "test images predicted by both models in a random order per round, for `pairs` rounds in one run (`nox -s bench`): both "
        "halves of a round see the same machine load, so the per-round ratio (median, q1-q3) is the figure to trust on a shared "
        "machine. baseline_s, candidate_s: each model's median; mac_ratio: what the arithmetic alone would give. "
        "For a path without a Keras-style evaluate, the 'faster' claim is decided from these medians when a run has them."
    ),
    table=lambda i: paired(i.df, i.paired),
    shown=fmt.paired_shown,
    optional=True,
)
