"""The benchmark suite's case matrix, backend selection, machine-info comparison and closing note,
without running a benchmark (the ids of the real matrix are pinned by ``test_identifiers.py``)."""

from __future__ import annotations

import pytest

from impls.registry import UnknownBackendError
from sepbench.bench.cases import (
    ASV_MODELS,
    LATENCY_BATCHES,
    PAIRED_BATCH,
    TEST_IMAGES,
    Case,
    PathCatalog,
    cases,
    select_backends,
)
from sepbench.bench.machine_info import machine_differences
from sepbench.bench.options import QUICK_TIMING, BenchOptions
from sepbench.bench.summary import summary_lines


class StubCatalog(PathCatalog):
    """Every backend has a ``default`` path and a batch-free ``fast`` one; builds no model."""

    def __init__(self) -> None:
        super().__init__({})

    def paths(self, backend: str, model: str) -> tuple[str, ...]:
        return ("default", "fast")

    def batch_free(self, backend: str, model: str, path: str) -> bool:
        return path == "fast"


def ids(kind: str, quick: bool = False, backends: tuple[str, ...] = ("numpy",)) -> list[str]:
    return [c.id for c in cases(kind, list(backends), quick, StubCatalog())]


def test_id_and_group_formats() -> None:
    case = Case("predict", "torch", "separable", "fast", 32, 32)
    assert (case.id, case.group) == ("torch-separable-fast-b32-n32", "separable batch=32")
    assert Case("predict-10k", "numpy", "regular", "default", 1024, TEST_IMAGES).group == "regular predict-10k"
    assert Case("paired-10k", "numpy", "pair", "fast", PAIRED_BATCH, TEST_IMAGES).group == "separable/regular paired-10k"


def test_predict_latency_batches_skip_a_batch_free_paths_10k_batch() -> None:
    got = ids("predict")
    assert [i for i in got if i.startswith("numpy-regular-")] == [
        "numpy-regular-default-b1-n1",
        "numpy-regular-default-b32-n32",
        "numpy-regular-default-b10000-n10000",
        "numpy-regular-fast-b1-n1",
        "numpy-regular-fast-b32-n32",
    ]
    assert len(got) == len(ASV_MODELS) * 5


def test_predict_10k_times_a_batch_free_path_once() -> None:
    assert [i for i in ids("predict-10k") if i.startswith("numpy-regular-")] == [
        "numpy-regular-default-b32-n10000",
        "numpy-regular-default-b1024-n10000",
        "numpy-regular-fast-b1024-n10000",
    ]


def test_quick_narrows_batches_and_pairs_the_fast_paths_only() -> None:
    assert "numpy-regular-default-b10000-n10000" not in ids("predict", quick=True)
    assert ids("paired-10k", quick=True) == ["numpy-pair-fast-b1024-n10000"]


def test_a_labelled_pairs_default_path_is_paired_by_its_evaluate_only() -> None:
    """The study-style evaluate decides "faster" on the default path: a paired predict there would be timed and never read."""
    assert ids("paired-10k") == ["numpy-pair-fast-b1024-n10000"]
    assert ids("paired-evaluate-10k") == ["numpy-pair-default-b32-n10000"]


def test_graph_forward_is_tensorflow_only_and_evaluate_is_batch_32() -> None:
    assert ids("graph-forward-10k", backends=("numpy", "tensorflow")) == [f"tensorflow-{m}-graph-b32-n10000" for m in ASV_MODELS]
    assert ids("evaluate-10k") == [f"numpy-{m}-default-b32-n10000" for m in ASV_MODELS]


def test_select_backends() -> None:
    every = select_backends(None)
    assert "numpy" in every and select_backends("") == every and select_backends("  ") == every
    assert select_backends(" torch, numpy ,") == ["torch", "numpy"]
    with pytest.raises(UnknownBackendError, match=r"^unknown backend\(s\) jax, mxnet; known: .*numpy"):
        select_backends("numpy,jax,mxnet")


