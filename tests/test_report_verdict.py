"""The verdict a newcomer reads first: this machine's rows, expanded, each cell with its interval;
other machines in their own table below.  Built from pytest-benchmark files in the format the suite
writes (paired rounds with their samples and interval), checked in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sepbench.core.intervals import paired_ratio
from tests.browser import dump_dom, require_chromium

HERE, OTHER = "here-2c-test", "elsewhere-4c-test"


def _paired(backend: str, path: str, workload: str, ratio: float, n: int, noise: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    reg = (0.2 * np.exp(rng.normal(0, noise, n))).tolist()
    sep = (np.array(reg) * ratio * np.exp(rng.normal(0, noise, n))).tolist()
    est = paired_ratio(reg, sep)
    q1, med, q3 = np.percentile(np.array(sep) / np.array(reg), [25, 50, 75])
    kind = "paired-evaluate-10k" if workload == "paired-evaluate" else "paired-10k"
    return {
        "name": f"test_{kind}[{backend}-pair-{path}]",
        "fullname": f"tests/bench/test_bench.py::test_{kind}[{backend}-pair-{path}]",
        "group": f"separable/regular {kind}",
        "params": {},
        "stats": {"min": 1.0, "max": 1.0, "mean": 1.0, "median": 1.0, "stddev": 0.0, "iqr": 0.0, "q1": 1.0, "q3": 1.0, "rounds": 1},
        "extra_info": {
            "workload": workload,
            "backend": backend,
            "path": path,
            "batch_size": 32 if workload == "paired-evaluate" else 1024,
            "n_images": 10_000,
            "weights_source": {"regular": "trained", "separable": "trained"},
            "regular_median_s": float(np.median(reg)),
            "separable_median_s": float(np.median(sep)),
            "ratio_median": float(med),
            "ratio_q1": float(q1),
            "ratio_q3": float(q3),
            "pairs": n,
            "ratio_estimate": est.value,
            "ratio_low": est.low,
            "ratio_high": est.high,
            "ratio_method": est.method,
            "samples_s": {"regular": reg, "separable": sep},
        },
    }


def _evaluate(backend: str, model: str, params: int, native: int, accuracy: float) -> dict:
    return {
        "name": f"test_evaluate[{backend}-{model}]",
        "fullname": f"tests/bench/test_bench.py::test_evaluate[{backend}-{model}-default-b32-n10000]",
        "group": f"{model} evaluate-10k",
        "params": {},
        "stats": {"min": 0.2, "max": 0.3, "mean": 0.25, "median": 0.25, "stddev": 0.01, "iqr": 0.01, "q1": 0.24, "q3": 0.26, "rounds": 5},
        "extra_info": {
            "workload": "evaluate",
            "backend": backend,
            "model": model,
            "path": "default",
            "batch_size": 32,
            "n_images": 10_000,
            "params": params,
            "native_bytes": native,
            "native_format": "npz",
            "accuracy": accuracy,
            "weights_source": "trained",
        },
    }


def _run_file(directory: Path, machine: str, created: str, benchmarks: list[dict]) -> None:
    doc = {
        "machine_info": {"machine_name": machine, "node": "vm", "cpu": {"brand_raw": "Test CPU"}},
        "commit_info": {"id": "0" * 40, "dirty": False},
        "datetime": created,
        "version": "5.3.1",
        "benchmarks": benchmarks,
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"0001_{machine}.json").write_text(json.dumps(doc))


@pytest.fixture
def two_machines(tmp_path: Path) -> Path:
    results = tmp_path / "results" / "bench"
    sizes = [
        _evaluate("numpy", "regular", 8586, 40_000, 0.9127),
        _evaluate("numpy", "separable", 1427, 11_600, 0.9009),
    ]
    _run_file(
        results / HERE,
        HERE,
        "2026-12-02T08:00:00",
        [
            *sizes,
            _paired("numpy", "default", "paired-evaluate", 0.70, 12, 0.02, 1),  # yes
            _paired("torch", "fast", "paired-predict", 1.00, 20, 0.005, 2),  # tie
            _paired("onnxruntime", "fast", "paired-predict", 0.95, 8, 0.25, 3),  # noisy: inconclusive
        ],
    )
    _run_file(results / OTHER, OTHER, "2026-12-01T08:00:00", [*sizes, _paired("numpy", "default", "paired-evaluate", 1.4, 12, 0.02, 4)])
    return tmp_path / "results"


def test_verdict_is_this_machine_with_intervals_and_other_machines_apart(two_machines: Path, tmp_path: Path) -> None:
    from sepbench.report.build import build_report

    report = build_report([two_machines], [tmp_path / "no-asv"], tmp_path / "out", this_machine=HERE)
    verdict = report.sections["verdict"].raw.set_index("backend")
    assert set(verdict["machine"]) == {"(the study)", HERE}  # this machine alone, after the study's row
    assert verdict.at["numpy", "faster?"].startswith("yes: 0.7") and "12 rounds" in verdict.at["numpy", "faster?"]
    assert verdict.at["torch (fast)", "faster?"].startswith("tie: 1.0")
    assert verdict.at["onnxruntime (fast)", "faster?"].startswith("inconclusive")
    assert verdict.at["numpy", "a little accuracy?"] == "yes: +1.18 points, 1 seed"
    assert verdict.at["numpy", "smaller?"].startswith("yes: params 0.166x")
    other = report.sections["verdict_other_machines"].raw.set_index("backend")
    assert set(other["machine"]) == {OTHER} and other.at["numpy", "faster?"].startswith("NO: 1.3")
    records = report.sections["claims"].raw
    assert set(records["outcome"]) <= {"yes", "NO", "tie", "inconclusive", "not comparable", "not measured"}
    md = report.files["report.md"].read_text()
    assert md.index("The verdict: the claims on this machine") < md.index("The verdict on other machines")


def test_first_table_in_the_browser_is_this_machines_verdict_expanded(two_machines: Path, tmp_path: Path) -> None:
    chromium = require_chromium("the HTML")
    from sepbench.report.build import build_report

    report = build_report([two_machines], [tmp_path / "no-asv"], tmp_path / "out", this_machine=HERE)
    # a script in the page reports what a reader sees: the first table's section, whether it sits in a
    # closed <details>, its machine column and whether its speed cells carry an interval
    probe = tmp_path / "out" / "probe.html"
    probe.write_text(
        report.files["index.html"]
        .read_text()
        .replace(
            "</body>",
            """<script>
