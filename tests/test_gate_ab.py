"""The gate's A/B confirmation plan (:mod:`sepbench.checks.gate_ab`): which flagged cases the A/B workers
can time again, as what, and when the baseline's commit allows it."""

from __future__ import annotations

from sepbench.checks.ab_run import AbCase
from sepbench.checks.gate_ab import ab_case, base_commit, plan


def test_a_flagged_case_is_timed_as_the_predict_of_its_images_and_batch() -> None:
    info = {"workload": "predict", "backend": "numpy", "model": "regular", "path": "default", "batch_size": 1024, "n_images": 10000}
    assert ab_case(info) == AbCase("numpy", "regular", 1024, 10000, "default")
    evaluate = {**info, "workload": "evaluate", "batch_size": 32}
    assert ab_case(evaluate) == AbCase("numpy", "regular", 32, 10000, "default")  # Keras-style evaluate: its predict at 32
    paired = {**info, "workload": "paired-evaluate", "model": None, "batch_size": 32}
    assert ab_case(paired, "separable") == AbCase("numpy", "separable", 32, 10000, "default")  # one model of a paired case
    assert ab_case({**info, "workload": "paired-train"}) is None  # training: no A/B form
    assert ab_case({**info, "workload": "graph-forward"}) is None  # Keras's graph forward: re-run instead
    assert ab_case({**info, "batch_size": "32"}) is None and ab_case({**info, "backend": None}) is None


def test_the_plan_dedupes_nothing_and_lists_what_it_cannot_time() -> None:
    info = {"workload": "predict", "backend": "torch", "model": "regular", "path": "fast", "batch_size": 1, "n_images": 1}
    todo = plan([("a", info, None), ("b", {**info, "workload": "paired-train"}, "regular")])
    assert todo.cases == {"a": AbCase("torch", "regular", 1, 1, "fast")} and todo.untimed == ["b"]


def test_the_baseline_commit_must_be_known_and_clean() -> None:
    sha = "a" * 40
    assert base_commit({"commit_info": {"id": sha, "dirty": False}}) == (sha, "")
    assert base_commit({"commit_info": {"id": sha, "dirty": True}})[0] is None
    assert base_commit({})[1] == "the baseline records no commit"
