"""The verdict rules (:mod:`sepbench.results.verdict`) and the proof that their two consumers agree:
``sepbench bench-summary`` and the report name the same fastest way, seconds, compute-limit fraction
and paired ratio for the same saved run."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from sepbench.results import paired as paired_rules
from sepbench.results import verdict
from sepbench.results.claim_verdicts import claim_verdicts
from sepbench.results.read_pytest_benchmark import read_run
from tests.test_bench_results import RUN, bench_case, bench_summary, paired_case, write_run

PAIRS = [paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80), paired_case("numpy", "fast", 0.08, 0.07, 0.90, 0.85, 0.95)]


def _tidy(tmp_path: Path, benchmarks: list[dict], number: int = 1) -> pd.DataFrame:
    return read_run(write_run(tmp_path, number, benchmarks))[0]


def _console_rows(stdout: str, first_header: str) -> list[list[str]]:
    """The body rows of the rich table whose header row starts with ``first_header``, as cell texts."""
    rows, inside = [], False
    for line in stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if cells and cells[0] == first_header:
            inside, rows = True, []
        elif inside and line.startswith("└"):
            return rows
        elif inside and line.startswith("│"):
            rows.append(cells)
    raise AssertionError(f"no table headed {first_header!r} in:\n{stdout}")


def _wrapped_rows(stdout: str, first_header: str) -> list[list[str]]:
    """Like :func:`_console_rows`, for a table whose cells wrap: a line with an empty first cell continues the row above."""
    rows: list[list[str]] = []
    inside = False
    for line in stdout.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if cells and cells[0] == first_header:
            inside, rows = True, []
        elif inside and line.startswith("└"):
            return rows
        elif inside and line.startswith("│") and cells[0]:
            rows.append(cells)
        elif inside and line.startswith("│") and rows:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
    raise AssertionError(f"no table headed {first_header!r} in:\n{stdout}")


# ---------------------------------------------------------------- the rules


def test_each_way_is_named_by_how_it_ran(tmp_path: Path) -> None:
    df = _tidy(tmp_path, RUN)
    ways = verdict.ten_k_ways(df).set_index(["model", "workload", "path", "batch_size"])["way"]
    assert ways[("regular", "evaluate", "default", 32)] == "evaluate b32"
    assert ways[("regular", "predict", "default", 1024)] == "default b1024"
    assert ways[("regular", "predict", "fast", 1024)] == "fast"  # batch_free=True: the batch size means nothing
    assert ways[("separable", "predict", "default", 10_000)] == "default b10000"


def test_only_one_models_10k_inference_is_a_way(tmp_path: Path) -> None:
    """A 32-image case, the graph-forward case and a paired case are never "the fastest way"."""
    df = _tidy(tmp_path, [*RUN, *PAIRS])
    ways = verdict.ten_k_ways(df)
    assert set(ways["workload"]) == {"predict", "evaluate"} and (ways["n_images"] == 10_000).all()
    assert len(ways) == 5  # of RUN's 7 benchmarks: not the 32-image one nor the graph-forward one
    summary = verdict.study_vs_fastest(df).set_index(["backend", "model"])
    assert summary.loc[("torch", "separable"), "fastest_s"] == 0.06  # not the graph forward's 0.01 nor a pair
    assert summary.loc[("torch", "regular"), "fastest_s"] == 0.05  # not the 32-image 0.0001


def test_the_study_style_figure_is_evaluate_at_batch_32(tmp_path: Path) -> None:
    quicker_evaluate = bench_case("torch", "regular", "evaluate", "default", 1024, 10_000, 0.30)
    summary = verdict.study_vs_fastest(_tidy(tmp_path, [*RUN, quicker_evaluate])).set_index("model")
    assert summary.loc["regular", "study_style_s"] == 0.50  # the batch-1024 evaluate is not the study's measurement
    assert summary.loc["regular", "speedup"] == pytest.approx(0.50 / 0.05)
    only_predict = [b for b in RUN if b["extra_info"]["workload"] == "predict"]
    summary = verdict.study_vs_fastest(_tidy(tmp_path, only_predict, 2)).set_index("model")
    assert summary["study_style_s"].isna().all() and summary["speedup"].isna().all()
    assert verdict.separable_ratios(verdict.study_vs_fastest(_tidy(tmp_path, only_predict, 3)))["study_style_ratio"].isna().all()


def test_an_evaluate_can_be_the_fastest_way_of_a_backend(tmp_path: Path) -> None:
    runs = [bench_case("numpy", m, "evaluate", "default", 32, 10_000, t) for m, t in (("regular", 0.2), ("separable", 0.1))]
    runs.append(bench_case("numpy", "regular", "predict", "default", 32, 10_000, 0.3))
    summary = verdict.study_vs_fastest(_tidy(tmp_path, runs)).set_index("model")
    assert summary.loc["regular", "fastest_way"] == "evaluate b32" and summary.loc["regular", "fastest_s"] == 0.2
    # the report's predict_10k_seconds is a predict: the evaluate has its own figure (eval_seconds)
    p10k = verdict.predict_10k(_tidy(tmp_path, runs, 2)).set_index("model")["value"]
    assert list(p10k.index) == ["regular"] and p10k["regular"] == 0.3


def test_predict_10k_is_the_fastest_batch_of_the_newest_run(tmp_path: Path) -> None:
    """Not the fastest of all runs: a minimum over noisy runs is biased low."""
    old = _tidy(tmp_path, [bench_case("torch", "regular", "predict", "default", 32, 10_000, 0.01)], 1).assign(created="2026-01-01")
    new_cases = [bench_case("torch", "regular", "predict", "default", b, 10_000, t) for b, t in ((32, 0.09), (1024, 0.07))]
    new = _tidy(tmp_path, new_cases, 2).assign(created="2026-01-02")
    p10k = verdict.predict_10k(pd.concat([old, new], ignore_index=True))
    assert p10k["value"].tolist() == [0.07] and p10k["metric"].tolist() == ["predict_10k_seconds"]


def test_figure_dicts_are_what_decide_claims_reads(tmp_path: Path) -> None:
    figs = verdict.figure_dicts(verdict.figures(_tidy(tmp_path, [*RUN, *PAIRS])))
    torch_fast = figs[(None, "torch (fast)")]  # the run names no machine
    assert torch_fast["predict_10k_seconds"] == {"regular": 0.05}
    assert torch_fast["paired_10k_seconds"] == {"regular": 0.06, "separable": 0.04}
    assert verdict.separable_over_regular(torch_fast, "paired_10k_seconds") == pytest.approx((0.06, 0.04, 0.04 / 0.06))
    assert verdict.separable_over_regular(torch_fast, "predict_10k_seconds") is None  # no separable figure


def test_faster_is_decided_only_on_paired_rounds_with_an_interval(tmp_path: Path) -> None:
    """The paired ratio's 95 % interval against the band 0.95-1.05 decides "faster"; a paired ratio without
    an interval, or only unpaired times (the evaluate cases of RUN), decides nothing."""
    runs = [
        paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80, interval=(0.70, 0.66, 0.75)),  # wholly below 0.95
        paired_case("numpy", "fast", 0.08, 0.08, 1.00, 0.97, 1.03, interval=(1.00, 0.98, 1.02)),  # wholly inside the band
        paired_case("numpy", "int8", 0.08, 0.10, 1.25, 1.20, 1.30, interval=(1.25, 1.15, 1.35)),  # wholly above 1.05
        paired_case("torch", "int8", 0.08, 0.07, 0.90, 0.85, 0.95, interval=(0.90, 0.85, 0.95)),  # reaches below 0.95: straddles
        paired_case("torch", "default", 0.10, 0.05, 0.50, 0.45, 0.55),  # an older run: no interval
    ]
    df = _tidy(tmp_path, [*RUN, *runs])
    speeds = paired_rules.speed_evidence(df)
    assert speeds[(None, "study", "torch (fast)")][0].low == 0.66 and speeds[(None, "study", "torch (fast)")][0].n == 10
    assert not speeds[(None, "study", "torch")][0].has_interval
    outcomes = {(v, x.claim): x for _, pair, v, verdicts in claim_verdicts(df) for x in verdicts if pair == "study"}
    expected = {"torch (fast)": "yes", "numpy (fast)": "tie", "numpy (int8)": "NO", "torch (int8)": "inconclusive", "torch": "inconclusive"}
    assert {v: outcomes[(v, "faster")].outcome for v in expected} == expected
    assert (outcomes[("numpy (int8)", "faster")].low, outcomes[("numpy (int8)", "faster")].high) == (1.15, 1.35)
    assert outcomes[("torch", "faster")].estimate == 0.50 and outcomes[("torch", "faster")].low is None
    # RUN alone: evaluate times 0.50 s vs 0.40 s, measured apart, never paired: not measured
    alone = {(v, x.claim): x.outcome for _, _, v, verdicts in claim_verdicts(_tidy(tmp_path, RUN, 2)) for x in verdicts}
    assert alone[("torch", "faster")] == "not measured"


def test_compute_limit_seconds() -> None:
    assert verdict.compute_limit_s("regular", 50.0) == pytest.approx(2 * 117_384 * 10_000 / 50e9, rel=1e-12)
    assert verdict.compute_limit_s("separable", 100.0, n_images=1) == pytest.approx(2 * 15_089 / 100e9, rel=1e-12)
    assert pd.isna(verdict.compute_limit_s("unknown", 50.0)) and pd.isna(verdict.compute_limit_s("regular", float("nan")))
    assert pd.isna(verdict.compute_limit_s("regular", 0.0))  # a probe that measured nothing: no limit, not a division by 0


def test_the_empty_tables_keep_their_columns() -> None:
    """What an empty or old input gives: the tables' columns, no rows (the report's sections read them)."""
    from sepbench.results.tidy import frame

    old = frame([]).drop(columns=["n_images"])
    for df in (frame([]), old):
        ways = verdict.ten_k_ways(df)
        assert ways.empty and {"variant", "way"} <= set(ways.columns)
    assert list(verdict.roofline_probes(frame([])).columns) == ["gemm_gflops", "mem_gbs", "floor_source"]
    probes = [_figure_row(None, None, "roofline_gemm_gflops", 390.5), _figure_row(None, None, "roofline_mem_gbs", 18.1)]
    probes += [_figure_row(None, None, "roofline_mem_gbs", 9.0, source_file="no-gemm.json")]
    probes += [_figure_row(None, None, "roofline_gemm_gflops", 182.4, source_file="torch.json", note="torch")]
    probes += [_figure_row(None, None, "roofline_mem_gbs", 20.0, source_file="torch.json")]
    got = verdict.roofline_probes(frame(probes))
    assert got.to_dict("index") == {  # a run without GEMM is absent; one that does not name its floor's source says ""
        "run.json": {"gemm_gflops": 390.5, "mem_gbs": 18.1, "floor_source": ""},
        "torch.json": {"gemm_gflops": 182.4, "mem_gbs": 20.0, "floor_source": "torch"},
    }


def test_predict_10k_is_one_figure_in_seconds_per_model_and_run() -> None:
    from sepbench.results.tidy import frame

    rows = [
        _figure_row("torch", "regular", "latency_s", s, workload="predict", batch_size=b, stat="median")
        for b, s in ((256, 0.09), (1024, 0.06), (4096, 0.07))
    ]
    rows += [_figure_row("torch", "regular", "latency_s", 0.01, workload="predict", batch_size=32, stat="median", n_images="oops")]
    got = verdict.predict_10k(frame(rows))
    assert len(got) == 1 and got.iloc[0]["value"] == 0.06 and got.iloc[0]["batch_size"] == 1024  # the fastest batch
    assert (got.iloc[0]["metric"], got.iloc[0]["stat"], got.iloc[0]["unit"]) == ("predict_10k_seconds", "value", "seconds")


# ---------------------------------------------------------------- both consumers agree


@pytest.fixture
def saved_run(tmp_path: Path) -> Path:
    """A storage directory with one saved run: every kind of case, a roofline probe, a machine name."""
    path = write_run(tmp_path / "bench", 1, [*RUN, *PAIRS])
    doc = json.loads(path.read_text())
    doc["machine_info"].update(node="box", usable_cores=2, threads={"requested": 2})
    doc["machine_info"]["roofline"]["mem_bandwidth_gbs"] = 20.0
    path.write_text(json.dumps(doc))
    return tmp_path / "bench"


def test_bench_summary_and_the_report_name_the_same_fastest_way(saved_run: Path, tmp_path: Path) -> None:
    from sepbench.report.build import build_report

    out = bench_summary(saved_run)
    assert out.returncode == 0, out.stderr
    assert "roofline: float32 GEMM 50.0 GFLOP/s, memory 20.0 GB/s" in out.stdout and "2 usable cores, threads 2" in out.stdout
    summary = _console_rows(out.stdout, "backend")  # the first table: study-style vs fastest
    report = build_report([saved_run], [tmp_path / "no-asv"], tmp_path / "report")
    roof = report.sections["roofline"].raw
    assert len(summary) == 2 and len(roof) == 3  # torch x 2 models; torch and torch (fast) regular, torch separable
    for backend, model, _study, fastest_s, way, _speedup, fraction in summary:
        mine = roof[roof["backend"].str.startswith(backend) & roof["model"].eq(model)]
        quickest = mine.loc[mine["seconds"].idxmin()]
        assert fastest_s == f"{quickest['seconds']:.3f}"
        # the fastest way names the path of the report's quickest variant
        assert quickest["backend"] == (backend if way.startswith("default") else f"{backend} ({way.split()[0]})")
        assert fraction == f"{1 / quickest['x_limit']:.2f}"
    expected = [["torch", "regular", "0.500", "0.050", "fast"], ["torch", "separable", "0.400", "0.060", "default b10000"]]
    assert [r[:5] for r in summary] == expected


def test_bench_summary_and_the_report_give_the_same_paired_ratios(saved_run: Path, tmp_path: Path) -> None:
    from sepbench.report.build import build_report

    out = bench_summary(saved_run)
    assert out.returncode == 0, out.stderr
    printed = {(r[1], r[2]): r for r in _console_rows(out.stdout.split("alternating pairs", 1)[1], "pair")}
    table = build_report([saved_run], [tmp_path / "no-asv"], tmp_path / "report").sections["paired"].raw.set_index("backend")
    assert set(printed) == {("numpy", "fast"), ("torch", "fast")} and set(table.index) == {"numpy (fast)", "torch (fast)"}
    for (backend, path), (pair, _, _, reg, sep, ratio, quartiles, pairs) in printed.items():
        row = table.loc[f"{backend} ({path})"]
        assert pair == row["pair"] == "study" and (row["baseline"], row["candidate"]) == ("regular", "separable")
        assert (reg, sep, ratio) == (f"{row['baseline_s']:.3f}", f"{row['candidate_s']:.3f}", f"{row['ratio']:.2f}")
        assert quartiles == f"{row['q1']:.2f}-{row['q3']:.2f}" and pairs == f"{row['pairs']:.0f}"
    assert printed[("torch", "fast")][5] == "0.70" and table.loc["torch (fast)", "ratio"] == 0.70


def test_bench_summary_and_the_report_give_the_same_verdicts(tmp_path: Path) -> None:
    """The verdict table ``bench-summary`` prints and the report's verdict section: the same cell for every
    backend path of the run (one engine, sepbench.core.claims), each with its interval."""
    from sepbench.report.build import build_report

    pairs = [
        paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80, interval=(0.70, 0.65, 0.80)),
        paired_case("numpy", "fast", 0.08, 0.07, 0.90, 0.85, 0.95, interval=(0.90, 0.85, 0.95)),
    ]
    write_run(tmp_path / "bench", 1, [*RUN, *pairs])
    out = bench_summary(tmp_path / "bench")
    assert out.returncode == 0, out.stderr
    printed = {r[1]: r[2:] for r in _wrapped_rows(out.stdout.split("The verdict of this run", 1)[1], "pair")}
    table = build_report([tmp_path / "bench"], [tmp_path / "no-asv"], tmp_path / "report").sections["verdict"].raw
    ours = table[table["machine"].ne("(the study)")].set_index("backend")[["smaller?", "faster?", "a little accuracy?", "trains faster?"]]
    assert set(printed) == set(ours.index) == {"torch", "torch (fast)", "numpy (fast)"}
    for backend, cells in printed.items():
        assert cells == ours.loc[backend].tolist(), backend
    assert printed["torch (fast)"][1] == "yes: 0.70x [0.65, 0.80], 10 rounds"  # wholly below 0.95
    assert printed["numpy (fast)"][1] == "inconclusive: 0.90x [0.85, 0.95], 10 rounds"  # the band's edge 0.95 is inside it
    assert printed["torch"][1].startswith("not measured: ")  # its evaluate times were never paired


def _reproduce_rows(source: str, created: str, n_images: object, weights: str, train_images: float | None = None) -> list[dict]:
    """Tidy rows of one reproduce file: numpy, both study models, test accuracy (and the training images it saw)."""
    rows = []
    for model in ("regular", "separable"):
        base = {"source_kind": "reproduce", "source_file": source, "created": created, "machine": "m1", "backend": "numpy"}
        base |= {"model": model, "path": "default", "workload": "evaluate", "n_images": n_images, "weights_source": weights}
        rows.append({**base, "metric": "test_accuracy", "stat": "value", "value": 0.9})
        if train_images is not None:
            rows.append({**base, "metric": "train_images", "stat": "value", "value": train_images})
    return rows


def test_a_variant_whose_every_reproduce_run_used_a_subset_is_not_comparable():
    """subset_variants: by machine and variant, the claims a subset run cannot decide and why (the newest
    subset file's reasons); one full-data run anywhere clears the variant; other sources are never read."""
    from sepbench.results.tidy import frame

    old = _reproduce_rows("a.json", "2026-01-01", 500, "trained-subset", 640)
    new = _reproduce_rows("b.json", "2026-02-01", 10_000, "trained-subset", 3200)
    got = verdict.subset_variants(frame([*old, *new]))
    assert set(got) == {("m1", "numpy")}
    reasons = got[("m1", "numpy")]
    assert set(reasons) == {"small_accuracy_cost"}  # the newest file tested on all 10,000: only training was a subset
    assert reasons["small_accuracy_cost"].startswith("its runs used a subset of MNIST (trained on 3,200 of the 60,000")
    only_old = verdict.subset_variants(frame(old))[("m1", "numpy")]
    assert set(only_old) == {"faster", "small_accuracy_cost"} and "500 of the 10,000 test images" in only_old["faster"]
    full = _reproduce_rows("c.json", "2026-03-01", 10_000, "trained")
    assert verdict.subset_variants(frame([*old, *full])) == {}  # one full-data run: decided as any other
    bench = [{**r, "source_kind": "pytest-benchmark"} for r in old]
    assert verdict.subset_variants(frame(bench)) == {} and verdict.subset_variants(frame([])) == {}
    unknown = [r for r in _reproduce_rows("d.json", "2026-04-01", 10_000, "trained-subset") if r["metric"] != "train_images"]
    why = verdict.subset_variants(frame(unknown))[("m1", "numpy")]["small_accuracy_cost"]
    assert why.endswith("(trained on a subset of the 60,000 training images)")


def test_study_vs_fastest_names_the_run_it_cannot_read_and_leaves_an_unprobed_limit_empty(tmp_path):
    from sepbench.results.schema import ResultsError
    from sepbench.results.tidy import frame

    with pytest.raises(ResultsError, match=r"x\.json, y\.json: no sepbench benchmark of one model over all 10,000 test images"):
        verdict.study_vs_fastest(frame([{"source_file": "y.json", "metric": "params"}, {"source_file": "x.json", "metric": "params"}]))
    with pytest.raises(ResultsError, match="^run: no sepbench benchmark"):
        verdict.study_vs_fastest(frame([{"metric": "params"}]))
    df = _tidy(tmp_path, RUN)
    probed = verdict.study_vs_fastest(df)
    assert list(probed.columns) == verdict.SUMMARY_COLUMNS and probed["limit_fraction"].notna().all()
    unprobed = verdict.study_vs_fastest(df[~df["metric"].str.startswith("roofline")])
    assert unprobed["limit_fraction"].isna().all() and unprobed["fastest_s"].tolist() == probed["fastest_s"].tolist()
    ev = unprobed.set_index("model")["study_style_s"]
    assert ev["regular"] == 0.5 and ev["separable"] == 0.4  # the evaluate at batch 32, not the other batches


# ---- one paired row -> the estimate "faster" is decided on (values written out, not from the code) ----
def _ratio_row(**over):
    from types import SimpleNamespace

    row = dict(
        workload="paired-predict",
        estimate=0.8,
        low=0.75,
        high=0.85,
        rounds=12,
        note="median of 12 paired rounds; spread 30 %",
        baseline_s=0.010,
        candidate_s=0.008,
        source_file="/x/y/run.json",
        others_cores=0.1234,
        busy="",
    )
    row.update(over)
    return SimpleNamespace(**row)


def test_a_paired_row_becomes_its_interval_its_method_its_warnings_and_its_figures():
    from sepbench.results.paired import paired_estimate

    est, figs = paired_estimate(_ratio_row(), ("base", "cand"))
    assert (est.value, est.low, est.high, est.n) == (0.8, 0.75, 0.85, 12) and est.has_interval
    assert est.method == "predict: median of 12 paired rounds" and est.note == "spread 30 %" and est.unusable == ""
    assert figs == {"measured": "predict", "base_s": 0.010, "cand_s": 0.008, "rounds": 12, "source": "run.json", "others_cores": 0.12}
    _, figs = paired_estimate(_ratio_row(threads=1), ("base", "cand"))
    assert figs["threads"] == 1  # the threads the rounds ran, which the verdict's cell shows


def test_a_paired_row_without_interval_or_busy_or_note_says_so():
    from sepbench.results.paired import paired_estimate

    old, figs = paired_estimate(_ratio_row(low=float("nan"), rounds=None, others_cores=None, note=None), ("b", "c"))
    assert old.n == 1 and not old.has_interval and old.method == "predict: recorded without an interval (an older run)"
    assert "others_cores" not in figs and figs["rounds"] is None
    assert math.isnan(old.low) and math.isnan(old.high)  # NaN, as every undecided estimate's bounds
    one, _ = paired_estimate(_ratio_row(rounds=1), ("b", "c"))
    assert one.n == 1 and not one.has_interval  # one round has no interval, whatever low and high say
    two, _ = paired_estimate(_ratio_row(rounds=2), ("b", "c"))
    assert two.n == 2 and (two.low, two.high) == (0.75, 0.85)  # two rounds are the fewest with an interval
    half, _ = paired_estimate(_ratio_row(high=float("nan")), ("b", "c"))
    assert half.n == 1 and not half.has_interval  # one bound is no interval
    busy, _ = paired_estimate(_ratio_row(busy="other processes kept 1.9 of 2 cores busy", note=""), ("b", "c"))
    assert busy.unusable.startswith("other processes") and busy.method == "predict: median of 12 paired rounds" and busy.note == ""
    evaluate, figs = paired_estimate(_ratio_row(workload="paired-evaluate", note="a; b; c"), ("b", "c"))
    assert evaluate.method == "study-style evaluate b32: a" and evaluate.note == "b; c" and figs["measured"] == "study-style evaluate b32"


def _asv_ratio_row(machine: object, backend: str, path: str, value: float, created: str, commit: str) -> dict:
    """One figure of ASV's SeparableRatio as the tidy table holds it."""
    from sepbench.results.paired import ASV_RATIO_BENCHMARK

    return {"source_kind": "asv", "benchmark": ASV_RATIO_BENCHMARK, "stat": "value", "metric": ASV_RATIO_BENCHMARK, "value": value,
            "backend": backend, "path": path, "machine": machine, "created": created, "commit": commit,
            "source_file": f"/asv/{commit}.json", "unit": "ratio"}  # fmt: skip


def test_faster_is_decided_on_the_paired_evaluate_then_the_paired_predict_then_asv(tmp_path: Path) -> None:
    """Written out, not derived: which estimate speed_evidence hands the "faster" claim of each path."""
    predict = paired_case("torch", "default", 0.06, 0.04, 0.70, 0.65, 0.80, interval=(0.70, 0.66, 0.75))
    evaluate = paired_case("torch", "default", 0.50, 0.45, 0.90, 0.85, 0.95, interval=(0.90, 0.86, 0.94))
    evaluate["name"] = evaluate["name"].replace("_paired[", "_paired_evaluate[")
    evaluate["extra_info"]["workload"] = "paired-evaluate"
    only_predict = paired_case("numpy", "fast", 0.08, 0.06, 0.80, 0.75, 0.85, interval=(0.80, 0.76, 0.84))
    df = _tidy(tmp_path, [predict, evaluate, only_predict])
    asv = [
        _asv_ratio_row("asv-box", "numpy", "fast", 0.95, "2026-01-01T00:00:00+00:00", "c1"),
        _asv_ratio_row("asv-box", "numpy", "fast", 0.85, "2026-02-01T00:00:00+00:00", "c2"),  # the newest commit's
        _asv_ratio_row("asv-box", "numpy", "fast", 0.99, "2025-12-01T00:00:00+00:00", "c0"),
        _asv_ratio_row(None, "torch", "default", 0.10, "2026-03-01T00:00:00+00:00", "c3"),  # a path the pairs measured: not used
        _asv_ratio_row(None, "numpy", "fast", 0.20, "2026-03-01T00:00:00+00:00", "c3"),  # the same
        _asv_ratio_row(None, "litert", "default", 0.88, "2026-03-01T00:00:00+00:00", "c3"),  # ASV alone measured these two
        _asv_ratio_row(None, "onnxruntime", "default", 0.92, "2026-03-01T00:00:00+00:00", "c3"),
    ]
    speeds = paired_rules.speed_evidence(pd.concat([df, pd.DataFrame(asv)], ignore_index=True))
    assert set(speeds) == {
        (None, "study", "torch"),
        (None, "study", "numpy (fast)"),
        ("asv-box", "study", "numpy (fast)"),
        (None, "study", "litert"),  # a file that names no machine still counts
        (None, "study", "onnxruntime"),
    }
    assert speeds[(None, "study", "numpy (fast)")][0].value == 0.80 and speeds[(None, "study", "onnxruntime")][0].value == 0.92
    torch, figs = speeds[(None, "study", "torch")]
    assert (torch.value, torch.low, torch.high, torch.n) == (0.90, 0.86, 0.94, 10)  # the evaluate, not the predict's 0.70
    assert figs["measured"] == "study-style evaluate b32" and (figs["regular_s"], figs["separable_s"]) == (0.50, 0.45)
    numpy, figs = speeds[(None, "study", "numpy (fast)")]
    assert (numpy.value, numpy.low, numpy.high) == (0.80, 0.76, 0.84) and figs["measured"] == "predict"
    point, figs = speeds[("asv-box", "study", "numpy (fast)")]
    assert point.value == 0.85 and point.n == 1 and not point.has_interval and math.isnan(point.low) and math.isnan(point.high)
    assert point.method == "ASV SeparableRatio: one figure per commit, no interval"
    assert figs == {"measured": "ASV track_separable_ratio", "commit": "c2", "source": "c2.json"}
    # no paired row and no ASV figure: nothing decides
    assert paired_rules.speed_evidence(df[~df["workload"].astype(str).str.startswith("paired")]) == {}


def test_paired_ratios_take_the_newest_run_of_each_path_field_by_field(tmp_path: Path) -> None:
    """Written out, not derived: the row paired_ratios makes of the newest of two runs of one path (and of
    a path only the old run measured), every column, including the busy machine's cores and reason."""
    old = paired_case("torch", "fast", 0.07, 0.05, 0.75, 0.70, 0.85, pairs=8, interval=(0.74, 0.69, 0.80))
    new = paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80, pairs=12, interval=(0.71, 0.66, 0.77))
    new["extra_info"].update(others_cores=1.25, busy="other processes kept 1.2 of 2 cores busy", threads=1)
    only_old = paired_case("numpy", "fast", 0.08, 0.07, 0.90, 0.85, 0.95)  # no interval recorded
    frames = []
    for number, (benchmarks, when) in enumerate([([old, only_old], "2026-01-01T00:00:00"), ([new], "2026-02-01T00:00:00")], 1):
        path = write_run(tmp_path, number, benchmarks)
        doc = json.loads(path.read_text())
        path.write_text(json.dumps({**doc, "datetime": when}))
        frames.append(read_run(path)[0])
    rows = paired_rules.paired_ratios(pd.concat(frames, ignore_index=True))
    assert list(rows.columns) == list(paired_rules.RATIO_COLUMNS) and len(rows) == 2
    torch = rows[rows["backend"].eq("torch")].iloc[0]
    assert (torch["pair"], torch["variant"], torch["workload"]) == ("study", "torch (fast)", "paired-predict")
    assert (torch["estimate"], torch["low"], torch["high"], torch["rounds"]) == (0.71, 0.66, 0.77, 12)  # the February run's
    assert (torch["baseline_s"], torch["candidate_s"]) == (0.06, 0.04)
    assert torch["note"] == "median of 12 paired rounds, 95 % percentile bootstrap"
    assert Path(torch["source_file"]).name == "0002_run.json" and torch["others_cores"] == 1.25
    assert torch["busy"] == "other processes kept 1.2 of 2 cores busy" and torch["threads"] == 1
    numpy = rows[rows["backend"].eq("numpy")].iloc[0]
    assert numpy["estimate"] == 0.90 and pd.isna(numpy["low"]) and pd.isna(numpy["high"])  # the median stands in; no interval
    assert (numpy["rounds"], Path(numpy["source_file"]).name, numpy["busy"]) == (10, "0001_run.json", "")
    assert pd.isna(numpy["note"]) and pd.isna(numpy["others_cores"]) and pd.isna(numpy["threads"])  # none recorded
    assert paired_rules.paired_ratios(frames[0].iloc[0:0]).columns.tolist() == list(paired_rules.RATIO_COLUMNS)


