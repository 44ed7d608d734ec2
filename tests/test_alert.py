"""The A/B check (``sepbench check ab``) and its rates, run for real on commits of a throw-away repository.

Cheap by design: NumPy cases only (no framework import in the workers), six rounds a set where the
verdict cannot be in doubt; the no-op check runs the alert's default rounds (with six, a loaded CI machine
gave one false alarm in 15 no-op runs; with the default 20, none in 15).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sepbench.checks.ab_rates import SLOWED, make_commits, run_ab_rates
from sepbench.checks.ab_run import AbCase, AbError, compare
from tests.conftest import REPO
from tests.test_asv import _commit_patch, _git, copy_working_tree

pytestmark = pytest.mark.slow
NOOP_CASES = ["--case", "numpy-regular-default-b10-n200", "--case", "numpy-separable-default-b1-n1"]
CASES = [*NOOP_CASES, "--rounds", "6"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """This working tree as a repository: base -> noop; base -> slow (NumPy 3x); base -> params."""
    root = copy_working_tree(tmp_path_factory.mktemp("alert") / "repo")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    commits = {"base": _git(root, "rev-parse", "HEAD")}
    (root / "README.md").write_text((root / "README.md").read_text() + "\nA no-op change.\n")
    _git(root, "commit", "-qam", "noop")
    commits["noop"] = _git(root, "rev-parse", "HEAD")
    forward = "    def _forward(self, x: np.ndarray) -> np.ndarray:\n        z = self.forward_logits(x)\n"
    _git(root, "checkout", "-q", commits["base"])
    thrice = forward + "        z = self.forward_logits(x)  # the same work three times\n" * 2
    commits["slow"] = _commit_patch(root, "impls/numpy_backend.py", forward, thrice, "slow: NumPy forward three times")
    _git(root, "checkout", "-q", commits["base"])
    convs = "convs = ((8, 7, 2), (16, 5, 2), (32, 3, 1))"
    commits["params"] = _commit_patch(root, "sepbench/core/spec.py", convs, convs.replace("(32, 3, 1)", "(33, 3, 1)"), "params")
    return {"root": root, "commits": commits}


def _alert(repo: dict, base: str, head: str, *extra: str) -> subprocess.CompletedProcess:
    c = repo["commits"]
    args = [sys.executable, "-m", "sepbench", "check", "ab", "--base", c.get(base, base), "--head", c.get(head, head), *extra]
    return subprocess.run(
        args, cwd=repo["root"], capture_output=True, text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    )


def test_alert_is_quiet_on_a_noop_commit(repo: dict) -> None:
    proc = _alert(repo, "base", "noop", *NOOP_CASES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: no regression (2 cases" in proc.stdout and "REGRESSION" not in proc.stdout
    assert "numpy-regular-default-b10-n200" in proc.stdout and "channel: wall time, paired A/B rounds" in proc.stdout


def test_alert_fires_on_a_3x_slower_forward_with_its_estimate_and_interval(repo: dict) -> None:
    proc = _alert(repo, "base", "slow", *CASES)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REGRESSION: ")]
    assert len(lines) == 2, proc.stdout  # both NumPy cases do three forwards
    for line in lines:
        ratio = float(line.split(": ", 2)[2].split("x ")[0])
        assert 2.0 < ratio < 3.5 and "x slower (95 % interval" in line and "channel: wall time" in line, line
    assert "FAIL" in proc.stdout


def test_alert_reports_a_changed_model(repo: dict) -> None:
    proc = _alert(repo, "base", "params", "--case", "numpy-regular-default-b1-n1", "--rounds", "5", "--confirm", "0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "MODEL CHANGED: numpy-regular-default-b1-n1: 8586 -> 8741 parameters" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "no-such-ref", "--case", "numpy-regular-default-b1-n1"], "unknown git ref 'no-such-ref'"),
        (["--case", "numpy-regular-b1-n1"], "a case is BACKEND-MODEL-PATH-bBATCH-nIMAGES"),
        (["--case", "numpy-regular-default-b0-n1"], "must be >= 1"),
        (["--case", "nump-regular-default-b1-n1"], "unknown backend 'nump'"),
        (["--backends", "numpy,tf"], "unknown backend 'tf'"),
        (["--case", "numpy-regular-default-b1-n1", "--rounds", "2"], "argument --rounds: must be >= 5"),
    ],
)
def test_alert_refuses_bad_input_with_one_line(repo: dict, args: list[str], message: str) -> None:
    cmd = [sys.executable, "-m", "sepbench", "check", "ab", *args]
    proc = subprocess.run(cmd, cwd=repo["root"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_worker_that_fails_is_reported_with_its_log(repo: dict, tmp_path: Path) -> None:
    with pytest.raises(
        AbError, match=r"no case could be timed on both sides \(numpy-regular-warp-b1-n1 \(base\): .*no inference path 'warp'"
    ):
        c = repo["commits"]
        compare(c["base"], c["noop"], [AbCase("numpy", "regular", 1, 1, "warp")], rounds=5, repo=repo["root"], log_path=tmp_path / "w.log")
    assert (tmp_path / "w.log").is_file()


def test_the_ab_rates_run_injects_exact_work_and_counts_hits_and_false_alarms(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    base, commits = make_commits(REPO, scratch, (1.0, 1.1))
    assert "once more" not in (scratch / "impls" / "numpy_backend.py").read_text()
    _git(scratch, "checkout", "-q", commits[1.1])
    patched = (scratch / "impls" / "numpy_backend.py").read_text()
    assert "n * 10 // 100 - (n - 1) * 10 // 100" in patched
    # the schedule: exactly 10 extra forwards in any 100 consecutive batches
    extra = [n * 10 // 100 - (n - 1) * 10 // 100 for n in range(1, 1001)]
    assert all(sum(extra[i : i + 100]) == 10 for i in range(0, 901))

    # the alert's own rounds (20): with 5, a loaded CI runner false-alarmed on the no-op commit
    study = run_ab_rates(REPO, trials=1, factors=(1.0, 2.0), cases=(SLOWED,))
    rows = {r["factor"]: r for r in study["rows"]}
    assert rows[1.0]["alerts"] == 0 and rows[2.0]["alerts"] == 1, rows
    assert 1.6 < rows[2.0]["measured_slowdown"] < 2.3 and rows[2.0]["rate_low"] > 0


@pytest.mark.parametrize("command", ["ab-rates", "gate-rates"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--factors", "1.005"], "steps of 0.01"),
        (["--factors", "0.9,1.1"], "must lie in 1.00..10.00"),
        (["--factors", "x"], "takes numbers separated by commas"),
        (["--trials", "0"], "argument --trials: must be >= 1"),
    ],
)
def test_the_rate_checks_refuse_bad_input_before_any_work(command: str, args: list[str], message: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sepbench", "check", command, *args, "--output", str(tmp_path / "s.json")], capture_output=True, text=True
    )
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "s.json").exists()


def test_a_case_one_commit_cannot_build_is_skipped_and_the_rest_compared(repo: dict, tmp_path: Path) -> None:
    c = repo["commits"]
    cases = [AbCase("numpy", "regular", 1, 1), AbCase("numpy", "regular", 1, 1, "warp")]
    # about skipping, not about rates: 5 unconfirmed rounds of a one-image predict at the default 5 % alarmed
    # once beside the other test worker, so only a doubling alerts here
    out = compare(c["base"], c["noop"], cases, rounds=5, confirm=0, min_effect=1.0, repo=repo["root"], log_path=tmp_path / "w.log")
    assert [r.case.id for r in out.results] == ["numpy-regular-default-b1-n1"] and not out.failed
    assert set(out.skipped) == {"numpy-regular-warp-b1-n1 (base)", "numpy-regular-warp-b1-n1 (head)"}
    with pytest.raises(ValueError, match="confirm must be >= 0"):
        compare(c["base"], c["noop"], cases, confirm=-1, repo=repo["root"])


def test_a_trial_with_several_alerts_is_one_false_alarm() -> None:
    from sepbench.checks.ab_rates import FactorResult

    r = FactorResult(1.0, "slowed")
    r.record(1, 1.01, True, {"slowed": 1.06, "other": 1.07}, 5.0)  # both alerted in one no-op trial
    r.record(2, 0.99, False, {}, 5.0)
    row = r.row()
    assert (row["trials"], row["alerts"], row["other_false_alarms"]) == (2, 1, 1) and row["rate"] == 0.5
    slowed = FactorResult(1.1, "slowed")
    slowed.record(1, 1.1, True, {"slowed": 1.1}, 5.0)
    assert (slowed.row()["alerts"], slowed.row()["other_false_alarms"]) == (1, 0)


def test_export_is_whole_when_git_writes_a_record_after_the_end_of_archive(tmp_path: Path) -> None:
    """A tree whose tar ends one block before a record boundary: git writes a whole second record of
    zeros after the end-of-archive block that :mod:`tarfile` stops at (20,480 bytes here).  Reading that
    stream from a pipe and closing it early killed git now and then (``git archive ... failed`` in a
    fresh-clone CI run; that pipe read failed 71 of 300 exports of this tree on a loaded 2-core machine):
    the export must succeed every time and hold the file."""
    from sepbench.checks.ab_run import export

    src = tmp_path / "src"
    src.mkdir()
    text = ("0123456789abcdef" * 500)[:8000]  # pax header (2 blocks) + file header (1) + 16 data blocks = 19 of 20
    (src / "f.txt").write_text(text)
    _git(src, "init", "-q")
    _git(src, "add", "f.txt")
    _git(src, "commit", "-qm", "one file")
    size = len(subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=src, capture_output=True, check=True).stdout)
    assert size == 2 * 10240, f"the layout moved ({size} bytes): adjust the file size so that git writes a second record"
    for i in range(50):
        tree = export(src, "HEAD", tmp_path / f"tree-{i}")
        assert (tree / "f.txt").read_text() == text and not list(tmp_path.glob("*.tar"))
    with pytest.raises(AbError, match="git archive nope failed: .*nope"):
        export(src, "nope", tmp_path / "tree-bad")
    assert not list(tmp_path.glob("*.tar")), "a failed export left its archive behind"


@pytest.mark.parametrize(
    "case",
    [AbCase("numpy", "example-regular", 100, 1000), AbCase("torch", "regular", 1, 1, "fast"), AbCase("numpy", "a-b-c", 2, 3, "fused")],
)
def test_a_case_id_parses_back_to_the_case_even_when_the_model_name_has_hyphens(case: AbCase) -> None:
    assert AbCase.parse(case.id) == case


def test_a_case_without_its_path_is_refused() -> None:
    with pytest.raises(ValueError, match="BACKEND-MODEL-PATH-bBATCH-nIMAGES"):
        AbCase.parse("numpy-regular-b1-n1")


def test_one_commit_against_itself_is_refused_unless_the_gate_asks_for_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two refs of one commit would be timed against each other and pass: refused; ``same_commit`` (the
    gate confirming a run on its baseline's commit) goes on to export that commit twice."""
    from sepbench.checks import ab_run

    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "one")
    case = [AbCase("numpy", "regular", 1, 1, "default")]
    with pytest.raises(AbError, match="are the same commit"):
        compare("HEAD", "main", case, repo=tmp_path, log_path=tmp_path / "w.log")
    exported: list[str] = []

    def export(repo: Path, commit: str, dest: Path) -> Path:
        exported.append(commit)
        raise AbError("exported")  # far enough: no worker starts

    monkeypatch.setattr(ab_run, "export", export)
    with pytest.raises(AbError, match="exported"):
        compare("HEAD", "main", case, repo=tmp_path, log_path=tmp_path / "w.log", same_commit=True)
    assert exported == [_git(tmp_path, "rev-parse", "HEAD")]
