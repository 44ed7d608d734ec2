"""The honest compute probe (:mod:`sepbench.measure.compute_probe`): the floor is the best of several GEMM
sources, one of them a fresh interpreter without ``OPENBLAS_CORETYPE``; each source is recorded."""

from __future__ import annotations

import importlib.util
import os

import pytest

from sepbench.measure.compute_probe import CORETYPE_VAR, ComputeProbe, other_sources, probe_compute, theoretical_peak
from sepbench.measure.extra_info import roofline


def test_the_fresh_process_probe_runs_without_the_core_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CORETYPE_VAR, "Haswell")
    found, clock, notes = other_sources(128, 1, repeats=2)
    assert not notes and found["numpy (no core type)"] > 1e8  # a 128-cubed product: well over 0.1 GFLOP/s anywhere
    assert ("torch" in found) == (pytest.importorskip("torch") is not None)
    halide = importlib.util.find_spec("halide") is not None
    assert ("fma kernel (halide)" in found) == halide and (clock is not None) == halide


def test_the_floor_is_the_best_source_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CORETYPE_VAR, "Haswell")
    slow = probe_compute(1.0, 128, 1, 2)  # a crippled in-process figure: 1 FLOP/s
    assert slow.sources[f"numpy ({CORETYPE_VAR}=Haswell)"] == 1.0
    assert slow.best_source != f"numpy ({CORETYPE_VAR}=Haswell)" and slow.best_flops > 1e8
    info = slow.as_machine_info()
    assert info["floor_source"] == slow.best_source and set(info["gemm_gflops_by_source"]) == set(slow.sources)
    fast = probe_compute(1e15, 128, 1, 2)  # a figure beyond every other source: it sets the floor
    assert fast.best_source.startswith("numpy (") and fast.best_flops == 1e15


def test_the_theoretical_peak_counts_lanes_of_the_widest_isa() -> None:
    peak, basis = theoretical_peak(2, {"avx2", "avx512f"}, 3000.0)
    assert peak == 2 * 2 * 16 * 2 * 3.0e9 and "16 float32 lanes" in basis and "upper bound" in basis
    assert theoretical_peak(2, {"avx2"}, 3000.0)[0] == 2 * 2 * 8 * 2 * 3.0e9
    assert theoretical_peak(0, {"avx2"}, 3000.0) == (None, "clock or cores unknown")
    assert "measured by a dependent FMA chain" in theoretical_peak(2, {"avx2"}, 3000.0, measured=True)[1]


def test_the_fma_kernel_reads_the_machine_rate_and_its_clock() -> None:
    pytest.importorskip("halide", reason="the FMA kernel is JIT-compiled by Halide (extra 'halide')")
    from sepbench.measure.fma_kernel import fma_rates

    r = fma_rates(1, repeats=2)
    assert r is not None and r.lanes in (4, 8, 16) and r.threads == 1
    # one core at 0.5-8 GHz does 1-2 vector FMAs a cycle: a rate outside that band is a kernel that measured
    # something else (an optimised-away loop, a scalar build)
    cycles = r.flops / (2 * r.lanes) / r.clock_hz
    assert 0.5e9 < r.clock_hz < 8e9 and 0.4 <= cycles <= 2.2, (r, cycles)


def test_a_failed_probe_is_left_out_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sepbench.measure.compute_probe.sys.executable", os.devnull)  # not an interpreter
    found, clock, notes = other_sources(64, 1)
    assert found == {} and clock is None and notes and "failed" in notes[0]
    assert ComputeProbe({"numpy": 5.0}, None, "x", tuple(notes)).best_source == "numpy"


def test_the_bench_roofline_records_every_source() -> None:
    r = roofline(gemm_size=128, stream_bytes=2**20, budget_s=0.1, all_sources=True)
    assert r.compute is not None and r.gemm_flops == pytest.approx(max(r.compute["gemm_gflops_by_source"].values()) * 1e9, rel=0.01)
    assert r.as_machine_info()["compute"]["floor_source"] in r.compute["gemm_gflops_by_source"]