def _train_case(backend: str, reg: float, sep: float, interval: tuple[float, float, float] | None, pair: str | None = None) -> dict:
    """A paired training case (both models' epoch seconds on one trainer) as the suite saves it."""
    case = paired_case(backend, "default", reg, sep, interval[0] if interval else 1.0, 0.9, 1.1, pairs=6, interval=interval)
    case["name"] = f"test_train_paired[{backend}]"
    case["extra_info"]["workload"] = "paired-train"
    if pair is not None:  # a pair the run does not define: its models are unknown, so it decides nothing
        case["extra_info"].update(pair=pair, baseline="mystery-a", candidate="mystery-b")
    return case


def test_train_evidence_is_each_trainers_newest_paired_training_written_out(tmp_path: Path) -> None:
    """Written out, not derived: the estimate and figures "trains faster" is decided on, per trainer; a
    paired predict case and a case of an undefined pair are no training evidence."""
    cases = [
        _train_case("torch", 14.0, 19.6, (1.40, 1.31, 1.52)),
        _train_case("numpy", 5.0, 8.0, None),  # recorded without an interval
        _train_case("tensorflow", 40.0, 30.0, (0.75, 0.70, 0.81), pair="damaged"),
        paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80, interval=(0.71, 0.66, 0.77)),
    ]
    df, _ = read_run(write_run(tmp_path, 1, cases))
    machine = df["machine"].iloc[0]
    got = paired_rules.train_evidence(df)
    assert set(got) == {(machine, "study", "torch"), (machine, "study", "numpy")}
    est, figs = got[(machine, "study", "torch")]
    assert (est.value, est.low, est.high, est.n) == (1.40, 1.31, 1.52, 6)
    assert est.method == "training steps: median of 6 paired rounds, 95 % percentile bootstrap" and est.unusable == ""
    assert figs == {"measured": "training steps", "regular_s": 14.0, "separable_s": 19.6, "rounds": 6, "source": "0001_run.json"}
    est, figs = got[(machine, "study", "numpy")]
    assert est.value == 1.0 and est.n == 1 and est.method == "training steps: recorded without an interval (an older run)"
    assert (figs["regular_s"], figs["separable_s"]) == (5.0, 8.0)
    assert paired_rules.train_evidence(df[df["workload"].ne("paired-train")]) == {}
    named = paired_rules.train_evidence(df.assign(machine="m1"))
    assert set(named) == {("m1", "study", "torch"), ("m1", "study", "numpy")}  # the machine is the key's first part


