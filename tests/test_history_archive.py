"""``history/`` (:mod:`sepbench.asv.archive`): append-only copies of ASV results, merged for publishing;
and the checked-in history itself, published as a fresh clone would and opened in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sepbench.asv.archive import ArchiveError, append, merge, publish_config
from sepbench.asv.history import read_asv_conf
from sepbench.util.git import GitError, dirty_files
from sepbench.util.paths import HISTORY_DIR
from tests.browser import require_chromium
from tests.conftest import REPO
from tests.test_asv import PY, _asv_env, _browse, _not_blank, _run, _serve

COMMIT = "a" * 40


def _results(root: Path, machine: str = "xeon-2c", commit: str = COMMIT, value: float = 1.0) -> Path:
    (root / machine).mkdir(parents=True, exist_ok=True)
    (root / machine / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
    (root / "benchmarks.json").write_text(json.dumps({"version": 2}))
    path = root / machine / f"{commit[:8]}-virtualenv-py3.11.json"
    path.write_text(json.dumps({"commit_hash": commit, "results": {"size.ModelCost.track_macs_per_image": [[value]]}}))
    return path


def test_append_copies_a_commits_results_once_and_never_replaces(tmp_path: Path) -> None:
    _results(tmp_path / "results")
    written = append(tmp_path / "results", tmp_path / "history", "xeon-2c", COMMIT)
    assert sorted(p.relative_to(tmp_path / "history").as_posix() for p in written) == [
        "benchmarks.json",
        "xeon-2c/aaaaaaaa-virtualenv-py3.11.json",
        "xeon-2c/machine.json",
    ]
    _results(tmp_path / "results", value=2.0)  # the same commit measured again
    with pytest.raises(ArchiveError, match="already in the history"):
        append(tmp_path / "results", tmp_path / "history", "xeon-2c", COMMIT)
    kept = json.loads((tmp_path / "history" / "xeon-2c" / "aaaaaaaa-virtualenv-py3.11.json").read_text())
    assert kept["results"]["size.ModelCost.track_macs_per_image"] == [[1.0]]


def test_append_refuses_what_is_not_that_commits_results(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no ASV results of commit aaaaaaaa"):
        append(tmp_path / "results", tmp_path / "history", "xeon-2c", COMMIT)
    path = _results(tmp_path / "results")
    path.write_text(json.dumps({"commit_hash": "b" * 40, "results": {"x": 1}}))
    with pytest.raises(ArchiveError, match="not ASV results of commit aaaaaaaa"):
        append(tmp_path / "results", tmp_path / "history", "xeon-2c", COMMIT)
    path.write_text("{not json")
    with pytest.raises(ArchiveError, match="not a readable ASV result file"):
        append(tmp_path / "results", tmp_path / "history", "xeon-2c", COMMIT)


def test_merge_lets_the_first_folder_win_and_empties_only_its_own_folder(tmp_path: Path) -> None:
    _results(tmp_path / "local", value=1.0)
    _results(tmp_path / "history", value=2.0)
    _results(tmp_path / "history", machine="epyc-4c", value=3.0)
    assert merge([tmp_path / "local", tmp_path / "history", tmp_path / "absent"], tmp_path / "merged-results") == 5
    doc = json.loads((tmp_path / "merged-results" / "xeon-2c" / "aaaaaaaa-virtualenv-py3.11.json").read_text())
    assert doc["results"]["size.ModelCost.track_macs_per_image"] == [[1.0]]  # the local result
    assert (tmp_path / "merged-results" / "epyc-4c" / "machine.json").is_file()
    with pytest.raises(ArchiveError, match="refusing to empty"):
        merge([tmp_path / "local"], tmp_path / "local")
    conf = publish_config({"repo": ".", "results_dir": ".asv/results", "x": 1}, tmp_path, tmp_path / "m", tmp_path / "h")
    assert conf == {
        "repo": str(tmp_path.resolve()),
        "results_dir": str((tmp_path / "m").resolve()),
        "html_dir": str((tmp_path / "h").resolve()),
        "x": 1,
    }


def test_a_dirty_tree_is_seen(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f.txt").write_text("1")
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["git", "add", "f.txt"], cwd=tmp_path, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=tmp_path, check=True, env=env)
    assert dirty_files(tmp_path) == []
    (tmp_path / "f.txt").write_text("2")
    assert dirty_files(tmp_path) == ["f.txt"]
    with pytest.raises(GitError, match="not a git checkout"):
        dirty_files(tmp_path_factory.mktemp("plain-folder"))


def _history_commits() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in (REPO / HISTORY_DIR).glob("*/*.json"):
        if path.name != "machine.json":
            out.setdefault(path.parent.name, set()).add(json.loads(path.read_text())["commit_hash"])
    return out


def test_the_checked_in_history_holds_five_commits_of_real_machines() -> None:
    commits = _history_commits()
    assert commits, "history/ holds no ASV results"
    assert max(len(c) for c in commits.values()) >= 5, {m: len(c) for m, c in commits.items()}
    for machine in commits:
        info = json.loads((REPO / HISTORY_DIR / machine / "machine.json").read_text())
        assert info["machine"] == machine and info["cpu"] and info["num_cpu"], info  # filled from the fingerprint


@pytest.mark.slow
def test_a_fresh_clone_publishes_the_history_and_chromium_shows_it(tmp_path: Path) -> None:
    chromium = require_chromium("the published HTML")
    env = _asv_env(tmp_path)
    merged, html = tmp_path / "merged-results", tmp_path / "html"
    merge([REPO / HISTORY_DIR], merged)
    conf = tmp_path / "publish.conf.json"
    conf.write_text(json.dumps(publish_config(read_asv_conf(REPO / "asv.conf.json"), REPO, merged, html)))
    proc = _run([PY, "-m", "asv", "publish", "--config", str(conf)], REPO, env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: cannot fetch the pages' JavaScript for an offline check")
    proc = _run([PY, "-m", "sepbench.asv.vendor", str(html)], REPO, env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    commits = _history_commits()
    machine = max(commits, key=lambda m: len(commits[m]))
    # the graph of the paired ratio on that machine: one point per commit in history/
    graph = next(html.glob(f"graphs/**/machine-{machine}/**/predict.SeparableRatio.track_separable_ratio.json"))
    points = [p for p in json.loads(graph.read_text()) if p[1] is not None]
    assert len(points) >= 5, points
    server, base_url = _serve(html)
    try:
        page = f"{base_url}/index.html#predict.SeparableRatio.track_separable_ratio?machine={machine}"
        dom = _browse(chromium, page, tmp_path, tmp_path / "ratio.png")
        assert 'class="flot-base"' in dom, "no graph canvas rendered"
        for name in commits:
            assert name in dom, f"machine {name} is not offered"
        assert _not_blank(tmp_path / "ratio.png") > 0.05
    finally:
        server.shutdown()


def test_every_benchmark_with_a_history_is_at_a_version_the_history_holds() -> None:
    """ASV publishes a result only while its benchmark's version (the hash of its source unless pinned) is
    the suite's: a refactor that changes a benchmark's source without changing what it measures would
    silently drop that benchmark's whole history from the graphs. Each benchmark the history has
    results for must be at a version at least one of those results was recorded under."""
    from asv_runner.discovery import disc_benchmarks

    current = {b.name: b.version for b in disc_benchmarks(str(REPO / "benchmarks"))}
    recorded: dict[str, set[str]] = {}
    for path in (REPO / HISTORY_DIR).glob("*/*.json"):
        if path.name == "machine.json":
            continue
        doc = json.loads(path.read_text())
        at = doc["result_columns"].index("version")
        for name, row in doc["results"].items():
            recorded.setdefault(name, set()).add(row[at])
    assert {"predict.SeparableRatio.track_separable_ratio", "size.ModelSize.track_params"} <= set(recorded)
    cut = {
        name: (current[name][:12], sorted(v[:12] for v in versions))
        for name, versions in recorded.items()
        if name in current and current[name] not in versions
    }
    assert not cut, f"benchmarks whose history no longer publishes (pin `version` to keep it): {cut}"
