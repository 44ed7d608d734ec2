"""Hostile input, third round (issue 41), classes 4 and 6: nothing from outside makes a command hang (a
fifo where a file is read, Ctrl-C during a trickling download), and a message says what is wrong with
the path, in words that fit (a file is no "does not exist", a read-only file system no "permission
denied", asv's own failure no REGRESSION).

Real fifos, real subprocesses with timeouts (a hang fails the test instead of stalling the suite), real
signals, an HTTP server on 127.0.0.1, real read-only and full file systems where this machine lets a
test mount one.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli_cases import ERR, OK, Case, _file, run_cli_case

ROOT = Path(__file__).resolve().parents[1]
HANG_S = 60  # far beyond any answer these commands give (about a second); only a hang reaches it


def _fifo(rel: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(root / rel)

    return make


def _pair_with_data(rel: str, data_path: str) -> Callable[[Path], None]:
    """The study pair, but with its own labelled data at ``data_path`` (beside the pair file)."""

    def make(root: Path) -> None:
        text = (ROOT / "examples" / "pairs" / "study.toml").read_text()
        table = f'data = {{ npz = {{ path = "{data_path}", sha256 = "{"a" * 64}" }} }}'
        (root / rel).write_text(text.replace('data = "mnist"', table))

    return make


GATE_INFO = {"machine_name": "xeon-2c", "versions": {"numpy": "2.4.6"}, "threads": {"requested": 1}}


def _run_file(rel: str, fullname: str) -> Callable[[Path], None]:
    doc = {"machine_info": GATE_INFO, "benchmarks": [{"fullname": fullname, "name": "x", "stats": {"data": [0.001] * 9}}]}
    return _file(rel, json.dumps(doc))


CASE_OK = "tests/bench/test_bench.py::test_predict[a]"

# -- class 4: a fifo where a file is read is refused at once (each of these once blocked for ever) ------------
HANGS: list[Case] = [
    (
        "spec, a pair's data file is a fifo",
        ["spec", "--pair", "{root}/p.toml"],
        {},
        [_pair_with_data("p.toml", "d.npz"), _fifo("d.npz")],
        ERR,
        "d.npz: not a regular file (a fifo)",
    ),
    (
        "spec, the pair file is a fifo",
        ["spec", "--pair", "{root}/p.toml"],
        {},
        [_fifo("p.toml")],
        ERR,
        "p.toml: not a regular file (a fifo): not a pair file",
    ),
    (
        "report, a result file is a fifo",
        ["report", "--results", "{root}/r", "--asv-results", "{root}/none"],
        {},
        [_fifo("r/run.json")],
        ERR,
        "run.json: a fifo, not a regular file",
    ),
    (
        "gate, the run is a fifo",
        ["check", "gate", "{root}/base.json", "{root}/run.json"],
        {},
        [_run_file("base.json", CASE_OK), _fifo("run.json")],
        ERR,
        "run {root}/run.json: not a regular file (a fifo)",
    ),
    ("spec, the tuning file is a fifo", ["spec"], {"SEPBENCH_TUNING_FILE": "{root}/t.json"}, [_fifo("t.json")], OK, "8,586"),
]


@pytest.mark.parametrize("case", HANGS, ids=[c[0] for c in HANGS])
def test_a_fifo_where_a_file_is_read_is_refused_at_once(case: Case, tmp_path: Path, mnist_dir: Path) -> None:
    """The real CLI in a subprocess with a timeout: a regression hangs that process, not the suite."""
    _, argv, env, setup, outcome, text = case
    root = tmp_path / "case"
    root.mkdir()
    for make in setup:
        make(root)
    fifos = [p for p in root.rglob("*") if p.is_fifo()]
    run_env = {
        **os.environ,
        "SEPBENCH_RESULTS_DIR": str(root / "results"),
        "SEPBENCH_CACHE_DIR": str(root / "cache"),
        "SEPBENCH_MNIST_DIR": str(mnist_dir),
        **{k: v.replace("{root}", str(root)) for k, v in env.items()},
    }
    args = [a.replace("{root}", str(root)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "sepbench", *args], cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=HANG_S)
    text = text.replace("{root}", str(root))
    assert "Traceback" not in proc.stderr
    if outcome == OK:
        assert proc.returncode == 0 and text in proc.stdout, (proc.returncode, proc.stderr[-1500:])
    else:
        assert proc.returncode not in (0, None) and text in proc.stderr, (proc.returncode, proc.stderr[-1500:])
    assert fifos and all(p.is_fifo() for p in fifos)  # left as they were


def test_input_files_are_opened_without_blocking_and_checked_on_the_descriptor(tmp_path: Path) -> None:
    from sepbench.util.inputs import NotRegularFileError, TooLargeError, open_regular, read_regular

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "f").write_bytes(b"12345")
    (tmp_path / "link").symlink_to(tmp_path / "f")
    for path, kind in ((tmp_path / "fifo", "a fifo"), (tmp_path / "dir", "a folder"), (Path("/dev/null"), "a character device")):
        with pytest.raises(NotRegularFileError, match=f"not a regular file \\({kind}\\)"):
            open_regular(path)
    with pytest.raises(NotRegularFileError, match="a symbolic link"):
        open_regular(tmp_path / "link", follow_symlinks=False)
    assert read_regular(tmp_path / "link", 5) == b"12345"
    with pytest.raises(TooLargeError, match="more than the 4 it may hold"):
        read_regular(tmp_path / "f", 4)


# -- class 4: Ctrl-C during a trickling download ends the process ---------------------------------------------
class _Trickle(socketserver.BaseRequestHandler):
    """Answers an HTTP request a few bytes at a time, for ever (or until the server stops)."""

    headers_only = True

    def handle(self) -> None:
        self.server.connected.set()  # type: ignore[attr-defined]
        try:
            if self.headers_only:  # a header line every 0.2 s: the response never starts
                self.request.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.server.stopping.is_set():  # type: ignore[attr-defined]
                    self.request.sendall(b"X-Slow: 1\r\n")
                    time.sleep(0.2)
            else:  # headers, then a byte every 0.2 s of a body that is never complete
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9000000\r\n\r\n")
                while not self.server.stopping.is_set():  # type: ignore[attr-defined]
                    self.request.sendall(b"x")
                    time.sleep(0.2)
        except OSError:
            pass


class _TrickleBody(_Trickle):
    headers_only = False


@pytest.fixture(params=[_Trickle, _TrickleBody], ids=["headers", "body"])
def trickling_mirror(request) -> Iterator[tuple[str, socketserver.ThreadingTCPServer]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), request.param)
    server.daemon_threads = True
    server.connected, server.stopping = threading.Event(), threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", server
    server.stopping.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_ctrl_c_during_a_trickling_download_ends_the_process(trickling_mirror, tmp_path: Path) -> None:
    url, server = trickling_mirror
    env = {
        **os.environ,
        "SEPBENCH_MNIST_MIRRORS": url,
        "SEPBENCH_MNIST_DIR": "",
        "SEPBENCH_OFFLINE": "0",
        "SEPBENCH_CACHE_DIR": str(tmp_path / "cache"),
    }
    # a shell's background job (`cmd &`, nohup) starts with Ctrl-C ignored, and a child inherits that: this
    # test runs the program as a terminal would, Ctrl-C at its default (Python then makes it KeyboardInterrupt)
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sepbench", "data"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert server.connected.wait(HANG_S), "the download never reached the mirror"
        time.sleep(0.5)  # inside the trickle
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)  # it once lived on, waiting at exit for the thread that read headers
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "sepbench data: interrupted" in err and "Traceback" not in err, err
    assert not list((tmp_path / "cache" / "mnist").glob("*.gz"))  # nothing half-downloaded left under a real name


# -- class 6: messages that say what is wrong, with the path ----------------------------------------------------
def _gz_copy(rel: str) -> Callable[[Path], None]:
    return _file(rel, (ROOT / "examples" / "pairs" / "example.toml").read_text())


MESSAGES: list[Case] = [
    (
        "results names a file",
        ["report", "--results", "{root}/f.json", "--asv-results", "{root}/none"],
        {},
        [_file("f.json", "{}")],
        ERR,
        "f.json (a regular file, not a folder)",
    ),
    (
        "results names a fifo",
        ["report", "--results", "{root}/p", "--asv-results", "{root}/none"],
        {},
        [_fifo("p")],
        ERR,
        "p (a fifo, not a folder)",
    ),
    ("pair file in upper case", ["spec", "--pair", "{root}/EXAMPLE.TOML"], {}, [_gz_copy("EXAMPLE.TOML")], OK, 'pair "example"'),
    (
        "pair file named by a path without .toml",
        ["spec", "--pair", "{root}/example.pair"],
        {},
        [_gz_copy("example.pair")],
        OK,
        'pair "example"',
    ),
    (
        "pair file is a folder",
        ["spec", "--pair", "{root}/d.toml"],
        {},
        [lambda r: (r / "d.toml").mkdir()],
        ERR,
        "d.toml: not a regular file (a folder): not a pair file",
    ),
    (
        "mirror in upper case",
        ["data"],
        {"SEPBENCH_MNIST_MIRRORS": "HTTP://127.0.0.1:9/", "SEPBENCH_MNIST_DIR": "", "SEPBENCH_OFFLINE": "0"},
        [],
        ERR,
        "HTTP://127.0.0.1:9/train-images-idx3-ubyte.gz: ",
    ),
    ("mirror without a host", ["data"], {"SEPBENCH_MNIST_MIRRORS": "http:/x", "SEPBENCH_MNIST_DIR": ""}, [], ERR, "not a URL: http:/x/"),
    (
        "gate baseline's case name",
        ["check", "gate", "{root}/base.json", "{root}/run.json"],
        {},
        [_run_file("base.json", "tests/bench/x.py::t[a b]"), _run_file("run.json", CASE_OK)],
        ERR,
        "baseline {root}/base.json: $.benchmarks[0].fullname: not a benchmark case",
    ),
    (
        "gate run's case name",
        ["check", "gate", "{root}/base.json", "{root}/run.json"],
        {},
        [_run_file("base.json", CASE_OK), _run_file("run.json", "--basetemp=/x")],
        ERR,
        "run {root}/run.json: $.benchmarks[0].fullname: not a benchmark case",
    ),
]


@pytest.mark.parametrize("case", MESSAGES, ids=[c[0] for c in MESSAGES])
def test_a_message_says_what_is_wrong_with_the_path(case: Case, tmp_path: Path, monkeypatch, capsys, mnist_dir) -> None:
    _, err = run_cli_case(case, tmp_path, monkeypatch, capsys, mnist_dir)
    assert "not a URL: HTTP" not in err and "no such pair file" not in err and "unknown pair" not in err


def test_the_weights_of_a_folder_are_no_missing_file(tmp_path: Path) -> None:
    from sepbench.core.weights import PortableWeights, WeightsError

    (tmp_path / "w.npz").mkdir()
    os.mkfifo(tmp_path / "p.npz")
    with pytest.raises(WeightsError, match="w.npz is a folder, not a file$"):
        PortableWeights.load(tmp_path / "w.npz")
    with pytest.raises(WeightsError, match="p.npz is a fifo, not a file$"):
        PortableWeights.load(tmp_path / "p.npz")


def _mount_tmpfs(where: Path, options: str) -> bool:
    """A tmpfs at ``where`` (root in a container that allows it); False where this machine refuses."""
    where.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode == 0


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    mounts: list[Path] = []

    def mount(options: str) -> Path:
        where = tmp_path / f"mnt{len(mounts)}"
        if not _mount_tmpfs(where, options):
            pytest.skip("this machine lets no test mount a file system (needs root and CAP_SYS_ADMIN)")
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", str(where)], check=False)


def test_a_read_only_file_system_is_said_so_not_permission_denied(mounted, tmp_path: Path, capsys, monkeypatch) -> None:
    from sepbench.cli import main

    ro = mounted("size=64k,ro")
    monkeypatch.setenv("SEPBENCH_RESULTS_DIR", str(ro))
    rc = main(["reproduce", "--backends", "numpy", "--output", str(ro / "r.json")])
    err = capsys.readouterr().err
    assert rc == 2 and f"cannot write in {ro}: {ro} is on a read-only file system" in err, err
    assert "permission denied" not in err.lower()


NOBODY = 65534


def test_a_read_only_folder_says_read_only_with_its_mode() -> None:
    """As an unprivileged user (root writes anywhere): a folder without write permission."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the check as another user")
    base = Path(tempfile.mkdtemp(prefix="sepbench-readonly-"))  # not under tmp_path: private to root
    try:
        base.chmod(0o755)
        folder = base / "results"
        folder.mkdir()
        folder.chmod(0o555)
        code = "from sepbench.util.atomic import check_writable; import sys; check_writable(sys.argv[1])"
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable, "-c", code, str(folder / "r.json")]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert f"cannot write in {folder}: permission denied (the folder is read-only: mode dr-xr-xr-x" in proc.stderr, proc.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _report_inputs(tmp_path: Path) -> Path:
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results
    from tests.test_report import REPRODUCE_ROWS

    results = tmp_path / "results"
    write_results(
        results / "reproduce-20260101T000000Z.json",
        make_results("reproduce", [dict(r) for r in REPRODUCE_ROWS], collect_provenance(seed=0), recipe={"epochs": 5}),
    )
    return results


