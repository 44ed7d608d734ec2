"""Hostile input, third round (issue 41), classes 2, 4 and 6: files the program did not write are never
taken over (ownership proved by a SHA-256 recorded when it wrote them), nothing from outside makes it
hang, and a message says what is wrong, with the path.

Real files, fifos, symbolic links, subprocesses killed by real signals, an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sepbench.util.atomic import UnwritableError
from sepbench.util.owned_dir import MANIFEST, MANIFEST_KIND, NotOwnedError, build_into, read_manifest
from sepbench.util.ownership import seal, sha256_of_file, unseal

ROOT = Path(__file__).resolve().parents[1]
MINE = b"the user's own, years of work\n"


# -- class 2: taking over files the program did not write --------------------------------------------------
def _build(out: Path, files: dict[str, bytes]) -> list[str]:
    """One build of ``files`` into ``out`` (what the report does, without the tables); its notes."""
    notes: list[str] = []
    with build_into(out, notes) as staging:
        for name, data in files.items():
            (staging / name).write_bytes(data)
    return notes


OLD = {"index.html": b'<body data-report="sepbench">old</body>', "report.md": b"# old\n", "stale.png": b"old plot"}
NEW = {"index.html": b'<body data-report="sepbench">new</body>', "report.md": b"# new\n"}


def _planted_list_manifest(out: Path) -> None:  # an older manifest's form: names, no hashes
    (out / "mine.txt").write_bytes(MINE)
    (out / MANIFEST).write_text(json.dumps({"files": ["mine.txt", "index.html"]}))


def _planted_sealed_manifest(out: Path) -> None:  # well-formed, but the hash is not of the user's file
    (out / "mine.txt").write_bytes(MINE)
    (out / MANIFEST).write_text(seal(MANIFEST_KIND, {"files": {"mine.txt": ["0" * 64]}}))


def _marker_beside_user_file(out: Path) -> None:  # a saved old report, and the user's own report.md
    (out / "index.html").write_bytes(OLD["index.html"])
    (out / "report.md").write_bytes(MINE)


def _user_edits_a_report_file(out: Path) -> None:
    _build(out, OLD)
    (out / "report.md").write_bytes(MINE)


def _user_edits_a_stale_file(out: Path) -> None:
    _build(out, OLD)
    (out / "stale.png").write_bytes(MINE)


def _symlink_to_user_file(out: Path) -> None:
    _build(out, OLD)
    (out.parent / "thesis.md").write_bytes(MINE)
    (out / "report.md").unlink()
    (out / "report.md").symlink_to(out.parent / "thesis.md")


def _manifest_is_a_fifo(out: Path) -> None:
    os.mkfifo(out / MANIFEST)


def _user_file_named_like_ours(out: Path) -> None:
    (out / "index.html").write_bytes(MINE)


def _edited_manifest(out: Path) -> None:  # a hand edit adds a user's file to a real manifest
    _build(out, OLD)
    (out / "mine.txt").write_bytes(MINE)
    doc = json.loads((out / MANIFEST).read_text())
    doc["body"]["files"]["mine.txt"] = [sha256_of_file(out / "mine.txt")]
    (out / MANIFEST).write_text(json.dumps(doc))


# (id, set-up, refused: the message's words or None when the build goes on, the user's file that must survive)
OWNERSHIP: list[tuple[str, Callable[[Path], None], str | None, str]] = [
    ("planted manifest of names", _planted_list_manifest, "is not a manifest this program wrote", "mine.txt"),
    ("planted sealed manifest, another hash", _planted_sealed_manifest, None, "mine.txt"),
    ("marker beside the user's report.md", _marker_beside_user_file, "did not write, or that changed since", "report.md"),
    ("user edited a report file", _user_edits_a_report_file, "report.md", "report.md"),
    ("user edited a file the build drops", _user_edits_a_stale_file, None, "stale.png"),
    ("symlink to the user's file", _symlink_to_user_file, "report.md", "../thesis.md"),
    ("manifest is a fifo", _manifest_is_a_fifo, "exists and is not a regular file", MANIFEST),
    ("user file named like ours", _user_file_named_like_ours, "index.html", "index.html"),
    ("manifest edited by hand", _edited_manifest, "is not a manifest this program wrote", "mine.txt"),
]


@pytest.mark.parametrize("case", OWNERSHIP, ids=[c[0] for c in OWNERSHIP])
def test_no_build_replaces_or_deletes_a_file_it_cannot_prove_its_own(case, tmp_path: Path) -> None:
    _, setup, refused, user_file = case
    out = tmp_path / "out"
    out.mkdir()
    setup(out)
    kept = out / user_file
    before = None if kept.is_fifo() else kept.read_bytes()
    if refused is not None:
        with pytest.raises(UnwritableError, match=refused) as refusal:
            _build(out, NEW)
        assert isinstance(refusal.value, NotOwnedError) or kept.is_fifo()  # a fifo is refused as any write target is
        assert not (out / "index.html").exists() or b">new<" not in (out / "index.html").read_bytes()  # nothing moved in
    else:
        notes = _build(out, NEW)
        assert (out / "index.html").read_bytes() == NEW["index.html"]
        if user_file == "stale.png":
            assert any("stale.png" in n and "changed since" in n for n in notes), notes
    assert kept.is_fifo() if before is None else kept.read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".sepbench-build-")]


def test_a_build_replaces_and_removes_only_its_own_proved_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.csv").write_bytes(MINE)
    _build(out, OLD)
    assert _build(out, NEW) == []
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "index.html", "notes.csv", "report.md"])  # stale.png removed
    owned, staging = read_manifest(out)
    assert owned == {n: [sha256_of_file(out / n)] for n in NEW} and staging is None
    assert (out / "notes.csv").read_bytes() == MINE


KILLER = """
import os, signal, sys
from pathlib import Path
from sepbench.util.owned_dir import build_into

