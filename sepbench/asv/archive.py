"""``history/``: ASV results from real machines, kept in the repository so a fresh clone has a history.

Same layout as ASV's results folder (``<machine>/machine.json``, ``<machine>/<commit[:8]>-<env>.json``,
``benchmarks.json`` at the top).  :func:`append` adds the current machine's results of one commit and
never replaces a file (append-only); :func:`merge` lays several results folders into one for
``asv publish`` and ``sepbench report`` (the first folder wins where two hold the same file).

Standard library only: the noxfile calls it before any virtualenv exists.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


class ArchiveError(RuntimeError):
    """The results cannot be appended (none for that commit, a dirty tree, a file already there); says why."""


def _copy(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` atomically (a reader never sees half a file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def result_files(results_root: Path, machine: str, commit: str) -> list[Path]:
    """ASV's result files of ``commit`` on ``machine`` (one per environment), checked to be that commit's."""
    folder = Path(results_root) / machine
    files = sorted(p for p in folder.glob(f"{commit[:8]}-*.json"))
    for path in files:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ArchiveError(f"{path}: not a readable ASV result file ({exc})") from None
        if not isinstance(doc, dict) or doc.get("commit_hash") != commit or not doc.get("results"):
            raise ArchiveError(f"{path}: not ASV results of commit {commit[:8]} (or empty)")
    return files


def append(results_root: Path, history_root: Path, machine: str, commit: str) -> list[Path]:
    """Copy ``machine``'s ASV results of ``commit`` from ``results_root`` into ``history_root``.

    Append-only: an existing result file is never replaced (:class:`ArchiveError`); the machine's
    ``machine.json`` is added once; ``benchmarks.json`` (the suite's description) is refreshed.
    Returns the files written.
    """
    results_root, history_root = Path(results_root), Path(history_root)
    files = result_files(results_root, machine, commit)
    if not files:
        raise ArchiveError(f"no ASV results of commit {commit[:8]} for machine {machine!r} in {results_root} (run `nox -s asv` first)")
    taken = [history_root / machine / f.name for f in files if (history_root / machine / f.name).exists()]
    if taken:
        raise ArchiveError(f"already in the history (append-only, nothing replaced): {', '.join(map(str, taken))}")
    written = []
    machine_file = results_root / machine / "machine.json"
    if machine_file.is_file() and not (history_root / machine / "machine.json").exists():
        _copy(machine_file, history_root / machine / "machine.json")
        written.append(history_root / machine / "machine.json")
    for f in files:
        _copy(f, history_root / machine / f.name)
        written.append(history_root / machine / f.name)
    if (results_root / "benchmarks.json").is_file():
        _copy(results_root / "benchmarks.json", history_root / "benchmarks.json")
        written.append(history_root / "benchmarks.json")
    return written


def merge(roots: list[Path], dest: Path) -> int:
    """Lay the results folders ``roots`` into ``dest`` (emptied first: it must be a folder this program
    made, named ``*merged*``); the first root wins where two hold the same file.  Returns files copied."""
    dest = Path(dest)
    if "merged" not in dest.name:
        raise ArchiveError(f"refusing to empty {dest}: the merge folder's name must contain 'merged'")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    copied = 0
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for src in sorted(root.rglob("*.json")):
            target = dest / src.relative_to(root)
            if not target.exists():
                _copy(src, target)
                copied += 1
    return copied


def publish_config(conf: dict, root: Path, results_dir: Path, html_dir: Path) -> dict:
    """``conf`` (asv.conf.json's content, of the repository at ``root``) reading results from
    ``results_dir`` and publishing to ``html_dir``; every path absolute, as ASV resolves a relative one
    from the configuration file's folder, not the repository."""
    root = Path(root).resolve()
    out = {**conf, "results_dir": str(Path(results_dir).resolve()), "html_dir": str(Path(html_dir).resolve())}
    for key in ("repo", "benchmark_dir", "env_dir"):
        if key in conf:
            out[key] = str((root / conf[key]).resolve())
    return out