def _seed_rows(machine: object, source: str, created: str, accuracies: dict[str, list[float]], **over: object) -> list[dict]:
    """Tidy rows of one ``reproduce --seeds`` file: each model's test accuracy per seed (1, 2, ...)."""
    rows = []
    for model, values in accuracies.items():
        for seed, value in enumerate(values, 1):
            row = {"source_kind": "reproduce", "source_file": source, "created": created, "machine": machine, "backend": "numpy"}
            row |= {"model": model, "path": "default", "workload": "seeds", "params": f"seed={seed}", "n_images": 10_000}
            row |= {"weights_source": "trained", "metric": "test_accuracy", "stat": "value", "value": value, **over}
            rows.append(row)
    return rows


def test_seed_costs_are_the_newest_full_data_seeds_of_each_machine_in_points() -> None:
    """Written out: each seed's regular - separable accuracy in points, from the newest file of a machine
    only; a subset's seeds, a short test set, one seed, one model or another workload give no costs."""
    from sepbench.results.claim_verdicts import seed_costs
    from sepbench.results.tidy import frame

    rows = _seed_rows("m1", "old.json", "2026-01-01", {"regular": [0.99, 0.99], "separable": [0.90, 0.90]})
    rows += _seed_rows("m1", "new.json", "2026-02-01", {"regular": [0.990, 0.985, 0.988], "separable": [0.975, 0.980, 0.970]})
    rows += _seed_rows("m2", "s.json", "2026-02-01", {"regular": [0.9, 0.9], "separable": [0.8, 0.8]}, weights_source="trained-subset")
    rows += _seed_rows("m3", "t.json", "2026-02-01", {"regular": [0.9, 0.9], "separable": [0.8, 0.8]}, n_images=500)
    rows += _seed_rows("m4", "o.json", "2026-02-01", {"regular": [0.9], "separable": [0.8]})
    rows += _seed_rows("m5", "r.json", "2026-02-01", {"regular": [0.9, 0.9]})
    rows += _seed_rows(None, "n.json", "2026-02-01", {"regular": [0.98, 0.97], "separable": [0.96, 0.965]})
    rows += _seed_rows("m6", "e.json", "2026-02-01", {"regular": [0.9, 0.9], "separable": [0.8, 0.8]}, workload="evaluate")
    rows += _seed_rows("m7", "l.json", "2026-02-01", {"regular": [0.9, 0.9], "separable": [0.8, 0.8]}, metric="test_loss")
    rows += _seed_rows("m8", "u.json", "2026-02-01", {"regular": [0.9, 0.9], "separable": [0.8, 0.7]}, n_images="unknown")
    got = seed_costs(frame(rows))
    assert set(got) == {"m1", None, "m8"}
    assert got["m8"] == pytest.approx([10.0, 20.0])  # an unreadable image count is no evidence of a subset
    assert got["m1"] == pytest.approx([1.5, 0.5, 1.8])  # new.json's three seeds, not old.json's 9-point costs
    assert got[None] == pytest.approx([2.0, 0.5])  # a file that names no machine still counts
    assert all(isinstance(c, float) for c in got["m1"])
    assert seed_costs(frame(rows).drop(columns="workload")) == {}


