"""Across machines: the same figures one column per machine, each machine's fingerprint, ASV's history per commit."""

from __future__ import annotations

import pandas as pd

from sepbench.report import fmt
from sepbench.report.sections.base import Inputs, SectionSpec
from sepbench.report.sections.speed import latency, paired, roofline
from sepbench.results import verdict as V
from sepbench.results.verdict import SINGLE_STATS, figures


def machine_names(df: pd.DataFrame) -> list[str]:
    """The machines the tidy measurements come from (every kind of result, ASV history included), sorted."""
    return sorted(str(m) for m in df["machine"].dropna().unique()) if "machine" in df else []


# the figures of the across-machines table, in row order: metric -> unit (times in seconds per call)
MACHINE_FIGURES = {
    "predict_10k_seconds": "seconds",  # the fastest way to predict the 10,000 test images (verdict.predict_10k)
    "eval_seconds": "seconds",  # the study's measurement: a Keras-style evaluate at batch 32
    "latency_s": "seconds",  # one predict call per batch size (median), as `metric batch=B`
    "paired_ratio": "ratio",  # separable / regular, the per-pair median (section 2e)
    "compute_limit_fraction": "fraction",  # compute limit / fastest predict (section 2d)
}


MACHINE_KEYS = ["backend", "model", "metric", "unit"]


PAIR_MODEL = "separable/regular"  # the model column of a ratio of the two models


def _long(table: pd.DataFrame, metric: str, value: pd.Series | None, model: object = None) -> pd.DataFrame:
    """Rows (machine, backend, model, metric, unit, value) of one figure of an existing table."""
    if table.empty:
        return pd.DataFrame(columns=["machine", *MACHINE_KEYS, "value"])
    models = table["model"] if model is None else model
    out = table.assign(model=models, metric=metric, unit=MACHINE_FIGURES[metric.split(" ")[0]], value=value)
    return out[["machine", *MACHINE_KEYS, "value"]]


def _path_times(df: pd.DataFrame, fig: pd.DataFrame | None) -> pd.DataFrame:
    """Per machine, backend path and model: the fastest 10,000-image predict and the study-style evaluate (seconds)."""
    fig = figures(df) if fig is None else fig
    if fig.empty:
        return _long(fig, "eval_seconds", None)
    fig = fig.drop(columns=["backend"]).rename(columns={"variant": "backend"})
    return pd.concat([_long(fig[fig["metric"].eq(m)], m, fig["value"]) for m in ("predict_10k_seconds", "eval_seconds")])


# ASV's benchmarks of the across-machines figures (benchmarks/predict.py), for machines with no other result
ASV_FAST = "predict.PredictFast.time_predict_10k"  # seconds per call: the fast path predicting the 10,000 test images


ASV_RATIO = "predict.SeparableRatio.track_separable_ratio"  # separable / regular in alternating pairs (unitless)