def test_the_asv_suite_shares_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import common

    monkeypatch.delenv("SEPBENCH_ASV_BATCHES", raising=False)
    monkeypatch.setenv("SEPBENCH_ASV_BACKENDS", "numpy,jax")
    assert common.MODELS == list(ASV_MODELS) and common.TEST_IMAGES == TEST_IMAGES
    assert common.batch_sizes() == list(LATENCY_BATCHES) == [1, 32, 10_000]  # ASV's params: never change them
    with pytest.raises(ValueError, match=r"^SEPBENCH_ASV_BACKENDS: unknown backend\(s\) jax"):
        common.selected_backends()


def test_machine_differences_ignore_what_changes_every_run() -> None:
    saved = {"cpu_model": "x", "usable_cores": 2, "threads": {"requested": [1, 2]}, "roofline": {"gemm_flops": 1}, "git": {"commit": "a"}}
    current = {"cpu_model": "x", "usable_cores": 4, "threads": {"requested": (1, 2)}, "roofline": {"gemm_flops": 2}, "git": {"commit": "b"}}
    assert machine_differences(saved, current) == ["usable_cores"]  # the tuple compares equal to the saved list
    assert machine_differences(saved, {**current, "usable_cores": 2, "gpus": []}) == ["gpus"]


def test_summary_says_what_was_skipped_and_which_weights_were_untrained() -> None:
    opts = BenchOptions(
        threads=2,
        quick=True,
        backends=["numpy", "torch"],
        unavailable={"torch": "torch is not installed"},
        train_missing=False,
        inject_delay=0.0,
        timing=QUICK_TIMING,
    )
    opts.weights_sources.update({("numpy", "regular"): "seeded-init", ("numpy", "separable"): "trained"})
    lines = summary_lines(opts)
    assert lines[0] == "threads: 2 for every backend (quick run)"
    assert "skipped backend torch: torch is not installed" in lines
    assert any(line.startswith("weights: seeded init (untrained) for numpy/regular:") for line in lines)
    assert not any("roofline" in line or "TEST ONLY" in line for line in lines)


def test_a_job_short_of_cores_spends_its_time_on_the_verdicts_processes() -> None:
    """Where other processes hold cores (the probe chose fewer threads than cores), the default job does not
    time the single-process 10,000-image predicts (the load's times, which decide nothing) and says so: the
    time goes to more fresh processes of the paired cases.  --full and --quick keep their sets."""
    from sepbench.machine.cpu_share import FreeCores

    def job(free: int, *, full: bool = False, quick: bool = False) -> BenchOptions:
        opts = BenchOptions(
            threads=max(1, free),
            quick=quick,
            full=full,
            backends=["numpy"],
            unavailable={},
            train_missing=False,
            inject_delay=0.0,
            timing=QUICK_TIMING,
        )
        opts.free_cores = FreeCores(cores=2, others_cores=2.0 - free, free=free, probe_s=0.5)
        return opts

    def kinds(opts: BenchOptions) -> set[str]:
        from sepbench.bench.cases import KIND_FIXTURES

        return {
            k for k in KIND_FIXTURES if cases(k, ["numpy"], opts.quick, StubCatalog(), full=opts.full, short_of_cores=opts.short_of_cores)
        }

    quiet, busy = job(2), job(1)
    assert not quiet.short_of_cores and busy.short_of_cores
    assert "predict-10k" in kinds(quiet) and "predict-10k" not in kinds(busy)
    assert {"paired-10k", "paired-evaluate-10k", "paired-train", "evaluate-10k"} <= kinds(busy)
    assert "predict-10k" in kinds(job(1, full=True)) and "predict-10k" in kinds(job(1, quick=True))
    assert any("10,000-image predicts were not timed" in line for line in summary_lines(busy))
    assert not any("not timed" in line for line in summary_lines(quiet))