def test_claim_verdicts_cover_each_machine_pair_and_path_in_order_with_their_evidence(tmp_path: Path) -> None:
    """Written out: which (machine, pair, path) rows the verdicts cover and in what order (machines by
    name, the study's pair first, then the others by name, then paths); a trainer's paired rounds add the
    paths of that backend on that machine only; each row's training, seed, size and subset evidence
    reaches its verdict, for its own pair's models; a synthetic pair and a user's pair say why nothing trained."""
    from sepbench.results.tidy import frame

    def pair_case(pair: str, base: str, cand: str, path: str, interval: tuple[float, float, float]) -> dict:
        case = paired_case("torch", path, 0.06, 0.05, interval[0], interval[1], interval[2], interval=interval)
        case["name"] = case["name"].replace("-pair-", f"-{pair}-")
        info = case["extra_info"]
        seconds = {f"{base}_median_s": info.pop("regular_median_s"), f"{cand}_median_s": info.pop("separable_median_s")}
        case["extra_info"].update(pair=pair, baseline=base, candidate=cand, **seconds)
        return case

    sizes = [  # m-a's default torch path has each study and spatial model's size: the spatial pair's row
        bench_case("torch", "regular", "predict", "default", 32, 32, 0.001, params=8586, native_bytes=40_000),
        bench_case("torch", "spatial", "predict", "default", 32, 32, 0.001, params=2713, native_bytes=16_000),
    ]
    no_fast = [c for c in RUN if "-fast-" not in c["name"]]
    runs = {  # m-a: no fast figure, torch trained; m-b: a fast figure of one model only, numpy trained, a subset run
        "m-a": [
            *no_fast,
            *sizes,
            paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80, interval=(0.70, 0.65, 0.80)),
            pair_case("spatial", "regular", "spatial", "fast", (0.83, 0.80, 0.86)),
            pair_case("example", "example-regular", "example-separable", "fast", (0.20, 0.18, 0.22)),
            pair_case("zed", "zed-a", "zed-b", "default", (0.90, 0.85, 0.93)),  # a user's pair file, not built in
            _train_case("torch", 14.0, 19.6, (1.40, 1.31, 1.52)),
        ],
        "m-b": [*RUN, _train_case("numpy", 5.0, 4.0, (0.80, 0.76, 0.85))],
    }
    frames = []
    for number, (machine, cases) in enumerate(sorted(runs.items(), reverse=True), 1):
        df, _ = read_run(write_run(tmp_path / machine, number, cases))
        frames.append(df.assign(machine=machine))
    seeds = _seed_rows("m-a", "seeds.json", "2026-02-01", {"regular": [0.990, 0.985, 0.988], "separable": [0.975, 0.980, 0.970]})
    subset = [{**r, "machine": "m-b", "backend": "torch"} for r in _reproduce_rows("sub.json", "2026-02-01", 500, "trained-subset", 640)]
    got = claim_verdicts(pd.concat([*frames, frame(seeds), frame(subset)], ignore_index=True))
    # m-b's torch (fast) has no separable figure and m-b trained numpy, not torch: no row for it
    assert [(machine, pair, var) for machine, pair, var, _ in got] == [
        ("m-a", "study", "torch"),
        ("m-a", "study", "torch (fast)"),
        ("m-a", "example", "torch (fast)"),
        ("m-a", "spatial", "torch"),
        ("m-a", "spatial", "torch (fast)"),
        ("m-a", "zed", "torch"),
        ("m-b", "study", "torch"),
    ]
    verdicts = {(machine, pair, var): {v.claim: v for v in vs} for machine, pair, var, vs in got}
    for path in ("torch", "torch (fast)"):  # the torch trainer's rounds decide every torch path's row
        trains = verdicts[("m-a", "study", path)]["trains_faster"]
        assert (trains.outcome, trains.estimate, trains.low, trains.high, trains.n) == ("NO", 1.40, 1.31, 1.52, 6)
    no_rounds = "no paired training rounds of both models on the torch trainer"
    assert verdicts[("m-b", "study", "torch")]["trains_faster"].note == no_rounds
    assert verdicts[("m-a", "zed", "torch")]["trains_faster"].note == no_rounds  # a user's pair trains like the study's
    synthetic = verdicts[("m-a", "example", "torch (fast)")]["trains_faster"]
    assert synthetic.outcome == "not measured" and synthetic.note == "synthetic input: no labels to train on (speed and size only)"
    assert verdicts[("m-a", "spatial", "torch (fast)")]["trains_faster"].outcome == "not measured"  # spatial trained nowhere
    faster = verdicts[("m-a", "spatial", "torch (fast)")]["faster"]
    assert (faster.outcome, faster.estimate, faster.low, faster.high) == ("yes", 0.83, 0.80, 0.86)
    smaller = verdicts[("m-a", "spatial", "torch")]["smaller"]
    assert smaller.outcome == "yes" and smaller.estimate == pytest.approx(16_000 / 40_000)  # its own models' files
    seeded = verdicts[("m-a", "study", "torch")]["small_accuracy_cost"]
    assert seeded.n == 3 and seeded.estimate == pytest.approx((1.5 + 0.5 + 1.8) / 3)  # m-a's three seeds decide
    assert verdicts[("m-a", "spatial", "torch")]["small_accuracy_cost"].outcome == "not measured"  # the seeds are the study's
    for claim in ("faster", "small_accuracy_cost"):  # m-b's subset run: not the study's data
        assert verdicts[("m-b", "study", "torch")][claim].outcome == "not comparable"
    assert verdicts[("m-a", "study", "torch")]["faster"].outcome != "not comparable"  # the subset was m-b's


