"""The report's tables, assembled with pandas from the tidy measurements (numbers stay raw here;
:mod:`sepbench.report.fmt` formats them for HTML and Markdown).

Which figure counts, the fastest predict, the paired ratios and the figures the claims are decided
from are the rules of :mod:`sepbench.results.verdict` (``bench-summary`` uses the same); this module
only lays them out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sepbench.core.claims import CLAIMS, Verdict, decide_claims
from sepbench.core.evidence import study_verdict_inputs
from sepbench.core.pairs import STUDY_PAIR
from sepbench.core.seed_stats import interval
from sepbench.core.spec import MODELS
from sepbench.core.study import EVAL_BATCH_SIZE, MAC_RATIO, STUDY, STUDY_UNITS, study_ratio
from sepbench.core.study import evaluate_steps as eval_steps
from sepbench.results import verdict as V
from sepbench.results.read_studies import STUDY_FIELDS
from sepbench.results.schema import WORKLOAD_GRAPH_FORWARD, WORKLOAD_SEEDS
from sepbench.results.verdict import SINGLE_STATS, TEST_IMAGES, best, figures

STUDY_METRICS = tuple(STUDY)  # params, hdf5_bytes, test_loss, test_accuracy, eval_seconds
MODEL_ORDER = STUDY_PAIR.model_names  # the study published its figures for these two
TIME_METRICS = ("eval_seconds", "latency_s", "paired_10k_seconds")


def study_vs_measured(df: pd.DataFrame) -> pd.DataFrame:
    """Per study metric and model: the study's value, ours per backend and machine, the difference."""
    fig = figures(df)
    rows = []
    for metric in STUDY_METRICS:
        for model in MODEL_ORDER:
            study = STUDY[metric][model]
            sub = fig[(fig["metric"] == metric) & (fig["model"] == model)] if not fig.empty else fig
            if sub.empty:
                rows.append(
                    {
                        "metric": metric,
                        "unit": STUDY_UNITS[metric],
                        "model": model,
                        "study": study,
                        "machine": None,
                        "backend": None,
                        "measured": None,
                        "source": None,
                    }
                )
            for r in sub.sort_values(["machine", "variant"]).itertuples():
                rows.append(
                    {
                        "metric": metric,
                        "unit": STUDY_UNITS[metric],
                        "model": model,
                        "study": study,
                        "machine": r.machine,
                        "backend": r.variant,
                        "measured": r.value,
                        "source": r.source_kind,
                    }
                )
    out = pd.DataFrame(rows, columns=["metric", "unit", "model", "study", "machine", "backend", "measured", "source"])
    out["measured"] = pd.to_numeric(out["measured"], errors="coerce")
    out["difference"] = out["measured"] - out["study"]
    out["measured/study"] = out["measured"] / out["study"]
    return out[["metric", "unit", "model", "machine", "backend", "study", "measured", "difference", "measured/study", "source"]]


STUDY_MACHINE, STUDY_BACKEND = "(the study)", "keras (published)"
CLAIM_COLUMNS = [
    "machine",
    "pair",
    "backend",
    "claim",
    "outcome",
    "estimate",
    "low",
    "high",
    "n",
    "method",
    "unit",
    "note",
    "busy",
    "figures",
]


def _claim_rows(machine: object, pair: str, backend: str, verdicts: list[Verdict]) -> list[dict[str, object]]:
    return [
        {"machine": machine, "pair": pair, "backend": backend, **{k: v for k, v in x.as_dict().items() if k != "claim"}, "claim": x.claim}
        for x in verdicts
    ]


def claims(df: pd.DataFrame) -> pd.DataFrame:
    """Every verdict record, one row per machine, backend path and claim (the study's own first):
    outcome, estimate, 95 % interval, n, method, unit, note, busy (measured on a machine short of cores) and the figures it came from, as
    :func:`sepbench.results.verdict.claim_verdicts` decided them."""
    evidence, missing, point_decides = study_verdict_inputs()
    rows = _claim_rows(STUDY_MACHINE, V.STUDY, STUDY_BACKEND, decide_claims(evidence, missing=missing, point_decides=point_decides))
    for machine, pair, variant, verdicts in V.claim_verdicts(df):
        rows += _claim_rows(machine, pair, variant, verdicts)
    out = pd.DataFrame(rows, columns=CLAIM_COLUMNS)
    out["figures"] = [json.dumps(f, default=str, sort_keys=True) for f in out["figures"]]
    return out


