"""The rules that turn tidy figures into a verdict: which figure counts, which way is the fastest,
what the study-style measurement is, and the separable / regular ratios of the figures (the paired
rounds are :mod:`sepbench.results.paired`; the claims, :mod:`sepbench.results.claim_verdicts`).

``sepbench bench-summary`` (one saved pytest-benchmark run) and the report (every result read) both
decide with these functions, so "fastest", "faster" and a paired ratio mean the same in both.
Input is the tidy table of :mod:`sepbench.results.tidy` (``value`` in seconds for times).  Pure
pandas: no framework, no file access.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from sepbench.core.data import TEST_IMAGES, TRAIN_IMAGES
from sepbench.core.evidence import Figures
from sepbench.core.pairs import PAIRS, STUDY_PAIR
from sepbench.core.spec import MODELS
from sepbench.core.study import EVAL_BATCH_SIZE
from sepbench.core.traffic import compute_limit_seconds
from sepbench.results.schema import (
    WORKLOAD_GRAPH_FORWARD,
    WORKLOAD_PAIRED,
    WORKLOAD_PAIRED_EVALUATE,
    WORKLOAD_PAIRED_TRAIN,
    WORKLOAD_SEEDS,
    ResultsError,
)
from sepbench.results.tidy import SOURCE_PRIORITY

SINGLE_STATS = ("value", "median")  # the stats that are one figure of a benchmark
# workloads that are no model's way to predict: the TensorFlow graph-forward case takes Keras's
# evaluate apart, and a paired case times both models in one case
NOT_A_PATH = (WORKLOAD_GRAPH_FORWARD, WORKLOAD_PAIRED, WORKLOAD_PAIRED_EVALUATE, WORKLOAD_PAIRED_TRAIN, WORKLOAD_SEEDS)


# ---------------------------------------------------------------- labels and selection


def variant(df: pd.DataFrame) -> pd.Series:
    """The backend, with the inference path when it is not the default one: ``torch (fast)``."""
    path = df["path"].astype(object).where(df["path"].notna(), "default").astype(str)
    backend = df["backend"].astype(object).where(df["backend"].notna(), "?").astype(str)
    return backend.where(path == "default", backend + " (" + path + ")")


def pair_of(df: pd.DataFrame) -> pd.Series:
    """The pair each row belongs to: its ``pair`` column, the study's where it names none."""
    if "pair" not in df:
        return pd.Series(STUDY_PAIR.name, index=df.index, dtype=object)
    return (
        df["pair"].astype(object).where(df["pair"].notna(), STUDY_PAIR.name)
    )  # a result that names no pair is from before pairs were data