def test_a_full_disk_names_the_folder(mounted, tmp_path: Path, capsys) -> None:
    from sepbench.cli import main

    full = mounted("size=48k")
    results = _report_inputs(tmp_path)
    rc = main(["report", "--results", str(results), "--asv-results", str(tmp_path / "none"), "--output", str(full / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "no space left on the device holding" in err and str(full / "out") in err and "Traceback" not in err, err
    assert [p.name for p in (full / "out").iterdir()] == []  # the staging folder is gone, nothing half-written


def test_a_write_past_the_file_size_limit_names_the_file(tmp_path: Path) -> None:
    """Where no file system can be mounted: a real EFBIG from the kernel (``ulimit -f``), through the CLI."""
    results = _report_inputs(tmp_path)
    out = tmp_path / "out"

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))

    argv = ["report", "--results", str(results), "--asv-results", str(tmp_path / "none"), "--output", str(out)]
    proc = subprocess.run([sys.executable, "-m", "sepbench", *argv], cwd=ROOT, capture_output=True, text=True, preexec_fn=limit)
    assert proc.returncode == 2 and "file too large" in proc.stderr and str(out) in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "[Errno" not in proc.stderr


def _tiny_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    shutil.copy(ROOT / "asv.conf.json", repo / "asv.conf.json")
    env = {**os.environ, "HOME": str(tmp_path / "home"), "GIT_CONFIG_NOSYSTEM": "1"}
    (tmp_path / "home").mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True, env=env)
    for i in range(2):
        (repo / "sub" / "f.txt").write_text(str(i))
        subprocess.run([*git, "add", "-A"], cwd=repo, check=True, env=env)
        subprocess.run([*git, "commit", "-qm", f"c{i}"], cwd=repo, check=True, env=env)
    return repo, env