def test_paired_table_is_the_newest_run_of_each_path_written_out(tmp_path: Path) -> None:
    """paired(): the newest run's row for each machine, pair and path, every column in order; a path only
    the old run measured keeps its row; a run that names no machine counts; an undefined pair names no models."""
    old = [paired_case("torch", "fast", 0.07, 0.05, 0.75, 0.70, 0.85, pairs=8), paired_case("numpy", "fast", 0.08, 0.07, 0.90, 0.85, 0.95)]
    new = [paired_case("torch", "fast", 0.06, 0.04, 0.70, 0.65, 0.80, pairs=12)]
    damaged = paired_case("onnxruntime", "fast", 0.05, 0.04, 0.80, 0.75, 0.85)
    damaged["extra_info"].update(pair="lost", baseline="a", candidate="b")
    frames = []
    for number, (benchmarks, when) in enumerate([(old, "2026-01-01T00:00:00"), ([*new, damaged], "2026-02-01T00:00:00")], 1):
        path = write_run(tmp_path, number, benchmarks)
        path.write_text(json.dumps({**json.loads(path.read_text()), "datetime": when}))
        frames.append(read_run(path)[0].assign(machine="m1"))
    nameless = read_run(write_run(tmp_path / "nameless", 3, [paired_case("litert", "fast", 0.04, 0.03, 0.77, 0.72, 0.81)]))[0]
    nameless = nameless.assign(machine=float("nan"))
    table = paired_rules.paired(pd.concat([*frames, nameless], ignore_index=True))
    assert list(table.columns) == paired_rules.PAIRED_COLUMNS
    assert list(table.index) == [0, 1, 2, 3]
    got = {(r.backend, r.pair): r for r in table.itertuples()}
    assert set(got) == {("torch", "study"), ("numpy", "study"), ("onnxruntime", "lost"), ("litert", "study")}
    torch = got[("torch", "study")]  # the February run's
    labels = ("m1", "fast", "torch (fast)", "regular", "separable")
    assert (torch.machine, torch.path, torch.variant, torch.baseline, torch.candidate) == labels
    assert (torch.baseline_s, torch.candidate_s, torch.ratio, torch.q1, torch.q3, torch.pairs) == (0.06, 0.04, 0.70, 0.65, 0.80, 12)
    assert Path(torch.source_file).name == "0002_run.json"
    numpy = got[("numpy", "study")]  # only the January run measured it
    assert (numpy.ratio, numpy.pairs, Path(numpy.source_file).name) == (0.90, 10, "0001_run.json")
    lost = got[("onnxruntime", "lost")]
    assert pd.isna(lost.baseline) and pd.isna(lost.candidate) and pd.isna(lost.baseline_s) and lost.ratio == 0.80
    assert pd.isna(got[("litert", "study")].machine) and got[("litert", "study")].ratio == 0.77
    assert list(paired_rules.paired(frames[0].iloc[0:0]).columns) == paired_rules.PAIRED_COLUMNS


