"""ASV history and ``sepbench regress``, run for real, in a throw-away git repository holding this
working tree, with a cheap ASV configuration (virtualenv with pinned NumPy only: the framework
benchmarks skip, with their reason): history over a range of commits, a second machine beside the
first, ``asv publish`` opened in headless Chromium, and the regression check: quiet on a no-op commit,
firing and naming the benchmark on a 3x slower NumPy predict and reporting a changed parameter count.
The repository and its one virtualenv are shared by all these tests (one file: a second copy cost
more than running side by side gained, measured).  ``asv check`` and the quick run of the whole suite
are in ``tests/test_asv_suite.py``.  The tests select the NumPy parameters only (one batch size; one
process of ten samples per commit in the regression checks), as the other backends could only skip there.
"""

from __future__ import annotations

import http.server
import json
import math
import os
import re
import shutil
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sepbench.asv.continuous import ExactChange, RegressOutcome
from sepbench.asv.history import read_asv_conf
from tests.browser import dump_dom, require_chromium, screenshot
from tests.conftest import REPO

PY = sys.executable
pytestmark = pytest.mark.slow

# the cheap configuration's environment: NumPy pinned as in asv.conf.json, no framework.  The second machine
# runs every backend of these (the framework ones must skip, not fail); training runs on the first only
CHEAP_BENCH = r"PredictLatency|ModelSize|ModelCost"
# the first machine runs the NumPy parameters only: ASV matches a parameterized benchmark as "name('numpy', ...)",
# so the other backends' combinations, which could only skip here, are not even started (a process each)
NUMPY_BENCH = r"(PredictLatency|ModelSize|ErrorRate)\.\w+\('numpy'|ModelCost"
NUMPY_PREDICT_SIZE = r"(PredictLatency|ModelSize)\.\w+\('numpy'|ModelCost"
NUMPY_PREDICT_COST = r"PredictLatency\.\w+\('numpy'|ModelCost"  # one exact figure (MACs) is enough for the no-op


def _asv_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOME=str(home),  # asv keeps its machine file in ~/.asv-machine.json: keep the user's untouched
        TF_CPP_MIN_LOG_LEVEL="2",
        SEPBENCH_ASV_TRAIN_IMAGES="1024",
        SEPBENCH_ASV_THREADS="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _asv(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return _run([PY, "-m", "asv", *args], cwd, env, timeout)


# lines that every TensorFlow process prints whatever its log level: kept out of failure messages
_NOISE = re.compile(
    r"oneDNN custom operations|absl::InitializeLog|AutoGraph could not transform"
    r"|^\s*(# coding=utf-8|lambda t:|Cause:|To silence|Please report this to the TensorFlow team)"
)


def _tail(out: str, n: int = 5000) -> str:
    """The last ``n`` characters of ``out`` without the frameworks' start-up chatter (for assertion messages)."""
    return "\n".join(line for line in out.splitlines() if not _NOISE.search(line))[-n:]


def _git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org"
    )
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


