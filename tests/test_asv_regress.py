"""``sepbench regress`` (ASV's regression check) end to end, in a throw-away repository of this tree
(the fixture of ``tests/test_asv.py``, built again here: a file of its own so that under
``pytest -n 2 --dist loadfile`` the history half and this half run side by side)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from sepbench.asv.history import ExactChange, RegressOutcome
from tests.test_asv import NUMPY_PREDICT_SIZE, PY, _run, _tail, make_asv_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def asv_repo(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> dict:
    """This half's own throw-away repository and ASV environment (see tests/test_asv.py)."""
    return make_asv_repo(tmp_path_factory, mnist_dir)


def test_allow_model_change_turns_a_changed_model_into_a_report() -> None:
    change = [ExactChange("size.ModelSize.track_params", "backend=numpy, model=regular", 8586.0, 8741.0)]
    assert RegressOutcome(0, change).failed and not RegressOutcome(0, change, allow_model_change=True).failed
    assert RegressOutcome(1, change, allow_model_change=True).failed and not RegressOutcome(0).failed
    from sepbench.cli import build_parser

    assert build_parser().parse_args(["regress", "--allow-model-change"]).allow_model_change


# On these shared 2-core machines the median of a predict moves by up to 1.34x between two runs of the
# same code (NumPy, 1,000 images, four processes each; batch 1: up to 1.8x; once, in CI, 1.54x at
# batch 32 with interleaved rounds), so the test alerts at 1.5x, as the CI workflow does, and relies on
# regress's confirmation re-run (default) to drop a one-off; the default 1.10 is for a quiet machine.
# The slowed commit is 3x slower, so that it stays beyond 1.5x through the same noise.
CI_FACTOR = "1.5"
# Two processes per commit instead of four: the slowed commit stays far beyond 1.5x, and a noise alarm on the
# no-op commit would also have to survive the confirmation re-run; each round costs a re-install per commit.
REGRESS_ROUNDS = ("--attribute", "rounds=2")


def _regress(asv_repo: dict, base: str, head: str, *extra: str) -> subprocess.CompletedProcess:
    args = [
        PY,
        "-m",
        "sepbench",
        "regress",
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
    proc = _regress(asv_repo, "base", "noop", "--bench", NUMPY_PREDICT_SIZE)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, _tail(out)
    assert f"OK: no regression beyond a factor {CI_FACTOR}" in out and "REGRESSION" not in out


def test_regress_fires_on_a_3x_slower_predict_and_reports_a_changed_model(asv_repo: dict) -> None:
    """noop..params: the head predicts 3x slower (commit "slow") and has one more conv3 filter."""
    proc = _regress(asv_repo, "noop", "params", "--bench", NUMPY_PREDICT_SIZE)
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
    proc = _run([PY, "-m", "sepbench", "regress", "--base", "no-such-ref"], asv_repo["repo"], asv_repo["env"])
    assert proc.returncode == 2 and "unknown git ref 'no-such-ref'" in proc.stderr
    proc = _run([PY, "-m", "sepbench", "regress", "--base", "HEAD", "--factor", "0.9"], asv_repo["repo"], asv_repo["env"])
    assert proc.returncode == 2 and "factor must be > 1" in proc.stderr