def _figure_row(backend: str, model: str, metric: str, value: float, **over: object) -> dict:
    row = {"source_kind": "pytest-benchmark", "source_file": "run.json", "created": "2026-02-01", "machine": "m1"}
    row |= {"backend": backend, "model": model, "path": "default", "workload": "evaluate", "batch_size": 32, "n_images": 10_000}
    row |= {"weights_source": "trained", "metric": metric, "stat": "value", "value": value, **over}
    return row


def test_figures_keep_only_the_studys_kind_of_figure_written_out() -> None:
    """figures(): each rule on written-out rows: untrained or subset weights' accuracy and loss out,
    evaluate over fewer than 10,000 images out, evaluate seconds at batch 32 only, a full-test-set
    accuracy renamed test_accuracy, per-batch latencies out (their 10,000-image median becomes
    predict_10k_seconds), a paired row of another pair and training rounds out, the preferred source kept."""
    from sepbench.results.tidy import frame

    rows = [
        _figure_row("numpy", "regular", "test_accuracy", 0.91),
        _figure_row("numpy", "regular", "test_accuracy", 0.99, source_kind="asv", created="2026-03-01"),  # reproduce/pytest first
        _figure_row("numpy", "regular", "test_loss", 0.30),
        _figure_row("numpy", "regular", "eval_seconds", 0.50),
        _figure_row("numpy", "regular", "eval_seconds", 0.20, batch_size=64),  # not the study's batch
        _figure_row("numpy", "regular", "params", 8586.0, batch_size=None),
        _figure_row("numpy", "regular", "native_bytes", 40_000.0, stat="q1"),  # not a single figure
        _figure_row(None, "regular", "native_bytes", 40_000.0),  # no backend
        _figure_row("numpy", None, "native_bytes", 40_000.0),  # no model
        _figure_row("numpy", "separable", "eval_seconds", 0.05, n_images=500),  # a subset of the test images
        _figure_row("numpy", "separable", "test_accuracy", 0.50, n_images=500),
        _figure_row("numpy", "separable", "test_loss", 1.50, n_images=500),
        _figure_row("numpy", "separable", "test_accuracy", 0.10, weights_source="seeded-init", path="fast"),
        _figure_row("numpy", "separable", "test_loss", 2.30, weights_source="trained-subset", path="fast"),
        _figure_row("numpy", "separable", "accuracy", 0.12, weights_source="seeded-init", path="fast"),
        _figure_row("torch", "regular", "accuracy", 0.90, workload="predict", path="fast", batch_size=1024),  # all 10,000
        _figure_row("torch", "regular", "accuracy", 0.80, workload="predict", path="fast", batch_size=32, n_images=32),
        _figure_row("torch", "regular", "latency_s", 0.06, workload="predict", path="fast", batch_size=1024, stat="median"),
        _figure_row("torch", "regular", "images_per_s", 1.6e5, workload="predict", path="fast", batch_size=1024),
        _figure_row("torch", "regular", "rounds", 5.0, workload="predict", path="fast", batch_size=1024),
        _figure_row("torch", "regular", "paired_10k_seconds", 0.07, workload="paired-predict", path="fast"),
        _figure_row("torch", "spatial", "paired_10k_seconds", 0.05, workload="paired-predict", path="fast", pair="spatial"),
        _figure_row("torch", "regular", "paired_epoch_seconds", 9.0, workload="paired-train", path="fast"),
    ]
    got = verdict.figures(frame(rows))
    table = {(r.variant, r.model, r.metric): r.value for r in got.itertuples()}
    assert table == {
        ("numpy", "regular", "test_accuracy"): 0.91,
        ("numpy", "regular", "test_loss"): 0.30,
        ("numpy", "regular", "eval_seconds"): 0.50,
        ("numpy", "regular", "params"): 8586.0,
        ("torch (fast)", "regular", "test_accuracy"): 0.90,
        ("torch (fast)", "regular", "predict_10k_seconds"): 0.06,
        ("torch (fast)", "regular", "paired_10k_seconds"): 0.07,
    }
    assert got.index.is_unique  # one label per figure (the predicted-10k rows come from the same frame)
    assert set(got["machine"]) == {"m1"}
    empty = verdict.figures(frame([]))
    assert empty.empty and "variant" in empty.columns