# ---- in this environment ---------------------------------------------------------------------------
def copy_working_tree(dest: Path) -> Path:
    """This working tree's files (tracked and untracked, not ignored) copied to ``dest``."""
    ls_files = ["git", "ls-files", "-co", "--exclude-standard", "-z"]
    files = subprocess.run(ls_files, cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    return dest


# ---- in a throw-away repository with the cheap configuration ------------------------------------------
def _commit_patch(repo: Path, rel: str, old: str, new: str, message: str) -> str:
    """Replace ``old`` by ``new`` in ``rel``, commit, return the commit hash."""
    path = repo / rel
    text = path.read_text()
    assert old in text, f"{rel} changed: update the patch of the {message!r} commit in this test"
    path.write_text(text.replace(old, new))
    _git(repo, "commit", "-qam", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def asv_repo(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> dict:
    """A git repository of this working tree: commits base -> slow (NumPy predict 3x) -> params (one more
    conv3 filter) -> noop (README only).  The tests build three of them (a build and install costs seconds):
    the range slow..noop (params, noop), the no-op check params -> noop, the alert base -> params."""
    root = tmp_path_factory.mktemp("asv")
    repo = copy_working_tree(root / "repo")
    conf = read_asv_conf(repo / "asv.conf.json")
    conf["matrix"] = {"req": {"numpy": conf["matrix"]["req"]["numpy"]}}  # the pinned NumPy, no framework
    conf["branches"] = ["main"]
    (repo / "asv.conf.json").write_text(json.dumps(conf, indent=2))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    commits = {"base": _git(repo, "rev-parse", "HEAD")}
    forward = "    def _forward(self, x: np.ndarray) -> np.ndarray:\n        z = self.forward_logits(x)\n"
    thrice = forward + "        z = self.forward_logits(x)  # the same work three times\n" * 2
    commits["slow"] = _commit_patch(repo, "impls/numpy_backend.py", forward, thrice, "slow: NumPy forward three times")
    convs = "convs = ((8, 7, 2), (16, 5, 2), (32, 3, 1))"  # one more conv3 filter: params and MACs change
    bigger = convs.replace("(32, 3, 1)", "(33, 3, 1)")
    commits["params"] = _commit_patch(repo, "sepbench/core/spec.py", convs, bigger, "params: change the model")
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nA no-op change.\n")
    _git(repo, "commit", "-qam", "noop: README only")
    commits["noop"] = _git(repo, "rev-parse", "HEAD")

    home = root / "home"
    home.mkdir()
    # one batch size with enough work per call to be stable between processes here (batch 1 is not, and
    # batch 32 once moved 1.54x: see benchmarks/predict.py); the wall-clock timer (CPU time also counts
    # stray threads' work)
    env = _asv_env(home, SEPBENCH_MNIST_DIR=str(mnist_dir), SEPBENCH_ASV_BATCHES="1000")
    for machine in ("ci-a", "ci-b"):
        proc = _asv(["machine", "--yes", "--machine", machine], repo, env)
        assert proc.returncode == 0, proc.stderr
    return {"repo": repo, "commits": commits, "env": env}


@pytest.fixture(scope="module")
def asv_history(asv_repo: dict) -> Path:
    """ASV results of the range slow..noop on machine ci-a and of noop on ci-b (every backend: the
    framework benchmarks skip here); the results folder.  The history and publish tests both read it."""
    repo, commits, env = asv_repo["repo"], asv_repo["commits"], asv_repo["env"]
    # the values only have to exist (nothing is judged on them): one process, two samples, no warm-up time
    # (the workload's set-up has warmed it up already)
    fast = ["--attribute", "repeat=2", "--attribute", "rounds=1", "--attribute", "warmup_time=0"]
    commit_range = f"{commits['slow']}..{commits['noop']}"  # two commits: params, noop
    proc = _asv(["run", commit_range, "--machine", "ci-a", *fast, "--bench", NUMPY_BENCH], repo, env, timeout=1500)
    assert proc.returncode == 0, _tail(proc.stdout + proc.stderr)
    # every backend here: the framework benchmarks must skip (no framework in this environment), not fail
    proc = _asv(["run", f"{commits['noop']}^!", "--machine", "ci-b", *fast, "--bench", CHEAP_BENCH], repo, env, timeout=1200)
    assert proc.returncode == 0, _tail(proc.stdout + proc.stderr)
    return repo / ".asv" / "results"


def test_history_over_a_range_and_a_second_machine(asv_repo: dict, asv_history: Path) -> None:
    commits = asv_repo["commits"]
    results = asv_history
    stored = {json.loads(p.read_text())["commit_hash"] for p in (results / "ci-a").glob("*.json") if p.name != "machine.json"}
    assert {commits[k] for k in ("params", "noop")} <= stored and commits["slow"] not in stored  # the range slow..noop
    assert any(p.name != "machine.json" for p in (results / "ci-b").glob("*.json"))

    from sepbench.results.read_asv import load_asv_dir

    rows, warnings, _ = load_asv_dir(results)
    assert not warnings
    numpy_rows = [r for r in rows if r.get("backend") == "numpy"]
    assert not [r for r in rows if r.get("backend") in ("tensorflow", "torch")], "skipped benchmarks must not become figures"
    err = {(r["machine"], r["commit"], r["model"]): r["value"] for r in numpy_rows if r["metric"] == "training.ErrorRate.track_error_rate"}
    for machine, commit in (("ci-a", commits["params"]), ("ci-a", commits["noop"])):
        assert 0.0 < err[(machine, commit, "regular")] < err[(machine, commit, "separable")] < 0.95  # 1 epoch of 1,024 images
    params = {(r["commit"], r["model"]): r["value"] for r in numpy_rows if r["metric"] == "params" and r["machine"] == "ci-a"}
    # the changed model (8,586 -> 8,741 parameters: 3x3x16 weights and a bias of the new filter, 10 of the dense layer)
    assert params[(commits["params"], "regular")] == params[(commits["noop"], "regular")] == 8586 + 3 * 3 * 16 + 1 + 10
    assert params[(commits["params"], "separable")] == params[(commits["noop"], "separable")] > 1427
    # the framework benchmarks were skipped (no framework in this environment), not failed
    doc = json.loads(next(p for p in (results / "ci-b").glob(f"{commits['noop'][:8]}-*.json")).read_text())
    tp = dict(zip(doc["result_columns"], doc["results"]["size.ModelSize.track_params"]))["result"]
    assert tp[0] == 8586 + 3 * 3 * 16 + 1 + 10 and tp[1] > 1427 and all(v is None or math.isnan(v) for v in tp[2:]), tp


def _serve(directory: Path) -> tuple[socketserver.TCPServer, str]:
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(directory), **k)  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **k: None  # quiet
    server = socketserver.TCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _browse(chromium: str, url: str, tmp: Path, shot: Path) -> str:
    """The page's DOM and a screenshot in ``shot`` (ASV's pages render their graphs with scripts: 15 s of virtual time)."""
    screenshot(chromium, url, tmp / "profile", shot)
    return dump_dom(chromium, url, tmp / "profile", budget_ms=15000)


def _not_blank(png: Path) -> float:
    """Fraction of pixels that differ from the most common colour."""
    import numpy as np
    from matplotlib.image import imread

    img = (imread(png)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    colours, counts = np.unique(img, axis=0, return_counts=True)
    return 1.0 - counts.max() / len(img)


def test_publish_renders_graphs_in_chromium(asv_repo: dict, asv_history: Path, tmp_path: Path) -> None:
    repo, env = asv_repo["repo"], asv_repo["env"]
    assert (asv_history / "ci-a").is_dir() and (asv_history / "ci-b").is_dir()
    chromium = require_chromium("the published HTML")
    proc = _asv(["publish"], repo, env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = repo / ".asv" / "html"
    # ASV's pages load jQuery/flot/Bootstrap from CDNs; this machine is offline: use local copies
    if shutil.which("npm") is None and not (Path(env["HOME"]) / ".cache" / "sepbench" / "asv-vendor").is_dir():
        pytest.skip("npm is not installed: cannot fetch the pages' JavaScript for an offline check")
    proc = _run([PY, "-m", "sepbench.asv.vendor", str(html)], repo, env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "10 CDN files replaced" in proc.stdout and "5 checked" in proc.stdout
    server, base_url = _serve(html)
    try:
        index = _browse(chromium, f"{base_url}/index.html", tmp_path, tmp_path / "index.png")
        # the benchmark list, rendered by ASV's JavaScript from index.json
        for name in ("track_error_rate", "time_predict", "track_params", "track_macs_per_image"):
            assert name in index, f"{name} missing from the rendered benchmark list"
        assert _not_blank(tmp_path / "index.png") > 0.02
        graphs = (("size.ModelSize.track_params", "backend=numpy"), ("predict.PredictLatency.time_predict", "backend=numpy"))
        for bench, params in graphs:
            dom = _browse(chromium, f"{base_url}/index.html#{bench}?{params}", tmp_path, tmp_path / f"{bench}.png")
            assert 'class="flot-base"' in dom, f"{bench}: no graph canvas rendered"
            assert "ci-a" in dom and "ci-b" in dom, f"{bench}: the two machines are not offered side by side"
            assert _not_blank(tmp_path / f"{bench}.png") > 0.05
    finally:
        server.shutdown()


def test_allow_model_change_turns_a_changed_model_into_a_report() -> None:
    change = [ExactChange("size.ModelSize.track_params", "backend=numpy, model=regular", 8586.0, 8741.0)]
    assert RegressOutcome(0, change).failed and not RegressOutcome(0, change, allow_model_change=True).failed
    assert RegressOutcome(1, change, allow_model_change=True).failed and not RegressOutcome(0).failed
    from sepbench.cli import build_parser

    assert build_parser().parse_args(["check", "asv", "--allow-model-change"]).allow_model_change


# On these shared 2-core machines the median of a predict moves by up to 1.34x between two runs of the
# same code (NumPy, 1,000 images, four processes each; batch 1: up to 1.8x; once, in CI, 1.54x at
# batch 32 with interleaved rounds), so the test alerts at 1.5x, as the CI workflow does, and relies on
# regress's confirmation re-run (default) to drop a one-off; the default 1.10 is for a quiet machine.
# The slowed commit is 3x slower, so that it stays beyond 1.5x through the same noise.
CI_FACTOR = "1.5"
# One process per commit with ten samples instead of four processes of two to five: each round costs a
# re-install per commit (3-5 s here); the slowed commit stays far beyond 1.5x, and a noise alarm on the no-op
# commit would also have to survive the confirmation re-run (no-op 42 s -> 19 s, measured).  The price, taken
# knowingly: ASV's significance test sees one process's spread only, so a between-process shift beyond 1.5x
# (1.34x seen at this batch size) would look significant; the confirmation is what keeps it from failing.
REGRESS_ROUNDS = ("--attribute", "rounds=1", "--attribute", "repeat=10")


def _regress(asv_repo: dict, base: str, head: str, *extra: str) -> subprocess.CompletedProcess:
    args = [
        PY,
        "-m",
        "sepbench",
        "check",
        "asv",
        "--base",
        asv_repo["commits"][base],
        "--head",
        asv_repo["commits"][head],
        "--machine",
        "ci-a",
        "--factor",
        CI_FACTOR,
        *REGRESS_ROUNDS,
        *extra,
    ]
    return _run(args, asv_repo["repo"], asv_repo["env"], timeout=1500)


def test_regress_is_quiet_on_a_noop_commit(asv_repo: dict) -> None:
    proc = _regress(asv_repo, "params", "noop", "--bench", NUMPY_PREDICT_COST)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, _tail(out)
    assert f"OK: no regression beyond a factor {CI_FACTOR}" in out and "REGRESSION" not in out


def test_regress_fires_on_a_3x_slower_predict_and_reports_a_changed_model(asv_repo: dict) -> None:
    """base..params: the head predicts 3x slower (commit "slow") and has one more conv3 filter."""
    proc = _regress(asv_repo, "base", "params", "--bench", NUMPY_PREDICT_SIZE)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, _tail(out)
    assert "REGRESSION" in out and "confirmed by 1 re-run(s)" in out and "PERFORMANCE DECREASED" in out
    assert "MODEL CHANGED" in out and "size.ModelSize.track_params(backend=numpy, model=regular): 8586.0 ->" in out
    # the confirmation re-ran exactly the flagged NumPy predicts, nothing else
    confirming = next(line for line in out.splitlines() if line.startswith("== confirming"))
    assert "time_predict('numpy'" in confirming and "track_params" not in confirming and "'torch'" not in confirming, confirming
    # the table names the slowed benchmark, NumPy only (the other backends did not run)
    flagged = [line for line in out.splitlines() if re.match(r"\|\s+\+\s+\|", line) and "predict.PredictLatency.time_predict" in line]
    assert flagged and all("'numpy'" in line for line in flagged), _tail(out)
    ratios = [float(m.group(1)) for line in flagged if (m := re.search(r"\|\s+(\d+\.\d+)\s+\|\s+predict\.", line))]
    assert ratios and max(ratios) > 2.0, flagged


def test_regress_rejects_bad_refs(asv_repo: dict) -> None:
    proc = _run([PY, "-m", "sepbench", "check", "asv", "--base", "no-such-ref"], asv_repo["repo"], asv_repo["env"])
    assert proc.returncode == 2 and "unknown git ref 'no-such-ref'" in proc.stderr
    proc = _run([PY, "-m", "sepbench", "check", "asv", "--base", "HEAD", "--factor", "0.9"], asv_repo["repo"], asv_repo["env"])
    assert proc.returncode == 2 and "argument --factor: must be a factor in (1, 100]" in proc.stderr