out, kill_after = Path(sys.argv[1]), int(sys.argv[2])
calls = {"n": 0}
real_replace, real_unlink = os.replace, Path.unlink


def count() -> None:
    calls["n"] += 1
    if calls["n"] == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)  # nothing after this runs: no finally, no clean-up


def replace(src, dst):
    real_replace(src, dst)
    if Path(dst).name != "sepbench-manifest.json" and not Path(dst).name.startswith("."):
        count()


def unlink(self, missing_ok=False):
    real_unlink(self, missing_ok=missing_ok)
    count()


os.replace, Path.unlink = replace, unlink
with build_into(out) as staging:
    for name in ("index.html", "report.md", "claims.csv"):
        (staging / name).write_text(f"new {name}")
"""


@pytest.mark.parametrize("kill_after", [1, 2, 3, 4])  # after the 1st, 2nd, 3rd move, after removing the stale file
def test_a_build_killed_between_its_moves_leaves_a_folder_the_next_build_takes_back(kill_after: int, tmp_path: Path) -> None:
    """SIGKILL between two moves (no clean-up runs): the next build proves every file its own by hash,
    finishes, and removes the killed build's staging folder; the user's file is untouched."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_bytes(MINE)
    _build(out, {"index.html": b"old index", "report.md": b"old md", "stale.png": b"old plot"})
    proc = subprocess.run([sys.executable, "-c", KILLER, str(out), str(kill_after)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [p for p in out.iterdir() if p.name.startswith(".sepbench-build-")]  # the killed build's staging folder
    notes = _build(out, {"index.html": b"newer index", "report.md": b"newer md"})
    assert notes == []
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "index.html", "mine.txt", "report.md"])
    assert (out / "index.html").read_bytes() == b"newer index" and (out / "mine.txt").read_bytes() == MINE


def test_the_report_command_leaves_a_planted_manifests_file_and_says_why(tmp_path: Path, capsys) -> None:
    """End to end (issue 41's example): a manifest planted in the output folder names the user's file."""
    from sepbench.cli import main
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results
    from tests.test_report import REPRODUCE_ROWS

    results = tmp_path / "results"
    write_results(
        results / "reproduce-20260101T000000Z.json",
        make_results("reproduce", [dict(r) for r in REPRODUCE_ROWS], collect_provenance(seed=0), recipe={"epochs": 5}),
    )
    out = tmp_path / "reports"
    out.mkdir()
    (out / "thesis.tex").write_bytes(MINE)
    (out / MANIFEST).write_text(json.dumps({"files": ["thesis.tex"]}))
    argv = ["report", "--results", str(results), "--asv-results", str(tmp_path / "none"), "--output", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{out / MANIFEST} is not a manifest this program wrote" in err and "Traceback" not in err, err
    assert (out / "thesis.tex").read_bytes() == MINE and not (out / "index.html").exists()
    (out / MANIFEST).unlink()  # moved away: the report builds, and its manifest proves what it wrote
    assert main(argv) == 0
    assert unseal((out / MANIFEST).read_text(), MANIFEST_KIND)["files"]["index.html"] == [sha256_of_file(out / "index.html")]
    assert (out / "thesis.tex").read_bytes() == MINE


def _tuning_user_file(path: Path) -> None:
    path.write_text("{}")  # valid JSON, an empty mapping: once taken for an empty record


def _tuning_old_record(path: Path) -> None:  # an unsealed record (an older sepbench's, or a copy)
    path.write_text(json.dumps({"a": {"kind": "demo", "key": "k", "choice": {"v": 1}}}))


def _tuning_edited_record(path: Path) -> None:
    from sepbench.util import tuning

    path.write_text(seal(tuning.RECORD_KIND, {"entries": {}}).replace('"entries": {}', '"entries": {"x": {}}'))


def _tuning_symlink(path: Path) -> None:
    (path.parent / "thesis.md").write_bytes(MINE)
    path.symlink_to(path.parent / "thesis.md")


@pytest.mark.parametrize(
    "name, setup",
    [
        ("tuning.json", _tuning_user_file),
        ("notes.json", _tuning_user_file),
        ("tuning.json", _tuning_old_record),
        ("tuning.json", _tuning_edited_record),
        ("tuning.json", _tuning_symlink),
        ("big.json", lambda p: p.write_bytes(b" " * ((1 << 20) + 1))),
    ],
)
def test_the_tuning_record_replaces_no_file_it_cannot_prove_its_own(name, setup, tmp_path: Path, monkeypatch, capsys) -> None:
    from sepbench.util import tuning

    path = tmp_path / name
    setup(path)
    before = path.read_bytes()
    monkeypatch.setenv(tuning.TUNING_FILE_ENV_VAR, str(path))
    monkeypatch.delenv(tuning.RETUNE_ENV_VAR, raising=False)
    assert tuning.remembered("demo", {"k": 2}, lambda: {"v": 7}) == {"v": 7}
    assert path.read_bytes() == before and "left as it is" in capsys.readouterr().err


def test_a_sealed_tuning_record_is_ours_and_kept_up_to_date(tmp_path: Path, monkeypatch) -> None:
    from sepbench.util import tuning

    monkeypatch.setenv(tuning.TUNING_FILE_ENV_VAR, str(tmp_path / "mine.json"))
    monkeypatch.delenv(tuning.RETUNE_ENV_VAR, raising=False)
    tuning.record("demo", {"k": 1}, {"v": 1})
    tuning.record("demo", {"k": 2}, {"v": 2})  # the record it wrote is proved by its seal: updated
    assert tuning.recall("demo", {"k": 1}) == {"v": 1} and tuning.recall("demo", {"k": 2}) == {"v": 2}