window.addEventListener("load", function () {
  var t = document.querySelector("table");
  var sec = t.closest("section").getAttribute("data-section");
  var hidden = t.closest("details") !== null && !t.closest("details").open;
  var rows = Array.prototype.map.call(t.querySelectorAll("tbody tr"), function (r) { return r.innerText; });
  var out = document.createElement("pre"); out.id = "probe";
  var caption = t.querySelector("caption") ? t.querySelector("caption").innerText : "";
  out.textContent = JSON.stringify({section: sec, hidden: hidden, rows: rows, caption: caption, visible: t.offsetHeight > 0});
  document.body.appendChild(out);
});
</script></body>""",
        )
    )
    dom = dump_dom(chromium, probe.as_uri(), tmp_path / "profile")
    start = dom.index('<pre id="probe">') + len('<pre id="probe">')
    seen = json.loads(dom[start : dom.index("</pre>", start)].replace("&quot;", '"').replace("&amp;", "&"))
    assert seen["section"] == "verdict" and not seen["hidden"] and seen["visible"]
    assert HERE in seen["caption"] and not any(OTHER in r for r in seen["rows"])  # the machine once, in the caption
    ours = [r for r in seen["rows"] if r.split("\t")[0].strip() in ("numpy", "torch (fast)", "onnxruntime (fast)")]
    assert len(ours) == 3 and all("[" in r and "]" in r for r in ours), seen["rows"]  # every speed cell with its interval
    assert dom.index('id="verdict"') < dom.index('id="verdict_other_machines"') < dom.index('id="plots"')