def _asv_newest(df: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """The single figures of one ASV benchmark, per machine and parameter set the one of the newest
    commit (by the commit date ASV records, ``created``), in the benchmark's own unit."""
    if df.empty or "benchmark" not in df:
        return df.iloc[0:0]
    d = df[df["source_kind"].eq("asv") & df["benchmark"].eq(benchmark) & df["stat"].isin(SINGLE_STATS) & df["backend"].notna()]
    d = d.assign(_date=d["created"].fillna("")).sort_values(["_date", "source_file"], kind="stable")
    return d.drop_duplicates(["machine", "params"], keep="last").drop(columns="_date")


def _asv_fast(df: pd.DataFrame) -> pd.DataFrame:
    """ASV's ``PredictFast`` as ``predict_10k_seconds`` of ``<backend> (fast)`` per model (seconds, the newest commit)."""
    d = _asv_newest(df, ASV_FAST)
    d = d[d["model"].notna()] if not d.empty else d
    if d.empty:
        return _long(d, "predict_10k_seconds", None)
    return _long(d.assign(backend=d["backend"].astype(str) + " (fast)"), "predict_10k_seconds", d["value"])


def _asv_ratio(df: pd.DataFrame) -> pd.DataFrame:
    """ASV's ``SeparableRatio`` as ``paired_ratio`` of ``<backend>`` (path default) and ``<backend> (fast)``
    (separable / regular, unitless, the newest commit)."""
    d = _asv_newest(df, ASV_RATIO)
    if d.empty:
        return _long(d, "paired_ratio", None)
    return _long(d.assign(backend=V.variant(d)), "paired_ratio", d["value"], PAIR_MODEL)


def _machine_order(wide: pd.DataFrame) -> pd.DataFrame:
    """``wide`` sorted for reading: per backend path, the figures in :data:`MACHINE_FIGURES` order, batch
    sizes ascending, then the models."""
    rank = wide["metric"].str.split(" ").str[0].map(list(MACHINE_FIGURES).index)
    batch = pd.to_numeric(wide["metric"].str.extract(r"batch=(\d+)")[0], errors="coerce")
    ordered = wide.assign(_rank=rank, _batch=batch).sort_values(["backend", "_rank", "_batch", "model"], kind="stable")
    return ordered.drop(columns=["_rank", "_batch"]).reset_index(drop=True)


def per_machine(df: pd.DataFrame, fig: pd.DataFrame | None = None, lat: pd.DataFrame | None = None) -> pd.DataFrame:
    """The same figures with one column per machine, one row per backend path, model and figure
    (``metric``, ``unit``): the fastest 10,000-image predict and the study-style evaluate (seconds, the
    rules of :mod:`sepbench.results.verdict`), the median predict per batch size (seconds per call, ASV
    included), the separable / regular ratio measured in pairs (:func:`paired`) and the fraction of the
    machine's compute limit reached (:func:`roofline`: ``compute_limit_s / seconds``, 1.0 = the probed
    GEMM peak).  A cell is empty where that machine did not measure the figure.

    ASV's ``PredictFast`` (seconds) and ``SeparableRatio`` (unitless) fill ``predict_10k_seconds`` of
    ``<backend> (fast)`` and ``paired_ratio`` only in cells no other source filled (a pytest-benchmark
    figure wins), each from that machine's newest ASV commit measuring it (:func:`_asv_newest`).
    ``fig`` (:func:`~sepbench.results.verdict.figures`) and ``lat`` (:func:`latency`) of ``df`` where the caller has them."""
    lat = latency(df) if lat is None else lat
    pairs, roof = paired(df), roofline(df, fig)
    parts = [
        _path_times(df, fig),
        _long(lat, "latency_s", lat["median_s"]).assign(metric="latency_s batch=" + lat["batch_size"].astype(str)),
        _long(pairs, "paired_ratio", pairs["ratio"], PAIR_MODEL),
        _long(roof, "compute_limit_fraction", roof["compute_limit_s"] / roof["seconds"]),
        _asv_fast(df),  # last: a cell the figures above fill keeps theirs
        _asv_ratio(df),
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=MACHINE_KEYS)
    long = pd.concat(parts, ignore_index=True)
    long = long.assign(machine=long["machine"].fillna("?").astype(str), value=pd.to_numeric(long["value"], errors="coerce"))
    long = long.dropna(subset=["value"]).drop_duplicates(["machine", *MACHINE_KEYS], keep="first")
    wide = long.pivot_table(index=MACHINE_KEYS, columns="machine", values="value", aggfunc="first").reset_index().rename_axis(columns=None)
    return _machine_order(wide)


FINGERPRINT_COLUMNS = ["machine", "cpu_model", "cores", "isa", "memory_gib", "os", "accelerator", "gemm_gflops", "digest", "sources"]


def machine_fingerprints(described: pd.DataFrame) -> pd.DataFrame:
    """One row per machine: its hardware as its result files describe it (:mod:`sepbench.results.machines`).

    Each field from the newest file with a sepbench fingerprint (pytest-benchmark, reproduce) that has
    it, else from ASV's ``machine.json``; ``memory_gib`` in GiB (2**30 bytes), ``gemm_gflops`` the
    newest float32 GEMM probe (GFLOP/s); ``digest`` every fingerprint digest seen under that name
    (two means two machines share a name); ``sources`` how many files of each kind describe it."""
    d = described[described["machine"].notna()] if "machine" in described else described
    if d.empty:
        return pd.DataFrame(columns=FINGERPRINT_COLUMNS)
    d = d.assign(_fp=d["digest"].notna(), _created=d["created"].fillna("")).sort_values(["_fp", "_created"], ascending=False)
    first = d.groupby("machine", sort=True).first()  # per column, the first non-empty value in that order
    digests = d.groupby("machine")["digest"].agg(lambda s: ", ".join(sorted(set(s.dropna()))))
    kinds = d.groupby("machine")["source_kind"].agg(lambda s: ", ".join(f"{k} {n}" for k, n in sorted(s.value_counts().items())))
    out = first.assign(memory_gib=pd.to_numeric(first["memory_bytes"], errors="coerce") / 2**30, digest=digests, sources=kinds)
    return out.reset_index().reindex(columns=FINGERPRINT_COLUMNS)


def history(df: pd.DataFrame) -> pd.DataFrame:
    """ASV figures per commit, oldest first: machine, commit, date, benchmark, params, value, unit."""
    cols = ["machine", "commit", "date", "benchmark", "params", "metric", "value", "unit"]
    d = df[(df["source_kind"] == "asv") & df["stat"].isin(SINGLE_STATS)] if not df.empty else df
    if d.empty:
        return pd.DataFrame(columns=cols)
    d = d.rename(columns={"created": "date"}).sort_values(["date", "benchmark", "params"], kind="stable")
    return d[cols].reset_index(drop=True)


def history_wide(hist: pd.DataFrame) -> pd.DataFrame:
    """:func:`history` with one column per commit (short hash, in date order)."""
    if hist.empty:
        return hist
    h = hist.assign(commit=hist["commit"].astype(str).str[:8], params=hist["params"].fillna(""), unit=hist["unit"].fillna(""))
    order = list(dict.fromkeys(h.sort_values("date")["commit"]))
    wide = h.pivot_table(
        index=["machine", "benchmark", "params", "unit"], columns="commit", values="value", aggfunc="first", dropna=False
    ).reset_index()
    commits = [c for c in order if c in wide]
    # dropna=False keeps a commit column that is empty for some rows, but also makes every combination of
    # the index levels (a benchmark with another's unit): keep the rows that hold at least one figure
    wide = wide.dropna(subset=commits, how="all")
    return wide[["machine", "benchmark", "params", "unit", *commits]].rename_axis(columns=None).reset_index(drop=True)


def _several_machines(i: Inputs) -> bool:
    return len(machine_names(i.df)) > 1


ACROSS_MACHINES = SectionSpec(
    key="machines",
    title="3. Across machines",
    note=(
        "The same figures with one column per machine (named by its hardware), per backend path and model: "
        "predict_10k_seconds = the fastest way to predict the 10,000 test images and eval_seconds = the study's Keras-style "
        "evaluate at batch 32 (both as in section 1b), latency_s batch=B = one predict call's median (2b, ASV included), "
        "paired_ratio = separable / regular measured in alternating pairs (2e), compute_limit_fraction = compute limit / the "
        "fastest predict (2d: 1.0 = the machine's probed GEMM peak). Where no benchmark run measured them, ASV fills "
        "predict_10k_seconds of `<backend> (fast)` (PredictFast) and paired_ratio (SeparableRatio): ASV-only machines show "
        "their newest ASV commit (by commit date), and where a machine has both, the pytest-benchmark figure is shown. "
        "Times in ms; empty = not measured on that machine."
    ),
    table=lambda i: per_machine(i.df, i.figures, i.latency),
    shown=lambda t: fmt.across_machines(t, MACHINE_KEYS),
    when=_several_machines,
)

FINGERPRINTS = SectionSpec(
    key="machine_fingerprints",
    title="3a. The machines",
    note=(
        "Each machine as its result files describe it: the hardware fingerprint recorded by pytest-benchmark runs and "
        "`sepbench reproduce` (machine_info / provenance), else ASV's machine.json. cores = physical cores, isa = widest vector "
        "instructions, memory in GiB, gemm_gflops = the newest float32 GEMM probe (GFLOP/s, pytest-benchmark runs only), "
        "digest = the fingerprint's hash (two under one name: two machines share that name), sources = files per kind."
    ),
    table=lambda i: machine_fingerprints(i.described),
    shown=fmt.fingerprints,
    when=_several_machines,
)

HISTORY = SectionSpec(
    key="history",
    title="3b. History per commit (ASV)",
    note="ASV's figure per benchmark and parameters, one column per commit in date order (seconds for time benchmarks).",
    table=lambda i: i.hist,
    shown=lambda t: fmt.by_row_metric(history_wide(t), "unit"),
    optional=True,
)
