"""The harness of the hostile-input suites (tests/test_adversarial.py, tests/test_hostile.py): one
case runs the real CLI in this process (``sepbench.cli.main``) with its own results and cache folders,
and must end in a clear message and a non-zero exit (or the right answer), no traceback, and no file
the user had touched."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from sepbench.cli import main

OK, ERR = "ok", "error"  # expected outcome: exit 0 with the text, or exit != 0 with the text in the message


def _file(rel: str, content: str | bytes) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return make


def _chmod(rel: str, mode: int) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        path = root / rel
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)

    return make


Case = tuple[str, list[str], dict[str, str], list[Callable[[Path], None]], str, str]


def run_cli_case(case: Case, tmp_path: Path, monkeypatch, capsys, mnist_dir: Path) -> tuple[str, str]:
    """Run one case (id, argv with ``{root}``, env, set-up, outcome, expected text); its (stdout, stderr)."""
    _, argv, env, setup, outcome, text = case
    root = tmp_path / "case"
    root.mkdir()
    for make in setup:
        make(root)
    monkeypatch.setenv("SEPBENCH_RESULTS_DIR", str(root / "results"))
    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("SEPBENCH_MNIST_DIR", str(mnist_dir))
    for key, value in env.items():
        if value:
            monkeypatch.setenv(key, value.replace("{root}", str(root)))
        else:
            monkeypatch.delenv(key, raising=False)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    try:
        rc = main([a.replace("{root}", str(root)) for a in argv])
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    finally:
        for p in root.rglob("*"):  # let pytest clean up the read-only folders
            if p.is_dir():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)
    out, err = capsys.readouterr()
    text = text.replace("{root}", str(root))
    assert "Traceback" not in out + err
    if outcome == OK:
        assert rc == 0 and text in out, (rc, out[-1500:], err[-1500:])
    else:
        assert rc not in (0, None) and text in err, (rc, err[-1500:])
        assert len(err.strip().splitlines()) <= 12, err  # a message, not a dump
    for path, mtime in before.items():  # no file the user had was touched
        assert path.exists() and path.stat().st_mtime_ns == mtime, path
    return out, err
