"""The options ``noxfile.py`` parses itself (``nox -s bench -- ...``, ``nox -s asv -- --machine``):
every option, missing values, names that match no saved run, and which runs are saved."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sepbench.bench.nox_args import DEFAULT_MIN_EFFECT, BenchArgs, NoxArgsError, bench_args, pop_option

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """A bench storage holding three saved runs on one machine: 0001 autosaved, 0002 ``baseline``, 0003 autosaved."""
    machine = tmp_path / "Linux-CPython-3.11-64bit"
    machine.mkdir()
    for name in ("0001_20250101_000000", "0002_baseline", "0003_20250102_000000"):
        (machine / f"{name}.json").write_text("{}")
    return tmp_path


def head(storage: Path, train: bool = True) -> list[str]:
    """The arguments every run starts with: the storage, the copy of the run in last-run.json, its samples, and
    (the main job's default) training the weights that are not cached."""
    return [
        f"--benchmark-storage=file://{storage}",
        f"--benchmark-json={storage / 'last-run.json'}",
        "--benchmark-save-data",  # every sample: the gate judges both runs' samples
        *(["--train-missing"] if train else []),
    ]


def test_no_train_keeps_the_latency_only_run(storage: Path) -> None:
    assert bench_args(["--no-train", "--quick"], storage).pytest_args == [*head(storage, train=False), "--benchmark-autosave", "--quick"]
    assert bench_args(["--train-missing"], storage).pytest_args.count("--train-missing") == 1


def test_no_options_autosaves_the_run(storage: Path) -> None:
    assert bench_args([], storage) == BenchArgs([*head(storage), "--benchmark-autosave"], None, True, (), DEFAULT_MIN_EFFECT)


def test_other_arguments_pass_through_to_pytest_in_order(storage: Path) -> None:
    parsed = bench_args(["--quick", "--backends", "numpy", "-k", "predict"], storage)
    assert parsed.pytest_args == [*head(storage), "--benchmark-autosave", "--quick", "--backends", "numpy", "-k", "predict"]
    assert parsed.compare is None
    assert parsed.user_args == ("--quick", "--backends", "numpy", "-k", "predict")  # what the gate's re-run repeats


def test_compare_without_a_name_uses_the_newest_saved_run_and_does_not_save(storage: Path) -> None:
    parsed = bench_args(["--compare", "--quick"], storage)
    newest = str(storage / "Linux-CPython-3.11-64bit" / "0003_20250102_000000.json")
    assert parsed.compare == newest
    # a compared run is not autosaved: a regressed run must not become the next baseline
    # pytest-benchmark shows the side-by-side table; `sepbench gate` (run by the noxfile) decides
    assert parsed.pytest_args == [*head(storage), "--quick", f"--benchmark-compare={newest}"]
    assert not [a for a in parsed.pytest_args if a.startswith("--benchmark-compare-fail")]


def test_compare_with_a_name_or_number_finds_that_run(storage: Path) -> None:
    assert bench_args(["--compare", "baseline"], storage).compare == str(storage / "Linux-CPython-3.11-64bit" / "0002_baseline.json")
    assert bench_args(["--compare", "1"], storage).compare == str(storage / "Linux-CPython-3.11-64bit" / "0001_20250101_000000.json")


def test_compare_with_an_unknown_name_says_what_it_looked_for(storage: Path) -> None:
    with pytest.raises(NoxArgsError, match=r"^--compare: found no run saved as 'nosuch' under .*--save-as NAME"):
        bench_args(["--compare", "nosuch"], storage)


def test_compare_with_nothing_saved_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(NoxArgsError, match=r"^--compare: found no saved run .*run `nox -s bench`"):
        bench_args(["--compare"], tmp_path)


@pytest.mark.parametrize(
    ("posargs", "effect"), [(["--min-effect", "0.05"], 0.05), (["--fail-threshold", "median:5%"], 0.05), (["--min-effect", "20%"], 0.2)]
)
def test_min_effect_sets_the_gate(storage: Path, posargs: list[str], effect: float) -> None:
    parsed = bench_args([*posargs, "--compare", "baseline"], storage)
    assert parsed.min_effect == pytest.approx(effect)
    assert not [a for a in parsed.pytest_args if "median" in a or "0.05" in a]


@pytest.mark.parametrize(
    "posargs", [["--min-effect"], ["--min-effect", "--quick"], ["--min-effect", "-0.1"], ["--fail-threshold", "min:0.005"]]
)
def test_min_effect_needs_a_fraction(storage: Path, posargs: list[str]) -> None:
    with pytest.raises(NoxArgsError, match="needs the smallest slowdown that fails, e.g. 0.10 or 10%"):
        bench_args(posargs, storage)


def test_save_as_names_the_run_instead_of_autosaving(storage: Path) -> None:
    parsed = bench_args(["--save-as", "before-fix", "--quick"], storage)
    assert parsed.pytest_args == [*head(storage), "--benchmark-save=before-fix", "--quick"]


def test_save_as_with_compare_saves_the_compared_run(storage: Path) -> None:
    parsed = bench_args(["--compare", "baseline", "--save-as", "after"], storage)
    assert "--benchmark-save=after" in parsed.pytest_args and "--benchmark-autosave" not in parsed.pytest_args
    assert parsed.compare is not None


@pytest.mark.parametrize("posargs", [["--save-as"], ["--save-as", "--quick"]])
def test_save_as_needs_a_name(storage: Path, posargs: list[str]) -> None:
    with pytest.raises(NoxArgsError, match="--save-as needs a name"):
        bench_args(posargs, storage)


def test_pop_option_takes_the_value_out() -> None:
    assert pop_option(["HEAD~3..HEAD", "--machine", "ci", "--quick"], "--machine") == ("ci", ["HEAD~3..HEAD", "--quick"])
    assert pop_option(["--machine=ci", "--quick"], "--machine") == ("ci", ["--quick"])


def test_pop_option_absent_leaves_the_arguments() -> None:
    assert pop_option(("--quick", "--machines", "x"), "--machine") == (None, ["--quick", "--machines", "x"])


@pytest.mark.parametrize("args", [["--machine"], ["--machine", "--quick"]])
def test_pop_option_needs_a_value(args: list[str]) -> None:
    with pytest.raises(NoxArgsError, match="^--machine needs a value$"):
        pop_option(args, "--machine")


@pytest.mark.parametrize(
    "posargs, fresh, schedule, budget",
    [
        ([], False, (), None),
        (["--fresh"], True, (), None),
        (["--processes", "3,6,10"], False, (3, 6, 10), None),
        (["--processes=1", "--budget=0"], False, (1,), 0.0),
        (["--budget", "90.5", "-k", "numpy"], False, (), 90.5),
    ],
)
def test_process_options_are_the_noxfiles_not_pytests(storage: Path, posargs, fresh, schedule, budget) -> None:
    parsed = bench_args(posargs, storage)
    assert (parsed.fresh, parsed.schedule, parsed.budget_s) == (fresh, schedule, budget)
    assert not any(a.startswith(("--fresh", "--processes", "--budget")) for a in parsed.pytest_args)


@pytest.mark.parametrize(
    "posargs, problem",
    [
        (["--processes", "6,3"], "increasing"),
        (["--processes", "0"], "increasing"),
        (["--processes"], "increasing"),
        (["--processes", "3,x"], "increasing"),
        (["--budget", "-1"], "--budget"),
        (["--budget", "soon"], "--budget"),
        (["--benchmark-storage=file:///elsewhere"], "SEPBENCH_RESULTS_DIR"),
    ],
)
def test_process_options_are_checked(storage: Path, posargs, problem) -> None:
    with pytest.raises(NoxArgsError, match=problem):
        bench_args(posargs, storage)


@pytest.mark.parametrize(
    "module", ["sepbench.bench.nox_args", "sepbench.bench.processes", "sepbench.bench.record_writer", "sepbench.results.paired_records"]
)
def test_the_parser_imports_only_the_standard_library(module: str) -> None:
    """The noxfile imports these before any virtualenv exists."""
    code = (
        f"import sys; before = set(sys.modules); import {module}; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(new - set(sys.stdlib_module_names) - {'sepbench'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_compare_looks_only_at_this_machines_runs(storage: Path) -> None:
    """A baseline saved on other hardware is not comparable: the gate says so instead of comparing."""
    with pytest.raises(
        NoxArgsError,
        match=r"found no saved run .* under .*/xeon-f6m207-2c-avx512-24g; runs exist for other machines "
        r"\(Linux-CPython-3.11-64bit\), but a baseline from other hardware is not comparable",
    ):
        bench_args(["--compare"], storage, machine="xeon-f6m207-2c-avx512-24g")
    assert bench_args(["--compare"], storage, machine="Linux-CPython-3.11-64bit").compare.endswith("0003_20250102_000000.json")


def test_a_bench_run_is_saved_under_the_machines_hardware_name(tmp_path: Path, mnist_dir: Path) -> None:
    """Real pytest-benchmark storage: the folder is the name the report and ASV use, not Linux-CPython-3.11-64bit."""
    import os
    import subprocess
    import sys

    from sepbench.machine.fingerprint import machine_name

    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "tests/bench/test_bench.py::test_predict[numpy-regular-default-b32-n32]",
        "--backends",
        "numpy",
        "--threads",
        "1",
        "--quick",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--benchmark-storage=file://{tmp_path}",
        "--benchmark-autosave",
    ]
    proc = subprocess.run(
        cmd,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SEPBENCH_MNIST_DIR": str(mnist_dir), "SEPBENCH_MACHINE": ""},
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert [p.parent.name for p in tmp_path.glob("*/0001_*.json")] == [machine_name()]


def test_a_compared_run_takes_its_baselines_threads_unless_told(storage: Path) -> None:
    """The default thread count follows the cores free at the start, which moves with the machine's load: a
    run compared with a baseline made at 2 threads runs at 2 (and so does the gate's re-run, which repeats
    the user's arguments), an explicit --threads wins, and a baseline that does not say changes nothing."""
    import json

    saved = storage / "Linux-CPython-3.11-64bit" / "0002_baseline.json"
    saved.write_text(json.dumps({"machine_info": {"threads": {"requested": 2}}}))
    parsed = bench_args(["--compare", "baseline", "--quick"], storage)
    assert parsed.pytest_args[-3:-1] == ["--threads", "2"] and parsed.user_args == ("--quick", "--threads", "2")
    assert bench_args(["--compare", "baseline", "--threads", "1"], storage).user_args == ("--threads", "1")
    assert bench_args(["--compare", "baseline", "--threads=1"], storage).user_args == ("--threads=1",)
    assert "--threads" not in bench_args(["--compare", "1"], storage).user_args  # "{}": says nothing
    for bad in ('{"machine_info": {"threads": {"requested": true}}}', '{"machine_info": {"threads": {"requested": 0}}}', "not json"):
        saved.write_text(bad)
        assert "--threads" not in bench_args(["--compare", "baseline"], storage).user_args
