"""A hostile but fair user, case by case: every bad input gets a clear message and a non-zero exit
(or a correct answer), never a traceback, a silent wrong answer or a touched file it did not write.

Each case runs the real CLI in this process (``sepbench.cli.main``) with its own results and cache
folders.  The table of cases is the suite: add a row for every new way in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.cli_cases import ERR, OK, _chmod, _file, run_cli_case

PB = {"machine_info": {"machine_name": "m"}, "benchmarks": []}
CASES: list[tuple[str, list[str], dict[str, str], list[Callable[[Path], None]], str, str]] = [
    # id, argv ({root} is the case's folder), env, set-up, outcome, text expected in the output
    ("no command", [], {}, [], ERR, "COMMAND"),
    ("unknown command", ["frobnicate"], {}, [], ERR, "invalid choice"),
    ("spec unknown model", ["spec", "resnet"], {}, [], ERR, "resnet"),
    ("spec both models", ["spec"], {}, [], OK, "8,586"),
    ("data dir missing", ["data", "--data-dir", "{root}/nowhere"], {}, [], ERR, "does not hold"),
    ("data dir is a file", ["data", "--data-dir", "{root}/f"], {}, [_file("f", "x")], ERR, "does not hold"),
    ("data env dir empty", ["data"], {"SEPBENCH_MNIST_DIR": "{root}/empty"}, [_chmod("empty", 0o755)], ERR, "SEPBENCH_MNIST_DIR"),
    ("data offline and no cache", ["data", "--offline"], {"SEPBENCH_MNIST_DIR": ""}, [], ERR, "download not allowed"),
    ("data env offline", ["data"], {"SEPBENCH_MNIST_DIR": "", "SEPBENCH_OFFLINE": "1"}, [], ERR, "SEPBENCH_OFFLINE=1"),
    ("data mirrors not urls", ["data"], {"SEPBENCH_MNIST_DIR": "", "SEPBENCH_MNIST_MIRRORS": "ftp://x"}, [], ERR, "not a URL"),
    (
        "data mirror refuses",
        ["data", "--download"],
        {"SEPBENCH_MNIST_DIR": "", "SEPBENCH_MNIST_MIRRORS": "http://127.0.0.1:9/"},
        [],
        ERR,
        "from any mirror",
    ),
    (
        "data cache under a file",
        ["data", "--download"],
        {"SEPBENCH_MNIST_DIR": "", "SEPBENCH_CACHE_DIR": "{root}/f/cache"},
        [_file("f", "x")],
        ERR,
        "cannot create the MNIST download directory",
    ),
    ("train unknown model", ["train", "--models", "vgg"], {}, [], ERR, "vgg"),
    ("train empty models", ["train", "--models", ","], {}, [], ERR, "names no model"),
    ("train negative seed", ["train", "--seed", "-3"], {}, [], ERR, "argument --seed: must be >= 0, got -3"),
    ("train seed not a number", ["train", "--seed", "x"], {}, [], ERR, "argument --seed: not a whole number"),
    ("reproduce unknown backend", ["reproduce", "--backends", "jax"], {}, [], ERR, "unknown backend(s) 'jax'"),
    ("reproduce empty backends", ["reproduce", "--backends", ","], {}, [], ERR, "names no backend"),
    ("reproduce empty models", ["reproduce", "--models", ","], {}, [], ERR, "names no model"),
    ("reproduce unknown model", ["reproduce", "--models", "vgg"], {}, [], ERR, "vgg"),
    ("reproduce zero epochs", ["reproduce", "--epochs", "0"], {}, [], ERR, "argument --epochs: must be >= 1, got 0"),
    ("reproduce negative limit", ["reproduce", "--limit", "-5"], {}, [], ERR, "argument --limit: must be >= 1, got -5"),
    ("reproduce zero test limit", ["reproduce", "--test-limit", "0"], {}, [], ERR, "argument --test-limit: must be >= 1, got 0"),
    ("reproduce zero threads", ["reproduce", "--threads", "0"], {}, [], ERR, "argument --threads: must be >= 1, got 0"),
    ("reproduce negative seed", ["reproduce", "--seed", "-1"], {}, [], ERR, "argument --seed: must be >= 0, got -1"),
    ("reproduce zero seeds", ["reproduce", "--seeds", "0"], {}, [], ERR, "argument --seeds: must be >= 1, got 0"),
    ("reproduce bad variant", ["reproduce", "--variant", "adam"], {}, [], ERR, "unknown recipe variant"),
    ("reproduce zero eval repeats", ["reproduce", "--eval-repeats", "0"], {}, [], ERR, "argument --eval-repeats: must be >= 1, got 0"),
    ("reproduce output is a folder", ["reproduce", "--backends", "numpy", "--output", "{root}"], {}, [], ERR, "is a directory"),
    (
        "reproduce output under a file",
        ["reproduce", "--backends", "numpy", "--output", "{root}/f/out.json"],
        {},
        [_file("f", "x")],
        ERR,
        "/f is a file, not a folder: cannot write out.json",
    ),
    (
        "reproduce results under a file",
        ["reproduce", "--backends", "numpy", "--limit", "32"],
        {"SEPBENCH_RESULTS_DIR": "{root}/f/r"},
        [_file("f", "x")],
        ERR,
        "/f is a file, not a folder",
    ),
    (
        "reproduce results dir is a file",
        ["reproduce", "--backends", "numpy", "--limit", "32"],
        {"SEPBENCH_RESULTS_DIR": "{root}/f"},
        [_file("f", "x")],
        ERR,
        "/f is a file, not a folder",
    ),
    ("bench-summary no such file", ["bench-summary", "{root}/none.json"], {}, [], ERR, "no such benchmark file"),
    ("bench-summary empty storage", ["bench-summary", "{root}"], {}, [], ERR, "found no saved run"),
    ("bench-summary not json", ["bench-summary", "{root}/x.json"], {}, [_file("x.json", "{nope")], ERR, "not valid JSON"),
    ("bench-summary binary", ["bench-summary", "{root}/x.json"], {}, [_file("x.json", b"\x89PNG\x00\xff")], ERR, "x.json"),
    ("bench-summary empty file", ["bench-summary", "{root}/x.json"], {}, [_file("x.json", "")], ERR, "empty (0 bytes"),
    ("bench-summary a list", ["bench-summary", "{root}/x.json"], {}, [_file("x.json", "[]")], ERR, "not a pytest-benchmark JSON run"),
    (
        "bench-summary benchmarks a number",
        ["bench-summary", "{root}/x.json"],
        {},
        [_file("x.json", json.dumps({**PB, "benchmarks": 3}))],
        ERR,
        "not a pytest-benchmark JSON run",
    ),
    (
        "bench-summary benchmark a number",
        ["bench-summary", "{root}/x.json"],
        {},
        [_file("x.json", json.dumps({**PB, "benchmarks": [1]}))],
        ERR,
        "$.benchmarks[0]: 1 is not of type 'object'",
    ),
    (
        "bench-summary stats a string",
        ["bench-summary", "{root}/x.json"],
        {},
        [_file("x.json", json.dumps({**PB, "benchmarks": [{"stats": "fast"}]}))],
        ERR,
        "$.benchmarks[0].stats: 'fast' is not of type 'object'",
    ),
    (
        "bench-summary extra_info a list",
        ["bench-summary", "{root}/x.json"],
        {},
        [_file("x.json", json.dumps({**PB, "benchmarks": [{"stats": {"median": 1.0}, "extra_info": [1]}]}))],
        ERR,
        "x.json",
    ),
    (
        "bench-summary machine_info a string",
        ["bench-summary", "{root}/x.json"],
        {},
        [_file("x.json", json.dumps({**PB, "machine_info": "m"}))],
        ERR,
        "not a pytest-benchmark JSON run",
    ),
    (
        "bench-summary deep nesting",
        ["bench-summary", "{root}/x.json"],
        {},
        [_file("x.json", "[" * 100_000 + "]" * 100_000)],
        ERR,
        "nested too deeply",
    ),
    ("bench-summary a directory named .json", ["bench-summary", "{root}/d.json"], {}, [_chmod("d.json", 0o755)], ERR, "found no saved run"),
    (
        "report nothing",
        ["report", "--results", "{root}/r", "--asv-results", "{root}/a", "--output", "{root}/o"],
        {},
        [],
        ERR,
        "no results to report",
    ),
    (
        "report only junk",
        ["report", "--results", "{root}/r", "--asv-results", "{root}/a", "--output", "{root}/o"],
        {},
        [_file("r/x.json", "{nope"), _file("r/y.json", "[1, 2]")],
        ERR,
        "no results to report",
    ),
    (
        "report deep json",
        ["report", "--results", "{root}/r", "--asv-results", "{root}/a", "--output", "{root}/o"],
        {},
        [_file("r/deep.json", "[" * 100_000 + "]" * 100_000)],
        ERR,
        "nested too deeply",
    ),
    (
        "report output is a file",
        ["report", "--results", "{root}/r", "--output", "{root}/f"],
        {},
        [_file("f", "x"), _file("r/reproduce-1.json", "{}")],
        ERR,
        "/f is a file, not a folder",
    ),
    ("regress zero factor", ["check", "asv", "--factor", "0"], {}, [], ERR, "factor"),
    ("regress bad bench regex", ["check", "asv", "--bench", "("], {}, [], ERR, "is not a regular expression"),
    ("profile zero images", ["profile", "--images", "0"], {}, [], ERR, "argument --images: must be >= 1, got 0"),
    ("profile unknown backend", ["profile", "--backends", "tensorflow"], {}, [], ERR, "tensorflow: profile times numpy and torch only"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_message(case, tmp_path, monkeypatch, capsys, mnist_dir):
    run_cli_case(case, tmp_path, monkeypatch, capsys, mnist_dir)


def test_the_suite_has_at_least_50_cases():
    assert len(CASES) >= 50 and len({c[0] for c in CASES}) == len(CASES)


def test_a_weights_file_of_another_model_is_refused(tmp_path):
    from impls.registry import get_backend
    from sepbench.core.weights import init_weights

    with pytest.raises(ValueError, match="weights are for model 'separable'"):
        get_backend("numpy").build_model("regular", init_weights("separable", 0))
    probs = get_backend("numpy").build_model("regular").predict(np.zeros((2, 28, 28, 1), np.uint8))
    assert probs.shape == (2, 10) and np.allclose(probs.sum(1), 1)


def test_sigterm_mid_run_leaves_no_temporary_folder_or_empty_result(tmp_path, mnist_dir):
    """`kill` (a CI timeout) while reproduce trains: exit 130, the reserved result file and the temporary
    folder are removed, nothing half-written stays."""
    import signal
    import subprocess
    import sys
    import time

    tmp, results = tmp_path / "tmp", tmp_path / "results"
    tmp.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(tmp),
        "SEPBENCH_RESULTS_DIR": str(results),
        "SEPBENCH_CACHE_DIR": str(tmp_path / "cache"),
        "SEPBENCH_MNIST_DIR": str(mnist_dir),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sepbench",
            "reproduce",
            "--backends",
            "numpy",
            "--epochs",
            "20",
            "--limit",
            "20000",
            "--no-progress",
            "--threads",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(tmp.glob("sepbench-reproduce-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)  # wait until training has begun (its temporary folder exists)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err[-2000:]
    assert not list(tmp.iterdir()) and not (results.exists() and list(results.iterdir()))


@pytest.mark.parametrize("batch_size", [0, -1, 2**63, 1.5, True, "32"])
def test_batch_sizes_out_of_range_are_one_clear_error_in_every_backend(batch_size):
    from impls.registry import available_backends, get_backend

    x = np.zeros((2, 28, 28, 1), np.float32)
    for backend in available_backends():
        model = get_backend(backend).build_model("separable")
        with pytest.raises(ValueError, match="batch_size must be an integer from 1 to"):
            model.predict(x, batch_size=batch_size)
