"""Section 2f: each paired path against its two roofs (compute and memory), and the ratio they predict."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sepbench.core.spec import MODELS
from sepbench.core.traffic import INPUT_BYTES, floor_seconds
from sepbench.report import fmt
from sepbench.report.sections.base import SectionSpec
from sepbench.results import paired as paired_rules
from sepbench.results import verdict as V

DISAGREE = 0.25  # predicted and measured ratios further apart than this (relative) are named
ROOF_COLUMNS = ["machine", "pair", "backend", "way", "pixels", "gemm_gflops", "mem_gbs", "baseline", "baseline_s", "baseline_floor_s"]
ROOF_COLUMNS += [
    "baseline_bound",
    "baseline_x_floor",
    "candidate",
    "candidate_s",
    "candidate_floor_s",
    "candidate_bound",
    "candidate_x_floor",
]
ROOF_COLUMNS += ["predicted_ratio", "measured_ratio", "note", "source"]


FUSED_PATHS = ("fused", "halide")  # NumPy's paths that run every layer of a micro-batch in cache


def way_of(variant: str) -> str:
    """The way of computing a backend path is taken to move the fewest bytes of: its fused kernel, else layer by layer."""
    return "fused" if any(variant.endswith(f"({p})") for p in FUSED_PATHS) else "direct"


def _side(model: str, way: str, pixels: str, n: int, probe: pd.Series, seconds: float) -> dict[str, object]:
    gflops, gbs = float(probe["gemm_gflops"]), float(probe["mem_gbs"])
    floor, compute, memory = floor_seconds(MODELS[model], way, n, gflops, gbs, INPUT_BYTES[pixels])
    bound = "" if math.isnan(floor) else ("compute" if compute >= memory else "memory")
    return {"floor_s": floor, "bound": bound, "x_floor": seconds / floor if floor and not math.isnan(floor) else math.nan}


def two_roofs(df: pd.DataFrame, paired: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per machine, pair and backend path measured in pairs (10,000 images, the run's roofline probe): each
    model's median seconds beside its floor (the larger of its compute and memory roofs, :mod:`sepbench.core.traffic`),
    measured / floor, which roof binds, and the candidate / baseline ratio the floors predict beside the measured one.
    ``paired``: :func:`sepbench.results.paired.paired` of ``df`` where already computed."""
    table, probes = paired_rules.paired(df) if paired is None else paired, V.roofline_probes(df)
    if table.empty or probes.empty:
        return pd.DataFrame(columns=ROOF_COLUMNS)
    rows = []
    for r in table.itertuples():
        if r.source_file not in probes.index or r.baseline not in MODELS or r.candidate not in MODELS:
            continue
        probe, way = probes.loc[r.source_file], way_of(str(r.variant))
        if pd.isna(probe["mem_gbs"]) or pd.isna(r.baseline_s) or pd.isna(r.candidate_s):
            continue
        pixels = str(r.pixels)  # "float32" or "uint8": checked where the run was read (paired() fills the default)
        base = _side(str(r.baseline), way, pixels, V.TEST_IMAGES, probe, float(r.baseline_s))
        cand = _side(str(r.candidate), way, pixels, V.TEST_IMAGES, probe, float(r.candidate_s))
        predicted = float(cand["floor_s"]) / float(base["floor_s"])
        measured = float(r.ratio) if pd.notna(r.ratio) else float(r.candidate_s) / float(r.baseline_s)
        apart = abs(measured / predicted - 1)
        note = f"measured {measured:.2f} vs predicted {predicted:.2f}: {apart:.0%} apart" if apart > DISAGREE else ""
        rows.append(
            {
                "machine": r.machine,
                "pair": r.pair,
                "backend": r.variant,
                "way": way,
                "pixels": pixels,
                "gemm_gflops": probe["gemm_gflops"],
                "mem_gbs": probe["mem_gbs"],
                "baseline": r.baseline,
                "baseline_s": r.baseline_s,
                **{f"baseline_{k}": v for k, v in base.items()},
                "candidate": r.candidate,
                "candidate_s": r.candidate_s,
                **{f"candidate_{k}": v for k, v in cand.items()},
                "predicted_ratio": predicted,
                "measured_ratio": measured,
                "note": note,
                "source": Path(str(r.source_file)).name,
            }  # fmt: skip
        )
    return pd.DataFrame(rows, columns=ROOF_COLUMNS)


TWO_ROOFS = SectionSpec(
    key="two_roofs",
    title="2f. Two roofs: each paired path against its compute and memory floors",
    note=(
        "Per pair and backend path measured in alternating pairs (2e), each model's median seconds for the 10,000 test images "
        "beside its floor: the larger of the compute roof (2 x MACs x images / the run's probed GEMM FLOP/s) and the memory "
        "roof (the bytes the way of computing must move / the probed memory bandwidth, GB/s). way: `direct` = layer by layer, "
        "each layer reading its input and writing its output (the fewest bytes a layer-by-layer path moves; an im2col path "
        "moves more), `fused` = all layers per micro-batch in cache (the input image in, the scores out). pixels = the input "
        "type the path read (uint8: MNIST's bytes, a quarter of float32's input traffic). bound = the roof "
        "that sets the floor; x_floor = measured / floor (1.0 = at the floor). predicted_ratio = candidate floor / baseline "
        "floor: where time follows the floors, the measured ratio is near it; a note names the paths more than 25 % apart."
    ),
    table=lambda i: two_roofs(i.df, i.paired),
    shown=fmt.two_roofs_shown,
    optional=True,
)
