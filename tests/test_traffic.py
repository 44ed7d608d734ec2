"""The two-roof model: bytes each way of computing moves (written out by hand for small models), the floor
of a path, and the report's section that sets measured paired times against it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sepbench.core.spec import MODELS, LayerSpec, ModelSpec
from sepbench.core.traffic import bytes_per_image, floor_seconds

CONV_DENSE = ModelSpec(
    "t-conv-dense",
    (LayerSpec("c", "conv", filters=2, kernel=3, stride=1), LayerSpec("g", "global_avg_pool"), LayerSpec("d", "dense", filters=3)),
    input_shape=(4, 4, 1),
)


def test_bytes_of_each_way_for_a_conv_a_pool_and_a_dense_layer() -> None:
    # conv 4x4x1 -> 2x2x2: reads 16 values, writes 8; the pool reads 8, writes 2; dense 2 -> 3; 4 bytes a value
    assert bytes_per_image(CONV_DENSE, "direct") == 4 * (16 + 8 + 8 + 2 + 2 + 3) == 156
    # im2col adds the patch matrix, written and read: 2x2 output pixels x 3x3x1 values
    assert bytes_per_image(CONV_DENSE, "im2col") == 156 + 4 * 2 * (2 * 2 * 9) == 444
    # fused: the image in, the scores out
    assert bytes_per_image(CONV_DENSE, "fused") == 4 * (16 + 3) == 76
    with pytest.raises(ValueError, match="unknown way"):
        bytes_per_image(CONV_DENSE, "tiled")


def test_a_separable_layer_moves_its_depthwise_output_too() -> None:
    sep = ModelSpec("t-sep", (LayerSpec("s", "separable_conv", filters=4, kernel=3, stride=1),), input_shape=(5, 5, 2))
    # in 5x5x2 = 50, out 3x3x4 = 36, the depthwise output 3x3x2 = 18 written and read back
    assert bytes_per_image(sep, "direct") == 4 * (50 + 36 + 2 * 18)
    assert bytes_per_image(sep, "im2col") == 4 * (50 + 36 + 2 * 18 + 2 * 3 * 3 * 9 * 2)


def test_the_floor_is_the_higher_roof() -> None:
    regular, separable = MODELS["regular"], MODELS["separable"]
    floor, compute, memory = floor_seconds(regular, "direct", 10_000, 50.0, 20.0)
    assert compute == pytest.approx(2 * 117_384 * 10_000 / 50e9) and memory == pytest.approx((14_248 * 10_000 + 4 * 8_586) / 20e9)
    assert floor == compute  # the regular model is compute-bound here
    floor, compute, memory = floor_seconds(separable, "direct", 10_000, 50.0, 20.0)
    assert memory == pytest.approx((16_752 * 10_000 + 4 * 1_427) / 20e9) and floor == memory > compute  # the separable: memory-bound
    # fused, both move the same bytes (784 pixels in, 10 scores out): the arithmetic decides
    assert bytes_per_image(regular, "fused") == bytes_per_image(separable, "fused") == 4 * (784 + 10)
    assert all(math.isnan(x) for x in floor_seconds(regular, "direct", 10_000, 50.0, float("nan")))
    assert all(math.isnan(x) for x in floor_seconds(regular, "direct", 10_000, 0.0, 20.0))


def test_the_report_sets_each_paired_path_against_its_floors(tmp_path: Path) -> None:
    import json

    from sepbench.report.sections.roofs import two_roofs
    from sepbench.results.read_pytest_benchmark import read_run
    from tests.test_bench_results import RUN, paired_case, write_run

    path = write_run(tmp_path, 1, [*RUN, paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80)])
    doc = json.loads(path.read_text())
    doc["machine_info"]["roofline"]["mem_bandwidth_gbs"] = 20.0  # the GEMM probe of RUN's machine: 50 GFLOP/s
    path.write_text(json.dumps(doc))
    table = two_roofs(read_run(path)[0])
    assert len(table) == 1
    r = table.iloc[0]
    assert (r["backend"], r["way"], r["baseline_bound"], r["candidate_bound"]) == ("torch (fast)", "direct", "compute", "memory")
    base_floor, cand_floor = 2 * 117_384 * 10_000 / 50e9, (16_752 * 10_000 + 4 * 1_427) / 20e9
    assert r["baseline_floor_s"] == pytest.approx(base_floor) and r["candidate_floor_s"] == pytest.approx(cand_floor)
    assert r["baseline_x_floor"] == pytest.approx(0.06 / base_floor) and r["candidate_x_floor"] == pytest.approx(0.04 / cand_floor)
    assert r["predicted_ratio"] == pytest.approx(cand_floor / base_floor) and r["measured_ratio"] == 0.70
    assert r["note"] == f"measured 0.70 vs predicted {cand_floor / base_floor:.2f}: {0.70 / (cand_floor / base_floor) - 1:.0%} apart"
    # a run without a memory probe has no memory roof: no row, not a wrong one
    doc["machine_info"]["roofline"].pop("mem_bandwidth_gbs")
    path.write_text(json.dumps(doc))
    assert two_roofs(read_run(path)[0]).empty


def test_a_path_that_reads_bytes_has_a_quarter_of_the_input_traffic() -> None:
    # fused, uint8 input: 784 bytes in, 10 float32 scores out
    assert bytes_per_image(MODELS["separable"], "fused", input_bytes=1) == 784 + 4 * 10
    # layer by layer, only the first layer's input is bytes
    assert bytes_per_image(CONV_DENSE, "direct", input_bytes=1) == 156 - 3 * 16
    floor, compute, memory = floor_seconds(MODELS["separable"], "fused", 10_000, 50.0, 20.0, input_bytes=1)
    assert memory == pytest.approx(((784 + 40) * 10_000 + 4 * 1_427) / 20e9)
    with pytest.raises(ValueError, match="input_bytes"):
        bytes_per_image(CONV_DENSE, "fused", input_bytes=3)


def test_the_halide_path_is_set_against_its_fused_floor_with_the_input_it_read(tmp_path: Path) -> None:
    import json

    from sepbench.report.sections.roofs import two_roofs
    from sepbench.results.read_pytest_benchmark import read_run
    from tests.test_bench_results import RUN, paired_case, write_run

    bytes_in = paired_case("numpy", "halide", 0.012, 0.0025, 0.21, 0.20, 0.22)
    bytes_in["extra_info"]["pixels"] = "uint8"
    path = write_run(tmp_path, 1, [*RUN, bytes_in, paired_case("numpy", "fused", 0.2, 0.04, 0.2, 0.19, 0.21)])
    doc = json.loads(path.read_text())
    doc["machine_info"]["roofline"]["mem_bandwidth_gbs"] = 0.5  # slow memory: the input sets the floor
    path.write_text(json.dumps(doc))
    table = two_roofs(read_run(path)[0]).set_index("backend")
    halide, fused = table.loc["numpy (halide)"], table.loc["numpy (fused)"]
    assert (halide["way"], halide["pixels"], fused["way"], fused["pixels"]) == ("fused", "uint8", "fused", "float32")
    assert halide["candidate_floor_s"] == pytest.approx(((784 + 40) * 10_000 + 4 * 1_427) / 0.5e9)
    assert fused["candidate_floor_s"] == pytest.approx((4 * 794 * 10_000 + 4 * 1_427) / 0.5e9)