def test_row_labels_where_a_column_is_missing_or_empty_written_out() -> None:
    """variant, pair_of, is_inference and way on rows that lack a path, a backend, a batch size, or the
    column itself (older files), with an index that is not 0..n-1."""
    df = pd.DataFrame(
        {
            "backend": ["torch", None, "numpy", "onnxruntime"],
            "path": [None, "fast", "fast", "default"],
            "workload": ["predict", "predict", "evaluate", "predict"],
            "batch_size": [1024, None, 32, 64],
        },
        index=[5, 7, 9, 11],
    )
    assert verdict.variant(df).tolist() == ["torch", "? (fast)", "numpy (fast)", "onnxruntime"]
    assert verdict.way(df).tolist() == ["default b1024", "fast", "evaluate b32", "default b64"]  # no batch_free column
    free = df.assign(batch_free=[False, False, True, True])
    assert verdict.way(free).tolist() == ["default b1024", "fast", "evaluate b32", "default"]  # an evaluate keeps its batch
    pairs = verdict.pair_of(df)
    assert pairs.tolist() == ["study"] * 4 and pairs.index.tolist() == [5, 7, 9, 11] and pairs.dtype == object
    named = verdict.pair_of(df.assign(pair=["spatial", None, None, "mine"]))
    assert named.tolist() == ["spatial", "study", "study", "mine"]
    assert verdict.is_inference(df.drop(columns="workload")).tolist() == [True] * 4
    assert verdict.is_inference(df.drop(columns="workload")).index.tolist() == [5, 7, 9, 11]
    seeds = df.assign(workload=["seeds", "graph-forward", "paired-predict", "predict"])
    assert verdict.is_inference(seeds).tolist() == [False, False, True, True]