def pair_models(df: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Pair name -> (baseline, candidate): the built-in pairs, and each other pair the results name with
    the models its paired rows gave each role (``params`` ``role=baseline`` / ``role=candidate``)."""
    out = {name: p.model_names for name, p in PAIRS.items()}
    if df.empty or "params" not in df:
        return out
    roles = df[df["params"].isin(["role=baseline", "role=candidate"]) & df["model"].notna()]
    roles = roles.assign(_pair=pair_of(roles), _created=roles["created"].fillna("")).sort_values("_created", kind="stable")
    for name, g in roles.groupby("_pair", sort=True):
        if name in out:
            continue
        g = g[g["source_file"].eq(g["source_file"].iloc[-1])]  # the newest run's: a pair file's models may have been renamed
        by_role = dict(zip(g["params"], g["model"]))
        if "role=baseline" in by_role and "role=candidate" in by_role:
            out[str(name)] = (str(by_role["role=baseline"]), str(by_role["role=candidate"]))
    return out


def is_inference(df: pd.DataFrame) -> pd.Series:
    """Rows that belong to an inference path's figures: all but the TensorFlow graph-forward case (which
    only takes Keras's evaluate apart) and reproduce's per-seed accuracies (decided on their interval)."""
    if "workload" not in df:
        return pd.Series(True, index=df.index)
    return ~df["workload"].isin([WORKLOAD_GRAPH_FORWARD, WORKLOAD_SEEDS])  # paired cases stay: they time paths


def best(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per ``keys``: the preferred source (reproduce, then pytest-benchmark, then ASV), newest first."""
    if df.empty:
        return df
    d = df.assign(_prio=df["source_kind"].map(SOURCE_PRIORITY).fillna(9), _created=df["created"].fillna(""))
    d = d.sort_values(["_prio", "_created"], ascending=[True, False], kind="stable")
    return d.drop_duplicates(keys, keep="first").drop(columns=["_prio", "_created"])


def way(df: pd.DataFrame) -> pd.Series:
    """How a 10,000-image figure was measured: ``evaluate b32``, ``default b1024``, or the path alone
    (``fast``) for a batch-free path, which ran in its own chunks so its batch size means nothing."""
    batch = df["batch_size"].map(lambda b: f" b{int(b)}" if pd.notna(b) else "")
    evaluate = df["workload"].eq("evaluate")
    name = df["path"].astype(object).where(df["path"].notna(), "default").astype(str).where(~evaluate, "evaluate")
    free = df["batch_free"].eq(True) & ~evaluate if "batch_free" in df else pd.Series(False, index=df.index)
    return name.where(free, name + batch)


def ten_k_ways(df: pd.DataFrame) -> pd.DataFrame:
    """Every way one model predicted (or Keras-style evaluated) all 10,000 test images: one row per
    benchmark with its median seconds in ``value``, ``variant`` and ``way``.  Graph-forward and paired
    cases are never among them."""
    if df.empty or "workload" not in df or "n_images" not in df:
        return df.iloc[0:0].assign(variant=pd.Series(dtype=object), way=pd.Series(dtype=object))
    m = df[
        df["metric"].isin(["latency_s", "eval_seconds"])
        & df["stat"].eq("median")
        & ~df["workload"].isin(NOT_A_PATH)
        & pd.to_numeric(df["n_images"], errors="coerce").eq(TEST_IMAGES)
        & df["backend"].notna()
        & df["model"].notna()
    ]
    return m.assign(variant=variant(m), way=way(m))


def quickest_rows(ways: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The quickest row of ``ways`` per ``keys`` (ties: the first in table order)."""
    return ways.sort_values("value", kind="stable").drop_duplicates(keys, keep="first")


def predict_10k(df: pd.DataFrame) -> pd.DataFrame:
    """``predict_10k_seconds``: the fastest median time to predict all 10,000 test images, per variant.

    The figure that decides "faster" for an inference path that has no Keras-style evaluate.  The
    fastest batch size within each run, then the newest run (not the fastest of all runs: a minimum
    over noisy runs is biased low).
    """
    m = ten_k_ways(df)
    m = m[m["workload"].eq("predict")]
    if m.empty:
        return m
    m = quickest_rows(m, ["machine", "variant", "model", "source_file"])
    m = best(m, ["machine", "variant", "model", "source_kind"])
    return m.assign(metric="predict_10k_seconds", stat="value", unit="seconds")


# ---------------------------------------------------------------- the report's figures and claims


# weights whose accuracy says nothing about the study's: untrained, or trained on a subset
NOT_COMPARABLE_WEIGHTS = ("seeded-init", "trained-subset")


def figures(df: pd.DataFrame) -> pd.DataFrame:
    """Single figures per machine, backend variant, model and metric (the study's metrics, sizes,
    ``predict_10k_seconds`` and ``paired_10k_seconds``), each from the preferred source.

    Accuracy and loss of untrained (seeded-init) weights or of weights trained on a subset of the
    training images are left out, as are evaluation times and accuracies over fewer than the 10,000 test
    images: they are not the study's figures (the report marks them; see :data:`NOT_COMPARABLE_WEIGHTS`).
    """
    if df.empty:
        return df.assign(variant=pd.Series(dtype=object))
    d = df[df["stat"].isin(SINGLE_STATS) & df["backend"].notna() & df["model"].notna()].copy()
    # paired seconds stay the study pair's figures (the report's ratio tables); another pair's, and training
    # steps (no inference path), are their own tables' (a shared baseline's seconds would collide)
    d = d[is_inference(d) & ~d["workload"].eq(WORKLOAD_PAIRED_TRAIN) & (pair_of(d).eq(STUDY_PAIR.name) | ~d["workload"].isin(NOT_A_PATH))]
    d = d[~(d["metric"].isin(["test_accuracy", "test_loss", "accuracy"]) & d["weights_source"].isin(NOT_COMPARABLE_WEIGHTS))]
    partial = pd.to_numeric(d["n_images"], errors="coerce").lt(TEST_IMAGES) & d["workload"].eq("evaluate")
    d = d[~(partial & d["metric"].isin(["eval_seconds", "test_accuracy", "test_loss"]))]
    d["variant"] = variant(d)
    # eval_seconds at the study's batch size only (per-batch latency is the report's latency table)
    d = d[(d["metric"] != "eval_seconds") | d["batch_size"].isna() | (d["batch_size"] == EVAL_BATCH_SIZE)]
    # accuracy over all 10,000 test images (trained weights) is the test accuracy, whichever path ran
    full = d["metric"].eq("accuracy") & pd.to_numeric(d.get("n_images"), errors="coerce").eq(TEST_IMAGES)
    d.loc[full, "metric"] = "test_accuracy"
    d = d[d["metric"] != "accuracy"]
    d = pd.concat([d, predict_10k(df)], ignore_index=True)
    d = d[~d["metric"].isin(["latency_s", "images_per_s", "rounds"])]
    return best(d, ["machine", "variant", "model", "metric"])


def subset_variants(df: pd.DataFrame) -> dict[tuple[object, str], dict[str, str]]:
    """``(machine, variant)`` -> {claim: why} for the variants whose *every* reproduce run used a subset of
    MNIST (so :func:`figures` dropped their speed or accuracy figures): those claims read "not comparable",
    not "unknown".  A variant with one full-data run is left alone; the rule per claim is
    :func:`sepbench.core.claims.not_comparable` (a training subset blocks accuracy only)."""
    from sepbench.core.claims import not_comparable

    if df.empty or "source_kind" not in df:
        return {}
    d = df[df["source_kind"].eq("reproduce") & df["backend"].notna() & df["model"].notna() & is_inference(df)]
    if d.empty:
        return {}
    d = d.assign(variant=variant(d), n=pd.to_numeric(d["n_images"], errors="coerce"))
    out: dict[tuple[object, str], dict[str, str]] = {}
    for (machine, var), sub in d.groupby(["machine", "variant"], sort=True, dropna=False):
        files = sub.groupby("source_file")
        reasons = {
            f: not_comparable(_train_images(g, TRAIN_IMAGES), int(g["n"].min()), g["weights_source"].eq("trained-subset").any())
            for f, g in files
        }
        if all(reasons.values()):  # no full-data run: the newest file's reasons
            newest = sub.sort_values("created")["source_file"].iloc[-1]
            out[(machine if pd.notna(machine) else None, var)] = {
                c: f"its runs used a subset of MNIST ({why})" for c, why in reasons[newest].items()
            }
    return out


def _train_images(rows: pd.DataFrame, full: int) -> int | None:
    """How many training images one reproduce file's weights saw: ``full`` for weights trained on all of
    them, else its ``train_images`` figure, or ``None`` where the file does not say (never a made-up count)."""
    if not rows["weights_source"].eq("trained-subset").any():
        return full
    counts = pd.to_numeric(rows.loc[rows["metric"].eq("train_images"), "value"], errors="coerce").dropna()
    return int(counts.min()) if len(counts) else None


def figure_dicts(fig: pd.DataFrame) -> dict[tuple[object, str], Figures]:
    """:func:`figures` as ``{(machine, variant): {metric: {model: value}}}``, the input of
    :func:`sepbench.core.claims.decide_claims`, in sorted order (machine ``None`` for a run that names none)."""
    out: dict[tuple[object, str], Figures] = {}
    if fig.empty:
        return out
    for (machine, var), sub in fig.groupby(["machine", "variant"], sort=True, dropna=False):
        figs: dict[str, dict[str, float]] = {}  # built here; read as Figures
        for r in sub.itertuples():
            figs.setdefault(r.metric, {})[r.model] = float(r.value)
        out[(machine if pd.notna(machine) else None, var)] = figs
    return out


def candidate_over_baseline(
    figs: Mapping[str, Mapping[str, float]], metric: str, models: tuple[str, str] = STUDY_PAIR.model_names
) -> tuple[float, float, float] | None:
    """(baseline, candidate, candidate / baseline) of ``metric`` for a pair's ``models`` (default the
    study's: regular, separable), or ``None`` if either is missing."""
    base, cand = figs.get(metric, {}).get(models[0]), figs.get(metric, {}).get(models[1])
    if base is None or cand is None:
        return None
    return base, cand, cand / base if base else float("nan")


separable_over_regular = candidate_over_baseline  # the study pair's name for it


# ---------------------------------------------------------------- the machine's limit


def roofline_probes(df: pd.DataFrame) -> pd.DataFrame:
    """Per run (``source_file`` as index): its roofline probe, ``gemm_gflops`` (float32 GEMM GFLOP/s), the
    probe source that set it (``floor_source``: ``numpy``, ``torch``, ``fma kernel (halide)``, ...; ``""`` where the run does not say)
    and ``mem_gbs`` (memory GB/s); runs without a probe are absent."""
    if df.empty:
        return pd.DataFrame(columns=["gemm_gflops", "mem_gbs", "floor_source"])
    cols = {"roofline_gemm_gflops": "gemm_gflops", "roofline_mem_gbs": "mem_gbs"}
    d = df[df["metric"].isin(list(cols))]
    wide = d.pivot_table(index="source_file", columns="metric", values="value", aggfunc="first").rename(columns=cols)
    wide = wide.reindex(columns=["gemm_gflops", "mem_gbs"]).rename_axis(columns=None)
    named = d[d["metric"].eq("roofline_gemm_gflops")].drop_duplicates("source_file")
    source = dict(zip(named["source_file"], named["note"])) if "note" in named else {}  # rows of a reader's own (no note)
    wide["floor_source"] = [s if isinstance(s := source.get(f), str) else "" for f in wide.index]
    return wide[wide["gemm_gflops"].notna()]


def compute_limit_s(model: str, gemm_gflops: float, n_images: int = TEST_IMAGES) -> float:
    """Seconds the model's arithmetic alone needs for ``n_images`` at ``gemm_gflops`` GFLOP/s:
    2 FLOP per MAC x MACs/image x images / FLOP/s; NaN for an unknown model."""
    if model not in MODELS or not gemm_gflops or pd.isna(gemm_gflops) or not 0 < float(gemm_gflops) < math.inf:
        return float("nan")
    return compute_limit_seconds(MODELS[model].macs, n_images, float(gemm_gflops) * 1e9)


# ---------------------------------------------------------------- one run: study-style vs fastest


SUMMARY_COLUMNS = ["backend", "model", "study_style_s", "fastest_s", "fastest_way", "speedup", "limit_fraction"]


def study_vs_fastest(df: pd.DataFrame) -> pd.DataFrame:
    """Per backend and model of one run: the study-style measurement against the fastest way.

    Columns (seconds are medians): ``study_style_s`` (Keras-style evaluate of 10,000 images at batch
    32, the study's measurement; the quickest should a backend evaluate on several paths),
    ``fastest_s`` and ``fastest_way`` (the quickest of :func:`ten_k_ways`, evaluate included, over all
    the backend's paths, named by :func:`way`), ``speedup`` (study-style / fastest) and
    ``limit_fraction`` (the compute-limit seconds at the run's probed GEMM rate / fastest seconds).
    Raises :class:`ResultsError` when no benchmark ran one model over 10,000 images.
    """
    ways = ten_k_ways(df)
    if ways.empty:
        source = ", ".join(sorted({str(s) for s in df.get("source_file", pd.Series(dtype=object)).dropna()})) or "run"
        raise ResultsError(f"{source}: no sepbench benchmark of one model over all {TEST_IMAGES:,} test images in it")
    quickest = quickest_rows(ways, ["backend", "model"]).set_index(["backend", "model"])
    ev = ways[ways["workload"].eq("evaluate") & pd.to_numeric(ways["batch_size"], errors="coerce").eq(EVAL_BATCH_SIZE)]
    study_style = quickest_rows(ev, ["backend", "model"]).set_index(["backend", "model"])["value"]
    gemm = roofline_probes(df)["gemm_gflops"]
    rows = []
    for (backend, model), r in quickest.sort_index().iterrows():
        study_s = float(study_style[(backend, model)]) if (backend, model) in study_style.index else None
        limit = compute_limit_s(model, gemm.get(r["source_file"], float("nan")))
        rows.append(
            {
                "backend": backend,
                "model": model,
                "study_style_s": study_s,
                "fastest_s": float(r["value"]),
                "fastest_way": r["way"],
                "speedup": study_s / r["value"] if study_s is not None else None,
                "limit_fraction": limit / r["value"] if pd.notna(limit) else None,
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def separable_ratios(summary: pd.DataFrame, models: tuple[str, str] = STUDY_PAIR.model_names) -> pd.DataFrame:
    """Per backend of :func:`study_vs_fastest`: candidate / baseline time of a pair's ``models`` (default
    the study's), study-style against study-style (``study_style_ratio``, ``None`` without both
    evaluates) and fastest against fastest."""
    rows = []
    for backend, g in summary.groupby("backend", sort=True):
        by_model = g.set_index("model")
        if not set(models) <= set(by_model.index):
            continue
        reg, sep = by_model.loc[models[0]], by_model.loc[models[1]]
        both = pd.notna(sep["study_style_s"]) and pd.notna(reg["study_style_s"])
        rows.append(
            {
                "backend": backend,
                "study_style_ratio": sep["study_style_s"] / reg["study_style_s"] if both else None,
                "fastest_ratio": sep["fastest_s"] / reg["fastest_s"],
            }
        )
    return pd.DataFrame(rows, columns=["backend", "study_style_ratio", "fastest_ratio"])