def test_check_asv_says_asv_failed_not_regression_when_asv_refuses_an_argument(tmp_path: Path) -> None:
    """Run from a sub-folder too: the checkout's root holds asv.conf.json."""
    repo, env = _tiny_repo(tmp_path)
    argv = ["check", "asv", "--base", "HEAD~1", "--head", "HEAD", "--machine", "t", "--confirm", "0", "-a", "no-equals-sign"]
    proc = subprocess.run([sys.executable, "-m", "sepbench", *argv], cwd=repo / "sub", env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "asv itself failed" in out and "REGRESSION" not in out, out[-3000:]
    assert "is not a key=value assignment" in out  # asv's own message is shown above ours


def test_a_comparison_from_a_sub_folder_exports_the_whole_checkout(tmp_path: Path) -> None:
    """check ab from a sub-folder once exported only that sub-folder, and its workers imported another sepbench."""
    from sepbench.checks.ab_run import export
    from sepbench.util.git import toplevel

    repo, _ = _tiny_repo(tmp_path)
    root = toplevel(repo / "sub")
    assert root.resolve() == repo.resolve()
    tree = export(root, "HEAD", tmp_path / "tree")
    assert (tree / "asv.conf.json").is_file() and (tree / "sub" / "f.txt").read_text() == "1"
    assert toplevel(ROOT / "sepbench" / "checks").resolve() == ROOT.resolve()