def test_best_prefers_reproduce_then_pytest_benchmark_then_asv_then_the_newest() -> None:
    rows = pd.DataFrame(
        {
            "key": ["a"] * 4 + ["b"] * 3,
            "source_kind": ["asv", "pytest-benchmark", "reproduce", "pytest-benchmark", "asv", "asv", "asv"],
            "created": ["2026-09-01", "2026-08-01", "2026-01-01", "2026-12-01", "2026-01-01", None, "2026-02-01"],
            "value": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    got = verdict.best(rows, ["key"]).set_index("key")["value"].to_dict()
    assert got == {"a": 3, "b": 7}  # reproduce over newer runs of the others; an undated row is the oldest
    assert list(verdict.best(rows, ["key"]).columns) == ["key", "source_kind", "created", "value"]
    unknown = rows.assign(source_kind=["mystery", "asv", "mystery", "mystery", "asv", "asv", "asv"])
    assert verdict.best(unknown, ["key"]).set_index("key")["value"].to_dict() == {"a": 2, "b": 7}  # a known kind first


def test_pair_models_are_the_built_in_pairs_and_each_newest_runs_roles() -> None:
    """A user's pair takes the models its newest run gave the two roles (a pair file's models may be
    renamed); an undated run is the oldest; a pair whose rows name one role only is no pair."""
    from sepbench.core.pairs import PAIRS

    def role_rows(pair: str, source: str, created: object, **models: str) -> list[dict]:
        base = {"pair": pair, "source_file": source, "created": created}
        return [{**base, "params": f"role={role}", "model": m} for role, m in models.items()]

    rows = role_rows("mine", "old.json", "2026-01-01", baseline="a", candidate="x")
    rows += role_rows("mine", "new.json", "2026-02-01", baseline="a", candidate="y")
    rows += role_rows("mine", "undated.json", None, baseline="a", candidate="z")
    rows += role_rows("half", "h.json", "2026-02-01", baseline="b")
    rows += [{"pair": "other", "params": None, "model": "c", "source_file": "o.json", "created": "2026-03-01"}]
    got = verdict.pair_models(pd.DataFrame(rows))
    built_in = {name: p.model_names for name, p in PAIRS.items()}
    assert got == {**built_in, "mine": ("a", "y")}
    assert verdict.pair_models(pd.DataFrame({"model": ["a"]})) == built_in  # an older file: no params column
    assert verdict.pair_models(pd.DataFrame()) == built_in


def test_paired_records_win_over_a_runs_rows_and_their_evaluate_over_their_predict(tmp_path: Path) -> None:
    """Records of several processes decide a path, whatever a pytest-benchmark run's rows say of it; of
    the records, the study-style evaluate decides the default path, as it does among rows."""
    import dataclasses

    from tests.test_paired_records import IDENTITY, record

    row = paired_case("numpy", "default", 0.06, 0.04, 0.70, 0.65, 0.80, interval=(0.70, 0.66, 0.75))
    df = _tidy(tmp_path, [row]).assign(machine="m")  # the run's rows and the records name one machine
    assert paired_rules.speed_evidence(df)[("m", "study", "numpy")][0].value == 0.70  # the rows alone
    evaluate = dataclasses.replace(IDENTITY, path="default", workload="paired-evaluate", machine="m")
    predict = dataclasses.replace(evaluate, workload="paired-predict")
    recs = [dataclasses.replace(record(1.3, seed=s), identity=evaluate) for s in (1, 2, 3)]
    recs += [dataclasses.replace(record(0.5, seed=s), identity=predict) for s in (4, 5, 6)]
    speeds = paired_rules.speed_evidence(df, recs)
    est, figs = speeds[("m", "study", "numpy")]
    assert 1.2 < est.value < 1.4 and figs["processes"] == 3 and figs["measured"] == "study-style evaluate b32"
    assert set(speeds) == {("m", "study", "numpy")}
