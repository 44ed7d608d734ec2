"""Hostile input, second round (issue 25): options that vanish, numbers that compare false, refs that
are options, targets that are not files, names from files that become markup, folders that vanish
from a report, and limits on what comes from outside.

The CLI cases run through the harness of tests/test_adversarial.py (tests/cli_cases.py); the others
call the part that decides.  Cases are grouped by the class of fault.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.cli_cases import ERR, OK, Case, _file, run_cli_case


def _fifo(rel: str):
    def make(root: Path) -> None:
        os.mkfifo(root / rel)

    return make


GATE = ["check", "gate", "{root}/base.json", "{root}/run.json"]
NUMBERS: list[Case] = [
    # options after the file names are the gate's own (they once went to pytest: a 1 % gate passed 5 %)
    ("gate options after files", [*GATE, "--no-rerun", "--min-effect", "nan"], {}, [], ERR, "argument --min-effect"),
    ("gate negative min effect", [*GATE, "--min-effect", "-1"], {}, [], ERR, "argument --min-effect"),
    ("gate min effect not a number", [*GATE, "--min-effect", "x"], {}, [], ERR, "not a number"),
    ("regress factor nan", ["check", "asv", "--factor", "nan"], {}, [], ERR, "argument --factor: must be a finite number"),
    ("regress factor inf", ["check", "asv", "--factor", "inf"], {}, [], ERR, "argument --factor: must be a finite number"),
    ("regress factor one", ["check", "asv", "--factor", "1"], {}, [], ERR, "must be a factor in (1, 100]"),
    ("regress factor past 100", ["check", "asv", "--factor", "150"], {}, [], ERR, "must be a factor in (1, 100]"),
    ("regress confirm negative", ["check", "asv", "--confirm", "-1"], {}, [], ERR, "must be >= 0"),
    ("gate-study min effect negative", ["check", "gate-rates", "--min-effect", "-1"], {}, [], ERR, "argument --min-effect"),
    ("gate-study min effect nan", ["check", "gate-rates", "--min-effect", "nan"], {}, [], ERR, "argument --min-effect"),
    ("alert min effect inf", ["check", "ab", "--min-effect", "inf"], {}, [], ERR, "argument --min-effect"),
    ("alert four rounds", ["check", "ab", "--rounds", "4"], {}, [], ERR, "must be >= 5"),
    ("alert confirm negative", ["check", "ab", "--confirm", "-2"], {}, [], ERR, "must be >= 0"),
    ("alert-study zero trials", ["check", "ab-rates", "--trials", "0"], {}, [], ERR, "must be >= 1"),
    # images held at once: the model's batch budget (sepbench/core/budget.py), before MNIST is read
    ("reproduce limit past the batch budget", ["reproduce", "--limit", "200000"], {}, [], ERR, "--limit: 200,000 images of model"),
    ("reproduce test limit past the batch budget", ["reproduce", "--test-limit", "999999"], {}, [], ERR, "--test-limit: 999,999 images"),
]
PASSTHROUGH: list[Case] = [
    # only the gate hands options on (after `--`); elsewhere they would be dropped without a word
    ("reproduce options after --", ["reproduce", "--", "--epochs", "1"], {}, [], ERR, "takes no options after '--'"),
    ("report options after --", ["report", "--", "--output", "x"], {}, [], ERR, "takes no options after '--'"),
    ("alert options after --", ["check", "ab", "--", "-k", "x"], {}, [], ERR, "takes no options after '--'"),
]
REFS: list[Case] = [
    # a ref is never an option of git's, and two refs of one commit compare nothing
    ("alert base is an option", ["check", "ab", "--base=--output=/tmp/sepbench-x"], {}, [], ERR, "unknown git ref '--output=/tmp/sepb"),
    ("regress base is an option", ["check", "asv", "--base=--output=/tmp/sepbench-x"], {}, [], ERR, "unknown git ref"),
    ("alert ref with a newline", ["check", "ab", "--base", "main\nHEAD"], {}, [], ERR, "not a git ref"),
    ("alert empty ref", ["check", "ab", "--base", ""], {}, [], ERR, "not a git ref"),
    ("alert base and head one commit", ["check", "ab", "--base", "HEAD", "--head", "HEAD"], {}, [], ERR, "are the same commit"),
]
TARGETS: list[Case] = [
    # a file is written only where a regular file may be (an atomic write renames over the target)
    ("reproduce output names a folder", ["reproduce", "--output", "{root}/newdir/"], {}, [], ERR, "names a folder"),
    ("reproduce output is a fifo", ["reproduce", "--output", "{root}/pipe"], {}, [_fifo("pipe")], ERR, "not a regular file"),
    ("reproduce output is a device", ["reproduce", "--output", "/dev/null"], {}, [], ERR, "not a regular file"),
    ("alert log names a folder", ["check", "ab", "--log", "{root}/logs/"], {}, [], ERR, "names a folder"),
    ("alert log is a fifo", ["check", "ab", "--log", "{root}/pipe"], {}, [_fifo("pipe")], ERR, "not a regular file"),
    ("alert-study output names a folder", ["check", "ab-rates", "--output", "{root}/d/"], {}, [], ERR, "names a folder"),
]
ENVIRONMENT: list[Case] = [
    # a bad setting is one line naming it, in the command that uses it, never a traceback at start-up
    ("machine env with a slash", ["report", "--results", "{root}/none"], {"SEPBENCH_MACHINE": "../evil"}, [], ERR, "SEPBENCH_MACHINE"),
    ("machine env does not break help", ["check", "asv", "--help"], {"SEPBENCH_MACHINE": "a/b"}, [], OK, "ASV machine name"),
    ("machine env does not break spec", ["spec"], {"SEPBENCH_MACHINE": "a b"}, [], OK, "8,586"),
    ("asv machine env bad", ["regress"], {"SEPBENCH_ASV_MACHINE": "a/b"}, [], ERR, "SEPBENCH_ASV_MACHINE"),
    ("offline env not a yes or no", ["data"], {"SEPBENCH_OFFLINE": "maybe", "SEPBENCH_MNIST_DIR": ""}, [], ERR, "SEPBENCH_OFFLINE='maybe'"),
    (
        "tuning file is a fifo",
        ["spec"],
        {"SEPBENCH_TUNING_FILE": "{root}/pipe"},
        [_fifo("pipe")],
        OK,
        "8,586",
    ),
    ("regress machine option bad", ["check", "asv", "--machine", "../x"], {}, [], ERR, "--machine"),
    (
        "train into a cache it cannot write",
        ["train", "--models", "regular"],
        {"SEPBENCH_CACHE_DIR": "{root}/f/cache", "SEPBENCH_TRAINER": "numpy"},
        [_file("f", "x")],
        ERR,
        "is a file, not a folder: cannot write regular-seed0-",
    ),
]
RESULT_FILES: list[Case] = [
    # a fifo would block a read for ever: every file read as a result is a regular file first
    (
        "gate baseline is a fifo",
        ["check", "gate", "{root}/pipe", "{root}/pipe"],
        {},
        [_fifo("pipe")],
        ERR,
        "baseline {root}/pipe: not a regular file",
    ),
    ("bench-summary of a fifo", ["bench-summary", "{root}/pipe"], {}, [_fifo("pipe")], ERR, "pipe"),
    ("gate baseline is a folder", ["check", "gate", "{root}", "{root}"], {}, [], ERR, "not a regular file (a folder)"),
    (
        "report of a 0-byte result",
        ["report", "--results", "{root}/r", "--asv-results", "{root}/none"],
        {},
        [_file("r/killed.json", b"")],
        ERR,
        "killed.json: empty (0 bytes",
    ),
]
_RENAMED = (Path(__file__).resolve().parents[1] / "examples/pairs/mobilenet-block.toml").read_text().replace('"block-regular"', '"regular"')
PAIR_FILES: list[Case] = [
    # the report checks a user pair's counts against the pair file it is given: a file it cannot use stops it first
    ("report pair file not there", ["report", "--pairs", "{root}/none.toml"], {}, [], ERR, "none.toml: no such pair file"),
    (
        "report pair file renames a built-in model",
        ["report", "--pairs", "{root}/p.toml", "--results", "{root}/r"],
        {},
        [_file("p.toml", _RENAMED)],
        ERR,
        "model name 'regular' is a built-in model's",
    ),
]
CLASSES = {
    "numbers": NUMBERS,
    "passthrough": PASSTHROUGH,
    "refs": REFS,
    "targets": TARGETS,
    "environment": ENVIRONMENT,
    "result files": RESULT_FILES,
    "pair files": PAIR_FILES,
}
CASES = [c for cases in CLASSES.values() for c in cases]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gets_a_clear_message(case, tmp_path, monkeypatch, capsys, mnist_dir):
    if case[0] == "reproduce output is a device" and not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null here")
    run_cli_case(case, tmp_path, monkeypatch, capsys, mnist_dir)
    if case[0] == "reproduce output is a device":
        assert Path("/dev/null").is_char_device()


def test_case_ids_are_unique_and_no_round_one_case_repeats():
    from tests.test_adversarial import CASES as ROUND_ONE

    ids = [c[0] for c in CASES]
    assert len(set(ids)) == len(ids) and not set(ids) & {c[0] for c in ROUND_ONE}


def test_alert_on_a_dirty_tree_says_the_changes_are_not_timed(tmp_path):
    """Uncommitted changes with --head HEAD: the refusal (base == head) says what to do about them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["init", "-q", "-b", "main"], ["add", "f"], ["commit", "-qm", "one"]):
        if cmd[0] == "add":
            (repo / "f").write_text("one")
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True)
    (repo / "f").write_text("two")
    proc = subprocess.run([sys.executable, "-m", "sepbench", "check", "ab"], cwd=repo, capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "same commit" in proc.stderr and "uncommitted changes (f)" in proc.stderr, proc.stderr


# -- the report: folders twice, folders it cannot read, names that would be markup ---------------------------


def _reproduce_file(results: Path, name: str = "reproduce-20260101T000000Z.json", backend: str | None = None) -> Path:
    from sepbench.machine.provenance import collect_provenance
    from sepbench.results.schema import make_results, write_results
    from tests.test_report import REPRODUCE_ROWS

    rows = [dict(r, backend=backend or r["backend"]) for r in REPRODUCE_ROWS]
    doc = make_results("reproduce", rows, collect_provenance(seed=0), recipe={"epochs": 5})
    if backend is None:
        return write_results(results / name, doc)
    results.mkdir(parents=True, exist_ok=True)  # a hand-made file: write_results would refuse it
    (results / name).write_text(json.dumps(doc))
    return results / name


def test_a_results_folder_given_twice_or_nested_is_read_once(tmp_path):
    from sepbench.results.sources import load_all

    results = tmp_path / "results"
    _reproduce_file(results / "sub")
    once = load_all([results], [])
    for dirs in ([results, results], [results, results / "sub"], [results / "sub", tmp_path / "results" / ".." / "results"]):
        again = load_all(dirs, [])
        assert len(again.files["reproduce"]) == 1 and len(again.measurements) == len(once.measurements), dirs


def test_an_asv_folder_given_twice_is_read_once(tmp_path):
    from sepbench.results.sources import load_all

    once = load_all([], [Path("history")])
    twice = load_all([], [Path("history"), Path("history").resolve()])
    assert len(once.files["asv"]) > 0 and len(twice.files["asv"]) == len(once.files["asv"])
    assert len(twice.measurements) == len(once.measurements)


def _as_nobody(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` as an unprivileged user: root reads a folder whatever its mode."""
    if os.geteuid() != 0:
        return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a folder cannot be made unreadable to this process")
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def test_an_unreadable_results_folder_is_named_not_passed_over():
    # not under pytest's tmp_path: that is private to its owner, and the reader here is another user
    root = Path(tempfile.mkdtemp(prefix="sepbench-unreadable-"))
    try:
        root.chmod(0o755)
        _reproduce_file(root / "results")
        (root / "results" / "locked").mkdir()
        _reproduce_file(root / "results" / "locked", "reproduce-20260102T000000Z.json")
        (root / "asv" / "m1").mkdir(parents=True)
        for d in (root, root / "results", root / "asv"):
            d.chmod(0o755)
        for f in (root / "results").glob("*.json"):
            f.chmod(0o644)
        (root / "results" / "locked").chmod(0)
        (root / "asv" / "m1").chmod(0)
        code = (
            "from pathlib import Path; from sepbench.results.sources import load_all\n"
            f"l = load_all([Path({str(root / 'results')!r})], [Path({str(root / 'asv')!r})])\n"
            "print(len(l.files['reproduce'])); print('\\n'.join(l.warnings))"
        )
        proc = _as_nobody(code, Path.cwd())
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "1"  # the readable file is still read
        assert any(f"skipped {root / 'results' / 'locked'}: cannot be read" in w for w in lines[1:]), lines
        assert any(f"skipped {root / 'asv' / 'm1'}: cannot be read" in w for w in lines[1:]), lines
    finally:
        for d in (root / "results" / "locked", root / "asv" / "m1"):
            d.chmod(0o755)
        shutil.rmtree(root)


def test_a_backend_name_with_a_newline_and_bars_is_refused_and_markdown_cells_are_escaped(tmp_path):
    """The schema refuses such a name where it is read (it would become a table row, a file name, an
    argument); and any text that reaches a Markdown cell is escaped there, whatever its source."""
    import pandas as pd

    from sepbench.report.render import _md_table
    from sepbench.results.sources import load_all

    results = tmp_path / "results"
    _reproduce_file(results, backend="numpy\n| FAKE | yes | yes | yes |")
    loaded = load_all([results], [])
    assert loaded.measurements.empty and len(loaded.warnings) == 1
    assert re.search(r"\$\.rows\[\d\]\.backend: ", loaded.warnings[0]) and "does not match" in loaded.warnings[0]
    md = _md_table(pd.DataFrame({"machine": ["box\n| FAKE | yes |"], "verdict": ["a|b"]}))
    assert len(md.splitlines()) == 3 and not any(line.startswith("| FAKE") for line in md.splitlines())
    assert "box \\| FAKE \\| yes \\|" in md and "a\\|b" in md


def test_a_zero_byte_result_beside_good_ones_is_named_and_the_rest_reported(tmp_path):
    from sepbench.results.sources import load_all

    results = tmp_path / "results"
    _reproduce_file(results)
    (results / "reproduce-20260102T000000Z.json").write_bytes(b"")
    loaded = load_all([results], [])
    assert len(loaded.files["reproduce"]) == 1 and not loaded.measurements.empty
    assert any("reproduce-20260102T000000Z.json: empty (0 bytes" in w for w in loaded.warnings), loaded.warnings


# -- writes: nothing replaced that the program did not create --------------------------------------------------


@pytest.mark.parametrize("target", ["/dev/null", "fifo", "dir/", "dir"])
def test_check_writable_refuses_what_a_rename_would_replace(target, tmp_path):
    from sepbench.util.atomic import UnwritableError, check_writable

    if target == "fifo":
        os.mkfifo(tmp_path / "fifo")
    if target.startswith("dir"):
        (tmp_path / "dir").mkdir()
    path = target if target.startswith("/") else str(tmp_path / target) + ("/" if target.endswith("/") else "")
    with pytest.raises(UnwritableError):
        check_writable(path)
    assert check_writable(tmp_path / "new" / "f.json") == tmp_path / "new" / "f.json"


def test_no_write_replaces_a_fifo_a_device_or_a_folder(tmp_path):
    """The last line of defence under every writer (the caches' records included): the rename refuses."""
    from sepbench.util.atomic import atomic_write_json

    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dir").mkdir()
    for target in (tmp_path / "pipe", tmp_path / "dir", Path("/dev/null")):
        with pytest.raises(FileExistsError, match="not a regular file"):
            atomic_write_json(target, {"a": 1})
    assert (tmp_path / "pipe").is_fifo() and Path("/dev/null").is_char_device()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left beside them


def test_a_tuning_record_that_is_a_fifo_is_neither_read_nor_replaced(tmp_path, monkeypatch):
    from sepbench.util import tuning

    os.mkfifo(tmp_path / "pipe")
    monkeypatch.setenv("SEPBENCH_TUNING_FILE", str(tmp_path / "pipe"))
    tuning.record("test", {"k": 1}, {"chunk": 4})  # would block on reading, or replace the fifo
    assert (tmp_path / "pipe").is_fifo()


def test_a_baseline_whose_case_is_named_like_an_option_cannot_empty_a_folder(tmp_path, capsys):
    """Issue 25's worst case, end to end: the gate's confirmation re-run once passed a baseline's case
    names to pytest, and a case named --basetemp=DIR emptied DIR.  The name is refused, DIR is intact."""
    from sepbench.cli import main

    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "thesis.tex").write_text("years of work")
    evil = f"--basetemp={keep}"
    info = {"machine_name": "xeon-2c", "versions": {"numpy": "2.4.6"}, "threads": {"requested": 1}}
    for name, seconds in (("base.json", 0.001), ("run.json", 0.002)):  # the run 2x slower: the re-run is wanted
        doc = {"machine_info": info, "benchmarks": [{"fullname": evil, "name": evil, "stats": {"data": [seconds] * 9}}]}
        (tmp_path / name).write_text(json.dumps(doc))
    rc = main(["check", "gate", str(tmp_path / "base.json"), str(tmp_path / "run.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "not a benchmark case" in err and "Traceback" not in err, err
    assert (keep / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize(
    "bench, expected",
    [
        (
            {"fullname": "tests/bench/test_bench.py::test_predict[a]", "extra_info": "x", "stats": {"data": [1.0]}},
            "$.benchmarks[0].extra_info",
        ),
        (
            {"fullname": "tests/bench/test_bench.py::test_predict[a]", "stats": {"data": [0.001, float("nan")]}},
            "$.benchmarks[0].stats.data[1]",
        ),
        ({"fullname": "tests/bench/test_bench.py::test_predict[a]", "stats": {"data": [0.001, -1.0]}}, "$.benchmarks[0].stats.data[1]"),
    ],
)
def test_a_shared_baseline_is_checked_against_the_format_naming_file_and_field(bench, expected, tmp_path, capsys):
    from sepbench.cli import main

    info = {"machine_name": "xeon-2c", "versions": {"numpy": "2.4.6"}, "threads": {"requested": 1}}
    (tmp_path / "base.json").write_text(json.dumps({"machine_info": info, "benchmarks": [bench]}))
    (tmp_path / "run.json").write_text(json.dumps({"machine_info": info, "benchmarks": []}))
    assert main(["check", "gate", str(tmp_path / "base.json"), str(tmp_path / "run.json")]) == 2
    err = capsys.readouterr().err
    assert f"baseline {tmp_path / 'base.json'}: not a well-formed pytest-benchmark file: {expected}" in err and "Traceback" not in err, err


def test_a_tuning_file_that_is_not_a_record_is_left_as_it_is(tmp_path, monkeypatch, capsys):
    from sepbench.util import tuning

    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    monkeypatch.setenv("SEPBENCH_TUNING_FILE", str(notes))
    tuning.record("test", {"k": 1}, {"chunk": 4})
    assert notes.read_text() == "my notes" and "not a record of tuned choices" in capsys.readouterr().err
    monkeypatch.setenv("SEPBENCH_TUNING_FILE", str(tmp_path / "new.json"))  # a missing file is made
    tuning.record("test", {"k": 1}, {"chunk": 4})
    assert tuning.remembered("test", {"k": 1}, lambda: {"chunk": 8}) == {"chunk": 4}


# -- round 3, class 1: what the user opens (spreadsheet, GitHub, terminal, plots) ---------------------------
HOSTILE_LABELS = {
    "machine_name": "=cmd|' /C calc'!A0 $x^2$",
    "cpu_model": "<img src=x onerror=alert(1)>[x](javascript:alert(1))\x1b[31mRED\x1b]0;title\x07",
    "commit": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def _hostile_run(real_run: Path, results: Path) -> None:
    """The real run of tests/test_report.py's fixture, its labels replaced by what an attacker would hand a user."""
    (src,) = real_run.rglob("0001_*.json")
    doc = json.loads(src.read_text())
    doc["machine_info"].update(machine_name=HOSTILE_LABELS["machine_name"], node=HOSTILE_LABELS["machine_name"])
    doc["machine_info"]["cpu_model"] = HOSTILE_LABELS["cpu_model"]
    doc["commit_info"] = {"id": HOSTILE_LABELS["commit"], "dirty": False}
    results.mkdir(parents=True)
    (results / "hostile.json").write_text(json.dumps(doc))


from tests.test_report import bench_dir  # noqa: E402, F401  (the real pytest-benchmark run those tests share)


def test_labels_from_a_result_file_land_inert_in_csv_markdown_terminal_and_plots(bench_dir, tmp_path):  # noqa: F811
    """A spreadsheet evaluates no cell, GitHub renders no HTML or link, the terminal gets no escape sequence,
    and a ``$`` does not kill the plots (matplotlib's mathtext), whatever the result file's labels hold."""
    import csv

    from tests.test_report import _report_cli

    results = tmp_path / "results"
    _hostile_run(bench_dir, results)
    out = tmp_path / "out"
    proc = _report_cli(results, tmp_path / "no-asv", out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "\x1b" not in proc.stdout + proc.stderr and "\x07" not in proc.stdout + proc.stderr
    cells = [c for f in out.glob("*.csv") for row in csv.reader(f.open(newline="")) for c in row]
    assert any("cmd|" in c for c in cells)  # the label is there, as text
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r")) and not _is_number(c)]  # -1.29: a number
    md = (out / "report.md").read_text()
    assert "cmd|" in md.replace("\\|", "|")
    assert "<img" not in md and not re.search(r"(?<!\\)\]\(javascript:", md) and "\x1b" not in md  # \](: shown, not a link
    html = (out / "index.html").read_text()
    assert "<img src=x" not in html and "\x1b" not in html
    assert list(out.glob("*.png"))  # the plots were drawn, the $ shown as written


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_neutralise_rules():
    from sepbench.util.neutralise import csv_cell, markdown_text, terminal

    assert csv_cell("=1+1") == "'=1+1" and csv_cell("-2") == "'-2" and csv_cell(-2.0) == -2.0 and csv_cell("a=b") == "a=b"
    assert markdown_text("<b>x</b> [a](b) a|b") == "&lt;b&gt;x&lt;/b&gt; \\[a\\](b) a\\|b"
    assert terminal("a\x1b[31mb\x9bc\rd\te") == "a\\x1b[31mb\\x9bc\\x0dd\te"
