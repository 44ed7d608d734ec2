"""The CI workflow is valid (a real schema linter) and calls sessions that exist."""

from __future__ import annotations

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


def test_workflow_runs_the_alert_on_pull_requests_and_history_on_main() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    triggers = doc[True] if True in doc else doc["on"]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in triggers and triggers["push"]["branches"] == ["main"]
    steps = {job: " ".join(str(s.get("run", "")) + str(s.get("uses", "")) for s in body["steps"]) for job, body in doc["jobs"].items()}
    assert "nox -s regress" in steps["regress"] and "upload-artifact" in steps["regress"]
    assert "nox -s asv" in steps["history"] and "cache/save" in steps["history"]
    assert doc["jobs"]["regress"]["if"] == "github.event_name == 'pull_request'"


def _nox_sessions() -> set[str]:
    """Names of the functions decorated with ``@nox.session`` in noxfile.py."""
    import ast

    tree = ast.parse((REPO / "noxfile.py").read_text())
    return {f.name for f in tree.body if isinstance(f, ast.FunctionDef) and any("nox.session" in ast.unparse(d) for d in f.decorator_list)}


def test_workflow_calls_only_sessions_that_exist() -> None:
    used = set(re.findall(r"nox -s (\w+)", WORKFLOW.read_text()))
    sessions = _nox_sessions()
    assert {"tests", "bench", "asv", "publish", "regress"} <= sessions
    assert used and used <= sessions, used - sessions
