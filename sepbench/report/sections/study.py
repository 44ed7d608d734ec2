"""The study's sections: its published figures beside ours, and its evaluation time taken apart."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sepbench.core.pairs import STUDY_PAIR
from sepbench.core.study import EVAL_BATCH_SIZE, MAC_RATIO, STUDY, STUDY_UNITS
from sepbench.core.study import evaluate_steps as eval_steps
from sepbench.report import fmt
from sepbench.report.sections.base import SectionSpec
from sepbench.results.schema import WORKLOAD_GRAPH_FORWARD
from sepbench.results.verdict import TEST_IMAGES, best, figures

STUDY_METRICS = tuple(STUDY)  # params, hdf5_bytes, test_loss, test_accuracy, eval_seconds


def study_vs_measured(df: pd.DataFrame, fig: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per study metric and model: the study's value, ours per backend and machine, the difference.
    ``fig``: :func:`~sepbench.results.verdict.figures` of ``df`` where the caller has it."""
    fig = figures(df) if fig is None else fig
    rows = []
    for metric in STUDY_METRICS:
        for model in STUDY_PAIR.model_names:
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


def evaluate_vs_study(df: pd.DataFrame, fig: pd.DataFrame | None = None) -> pd.DataFrame:
    """The study-style evaluation (10,000 images at batch 32) per machine, backend and model beside the
    study's, and, where TensorFlow's anatomy was measured, where Keras's evaluate time goes.

    Columns (seconds unless named otherwise): ``study_s``, ``evaluate_s``, ``ms_per_step`` (313 steps),
    ``beats_study``; for TensorFlow ``keras_floor_s`` (evaluate of a softmax regression: Keras's loop
    with next to no model), ``graph_b32_s`` (the model as one ``tf.function`` called per batch of
    32: its compute), ``rest_s`` (evaluate minus both: loss, metrics, data handling), and ``why``.
    Where the anatomy was measured, ``evaluate_s`` is that same run's evaluate, so the parts add up
    to it (``source`` names the file); elsewhere it is the report's figure (section 1).
    ``fig``: :func:`~sepbench.results.verdict.figures` of ``df`` where the caller has it.
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
    fig = figures(df) if fig is None else fig
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
    if r["model"] == STUDY_PAIR.model_names[1] and len(other) and pd.notna(other["graph_b32_s"].iloc[0]):
        reg = float(other["graph_b32_s"].iloc[0])
        parts.append(
            f"the separable graph takes {r['graph_b32_s'] / reg:.2f}x the regular one's time for {MAC_RATIO:.3f}x the MACs "
            "(TensorFlow's CPU depthwise convolution at batch 32 is slower per MAC than its Conv2D)"
        )
    return "; ".join(parts)


VS_MEASURED = SectionSpec(
    key="study_vs_measured",
    title="1. The study vs our measurements",
    note=(
        "Per metric and model: the study's published value, ours per backend and machine, measured minus study, and measured / study. "
        "Sizes in bytes, loss in nats, accuracy as a fraction, evaluation = wall time of a 10,000-image Keras-style evaluate at batch 32 "
        "in seconds."
    ),
    table=lambda i: study_vs_measured(i.df, i.figures),
    shown=fmt.study_vs_measured_shown,
    lead=True,
)


EVALUATE = SectionSpec(
    key="evaluate_vs_study",
    title="1c. The study's evaluation time: ours beside it, and why where it is slower",
    note=(
        "Seconds for model.evaluate-style evaluation of the 10,000 test images at batch 32 (313 steps). The study's machine is unknown "
        "(a hosted notebook), "
        "so 'beats' compares against its published seconds. For TensorFlow the evaluate is taken apart, measured in the same run: "
        "Keras's loop alone "
        "(keras_floor_s: evaluate of a 784->10 softmax regression, same data and batch), the model's compute (graph_b32_s: one "
        "tf.function per batch of 32) "
        "and the rest (loss, metrics, data handling)."
    ),
    table=lambda i: evaluate_vs_study(i.df, i.figures),
    shown=fmt.evaluate_vs_study_shown,
    optional=True,
)