VERDICT_COLUMNS = {c.key: c.column for c in CLAIMS}


def this_machine(df: pd.DataFrame) -> object:
    """The machine the verdict is for: this one (by its hardware name) where it has results, else the
    machine of the newest benchmark or reproduce result; ``None`` when no result names one."""
    if df.empty:
        return None
    here = df.attrs.get("this_machine")  # set by the caller that knows the machine (the CLI): the report imports no probe
    if here is not None and df["machine"].eq(here).any():
        return here
    own = df[df["source_kind"].isin(["pytest-benchmark", "reproduce"]) & df["machine"].notna()]
    pool = own if not own.empty else df[df["machine"].notna()]
    return pool.sort_values("created", kind="stable")["machine"].iloc[-1] if not pool.empty else None


def _verdict_table(records: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (machine, pair, backend), sub in records.groupby(["machine", "pair", "backend"], sort=False, dropna=False):
        row = {"machine": machine, "pair": pair, "backend": backend}
        for r in sub.itertuples():
            row[VERDICT_COLUMNS[r.claim]] = Verdict.from_dict({**r._asdict(), "figures": json.loads(r.figures)}).cell()
        rows.append(row)
    return pd.DataFrame(rows, columns=["machine", "pair", "backend", *VERDICT_COLUMNS.values()])


def verdict(df: pd.DataFrame) -> pd.DataFrame:
    """The answer first: the study's row, then one row per backend path of :func:`this_machine`, one
    column per claim, each cell the outcome with its estimate and 95 % interval (:meth:`Verdict.cell`)."""
    records = claims(df)
    here = this_machine(df)
    keep = records["machine"].eq(STUDY_MACHINE) | (records["machine"].eq(here) if here is not None else records["machine"].isna())
    return _verdict_table(records[keep])


def verdict_other_machines(df: pd.DataFrame) -> pd.DataFrame:
    """The same verdicts for every other machine the results name (other result files, ``history/``),
    with whatever each measured: an ASV-only machine shows its sizes and its point ratios."""
    records = claims(df)
    here = this_machine(df)
    other = ~records["machine"].eq(STUDY_MACHINE) & ~(records["machine"].eq(here) if here is not None else records["machine"].isna())
    return _verdict_table(records[other])


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


def matrix(df: pd.DataFrame) -> pd.DataFrame:
    """Backend x model: params, MACs/image, file sizes (bytes), loss, accuracy, 10k-evaluation seconds."""
    fig = figures(df)
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


def ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Separable / regular of each figure per machine and backend, beside the study's ratio and the MAC ratio.

    For times (lower is faster) the MAC ratio (0.129) is what a speed-up proportional to the
    arithmetic would give; the study's time ratio is that of its 10k ``evaluate`` (0.78).
    """
    base, cand = MODEL_ORDER  # the study's ratios stand beside these: its pair's
    cols = ["machine", "backend", "figure", base, cand, "ratio", "study_ratio", "mac_ratio"]
    rows = []
    for (machine, variant), figs in V.figure_dicts(figures(df)).items():
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
    lat = latency(df)
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


def _path_times(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine, backend path and model: the fastest 10,000-image predict and the study-style evaluate (seconds)."""
    fig = figures(df)
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


def per_machine(df: pd.DataFrame) -> pd.DataFrame:
    """The same figures with one column per machine, one row per backend path, model and figure
    (``metric``, ``unit``): the fastest 10,000-image predict and the study-style evaluate (seconds, the
    rules of :mod:`sepbench.results.verdict`), the median predict per batch size (seconds per call, ASV
    included), the separable / regular ratio measured in pairs (:func:`paired`) and the fraction of the
    machine's compute limit reached (:func:`roofline`: ``compute_limit_s / seconds``, 1.0 = the probed
    GEMM peak).  A cell is empty where that machine did not measure the figure.

    ASV's ``PredictFast`` (seconds) and ``SeparableRatio`` (unitless) fill ``predict_10k_seconds`` of
    ``<backend> (fast)`` and ``paired_ratio`` only in cells no other source filled (a pytest-benchmark
    figure wins), each from that machine's newest ASV commit measuring it (:func:`_asv_newest`)."""
    lat, pairs, roof = latency(df), paired(df), roofline(df)
    parts = [
        _path_times(df),
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


def sources(df: pd.DataFrame, studies: pd.DataFrame | None = None) -> pd.DataFrame:
    """The files read, with their provenance and how many measurements each gave (a study file: one per factor)."""
    cols = ["source_kind", "source_file", "machine", "cpu", "commit", "created", "measurements"]
    parts = []
    if not df.empty:
        g = df.groupby(["source_kind", "source_file"], dropna=False)
        out = g.agg(
            machine=("machine", "first"),
            cpu=("cpu", "first"),
            commit=("commit", "first"),
            created=("created", "first"),
            measurements=("value", "size"),
        ).reset_index()
        parts.append(out[cols])
    if studies is not None and not studies.empty:
        g = studies.groupby(["kind", "source_file"], dropna=False)
        out = g.agg(machine=("machine", "first"), commit=("commit", "first"), created=("created", "first"), measurements=("factor", "size"))
        parts.append(out.reset_index().rename(columns={"kind": "source_kind"}).assign(cpu=None)[cols])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


_STUDY_RENAME = {"kind": "study", "created": "date"}
# the reader's fields, as the section names them
STUDY_COLUMNS = [_STUDY_RENAME.get(f, f) for f in STUDY_FIELDS]


def studies(loaded_studies: pd.DataFrame) -> pd.DataFrame:
    """Section 4: the newest alert and gate study of each machine (by the date it was written, then
    file name), one row per slowdown factor, in factor order."""
    if loaded_studies.empty:
        return pd.DataFrame(columns=STUDY_COLUMNS)
    s = loaded_studies.rename(columns=_STUDY_RENAME)
    when = pd.to_datetime(s["date"], utc=True, errors="coerce", format="ISO8601")
    files = s.assign(_when=when).drop_duplicates("source_file")
    files = files.sort_values(["_when", "source_file"], na_position="first", kind="stable")
    newest = files.groupby(["study", "machine"], sort=False)["source_file"].last()
    out = s[s["source_file"].isin(set(newest))]
    return out.sort_values(["study", "machine", "factor"], kind="stable").reset_index(drop=True)[STUDY_COLUMNS]


def _graph_forward(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine and model, from the newest pytest-benchmark run that has the TensorFlow graph
    forward: its median seconds, Keras's evaluate floor, and that same run's TensorFlow evaluate
    (so the parts and the whole come from one run)."""
    cols = ["machine", "model", "graph_s", "floor_s", "run_evaluate_s", "source_file"]
    if "workload" not in df or not df["workload"].eq(WORKLOAD_GRAPH_FORWARD).any():
        return pd.DataFrame(columns=cols)
    g = df[df["workload"].eq(WORKLOAD_GRAPH_FORWARD) & df["model"].notna() & df["metric"].eq("latency_s") & df["stat"].eq("median")]
    newest = best(g, ["machine", "model"])[["machine", "model", "source_file", "value"]].rename(columns={"value": "graph_s"})
    rows = []
    for r in newest.itertuples():
        run = df[df["source_file"].eq(r.source_file) & df["model"].eq(r.model)]
        floor = run[run["workload"].eq(WORKLOAD_GRAPH_FORWARD) & run["metric"].eq("keras_evaluate_floor_s")]["value"]
        ev = run[
            run["workload"].eq("evaluate")
            & run["backend"].eq("tensorflow")
            & run["metric"].eq("eval_seconds")
            & run["stat"].eq("median")
            & pd.to_numeric(run["batch_size"], errors="coerce").eq(EVAL_BATCH_SIZE)
        ]["value"]
        rows.append(
            {
                "machine": r.machine,
                "model": r.model,
                "graph_s": r.graph_s,
                "floor_s": floor.iloc[0] if len(floor) else None,
                "run_evaluate_s": ev.iloc[0] if len(ev) else None,
                "source_file": r.source_file,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def evaluate_vs_study(df: pd.DataFrame) -> pd.DataFrame:
    """The study-style evaluation (10,000 images at batch 32) per machine, backend and model beside the
    study's, and, where TensorFlow's anatomy was measured, where Keras's evaluate time goes.

    Columns (seconds unless named otherwise): ``study_s``, ``evaluate_s``, ``ms_per_step`` (313 steps),
    ``beats_study``; for TensorFlow ``keras_floor_s`` (evaluate of a softmax regression: Keras's loop
    with next to no model), ``graph_b32_s`` (the model as one ``tf.function`` called per batch of
    32: its compute), ``rest_s`` (evaluate minus both: loss, metrics, data handling), and ``why``.
    Where the anatomy was measured, ``evaluate_s`` is that same run's evaluate, so the parts add up
    to it (``source`` names the file); elsewhere it is the report's figure (section 1).
    """
    cols = [
        "machine",
        "backend",
        "model",
        "study_s",
        "evaluate_s",
        "ms_per_step",
        "beats_study",
        "keras_floor_s",
        "graph_b32_s",
        "rest_s",
        "source",
        "why",
    ]
    fig = figures(df)
    ev = fig[fig["metric"].eq("eval_seconds")] if not fig.empty else fig
    if ev.empty:
        return pd.DataFrame(columns=cols)
    steps = eval_steps(TEST_IMAGES, EVAL_BATCH_SIZE)
    anatomy = _graph_forward(df).set_index(["machine", "model"])
    rows = []
    for r in ev.sort_values(["machine", "variant", "model"]).itertuples():
        study = STUDY["eval_seconds"].get(r.model)
        value, source = float(r.value), r.source_kind
        row = {
            "machine": r.machine,
            "backend": r.variant,
            "model": r.model,
            "study_s": study,
            "keras_floor_s": None,
            "graph_b32_s": None,
            "rest_s": None,
        }
        if r.variant == "tensorflow" and (r.machine, r.model) in anatomy.index:
            a = anatomy.loc[(r.machine, r.model)]
            floor, graph, run_eval = a.get("floor_s"), a.get("graph_s"), a.get("run_evaluate_s")
            if pd.notna(floor) and pd.notna(graph) and pd.notna(run_eval):
                value, source = float(run_eval), f"pytest-benchmark {Path(str(a.get('source_file'))).name}"
                row.update(keras_floor_s=float(floor), graph_b32_s=float(graph), rest_s=float(value - floor - graph))
        row.update(
            evaluate_s=value, ms_per_step=value / steps * 1e3, beats_study=bool(value < study) if study else None, why="", source=source
        )
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    out["why"] = [_why(out, i) for i in out.index]
    return out


def _why(table: pd.DataFrame, i: int) -> str:
    """The measured explanation of one row of :func:`evaluate_vs_study`."""
    r = table.loc[i]
    steps = eval_steps(TEST_IMAGES, EVAL_BATCH_SIZE)
    if r["beats_study"]:
        return f"beats the study's {r['study_s']:.2f} s ({r['evaluate_s'] / r['study_s']:.2f}x)"
    if pd.isna(r["keras_floor_s"]):
        return "slower than the study; not taken apart (run `nox -s bench` with TensorFlow for the graph forward and Keras's floor)"
    parts = [
        f"Keras's evaluate loop alone (a softmax regression, same data and batch) takes {r['keras_floor_s']:.2f} s "
        f"({r['keras_floor_s'] / steps * 1e3:.2f} ms/step, vs the study's {r['study_s'] / steps * 1e3:.2f} ms/step for the whole step)",
        f"the model's compute as a graph at batch 32 {r['graph_b32_s']:.2f} s",
        f"loss, metrics and the rest {r['rest_s']:.2f} s "
        "(both parts include TensorFlow's per-call dispatch, so the rest can come out near or below 0)",
    ]
    other = table[(table["machine"] == r["machine"]) & (table["backend"] == r["backend"]) & (table["model"] != r["model"])]
    if r["model"] == MODEL_ORDER[1] and len(other) and pd.notna(other["graph_b32_s"].iloc[0]):
        reg = float(other["graph_b32_s"].iloc[0])
        parts.append(
            f"the separable graph takes {r['graph_b32_s'] / reg:.2f}x the regular one's time for {MAC_RATIO:.3f}x the MACs "
            "(TensorFlow's CPU depthwise convolution at batch 32 is slower per MAC than its Conv2D)"
        )
    return "; ".join(parts)


def roofline(df: pd.DataFrame) -> pd.DataFrame:
    """Each backend variant's fastest 10,000-image predict against the compute limit of the run that
    measured it.

    ``compute_limit_s`` = 2 x MACs/image x 10,000 / the run's probed float32 GEMM FLOP/s (the time the
    arithmetic alone needs); ``x_limit`` = time / limit (1.0 = at the machine's GEMM peak); ``chosen``
    what a fast path picked by measurement in that run.  Only pytest-benchmark runs record a roofline probe.
    """
    cols = ["machine", "backend", "model", "seconds", "gemm_gflops", "mem_gbs", "compute_limit_s", "x_limit", "chosen", "source"]
    probes = V.roofline_probes(df)
    if probes.empty or "workload" not in df:
        return pd.DataFrame(columns=cols)
    fig = figures(df)
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
                "mem_gbs": probe["mem_gbs"],
                "compute_limit_s": limit,
                "x_limit": r.value / limit,
                "chosen": r.config if isinstance(r.config, str) else "",
                "source": Path(str(r.source_file)).name,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def paired(df: pd.DataFrame) -> pd.DataFrame:
    """Candidate / baseline per machine, pair and backend variant, measured in alternating pairs
    (:func:`sepbench.results.verdict.paired`), with the MAC ratio beside them (and the study's own
    evaluate ratio for the study's pair)."""
    cols = ["machine", "pair", "backend", "baseline", "candidate", "baseline_s", "candidate_s", "ratio", "q1", "q3", "pairs"]
    cols += ["study_ratio", "mac_ratio", "source"]
    table = V.paired(df)
    if table.empty:
        return pd.DataFrame(columns=cols)
    table = table.drop(columns=["backend"]).rename(columns={"variant": "backend"})
    table["source"] = [Path(str(s)).name for s in table["source_file"]]
    table["study_ratio"] = [study_ratio("eval_seconds") if p == V.STUDY else None for p in table["pair"]]
    table["mac_ratio"] = [_mac_ratio(b, c) for b, c in zip(table["baseline"], table["candidate"])]
    return table.reindex(columns=cols)


def _mac_ratio(baseline: object, candidate: object) -> float | None:
    """Candidate / baseline MACs per image of two known models (``None`` for a model this process does not know)."""
    if baseline in MODELS and candidate in MODELS:
        return MODELS[str(candidate)].macs / MODELS[str(baseline)].macs
    return None


def accuracy_over_seeds(df: pd.DataFrame) -> pd.DataFrame:
    """``reproduce --seeds``: per machine and model the test accuracy over seeds (mean, 95 % t interval,
    sd, n) beside the study's single figure, and each seed's accuracy (the newest such run)."""
    cols = ["machine", "model", "seeds", "mean", "low", "high", "sd", "study", "per_seed"]
    d = df[df["workload"].eq(WORKLOAD_SEEDS) & df["metric"].eq("test_accuracy")] if "workload" in df else df.iloc[0:0]
    if d.empty:
        return pd.DataFrame(columns=cols)
    newest = d.sort_values("created").groupby("machine", dropna=False)["source_file"].last()
    rows = []
    for (machine, model), sub in d[d["source_file"].isin(newest.values)].groupby(["machine", "model"], sort=True, dropna=False):
        values = sub.sort_values("params")["value"].tolist()
        iv = interval(values) if len(values) >= 2 else None
        rows.append(
            {
                "machine": machine,
                "model": model,
                "seeds": len(values),
                "mean": iv.mean if iv else values[0],
                "low": iv.low if iv else None,
                "high": iv.high if iv else None,
                "sd": iv.sd if iv else None,
                "study": STUDY["test_accuracy"].get(model),
                "per_seed": " ".join(f"{v:.4f}" for v in values),
            }
        )
    return pd.DataFrame(rows, columns=cols)
