"""The pytest hooks of the benchmark suite; ``tests/bench/conftest.py`` imports them (and the fixtures
of :mod:`sepbench.bench.fixtures`).

Each hook only wires pytest to a module with one job: options (:mod:`~sepbench.bench.options`), the
case matrix (:mod:`~sepbench.bench.cases`), machine info (:mod:`~sepbench.bench.machine_info`) and
the closing note (:mod:`~sepbench.bench.summary`).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from sepbench.bench.cases import KIND_FIXTURES, cases
from sepbench.bench.machine_info import bench_machine_info, machine_differences
from sepbench.bench.options import OPTIONS_KEY, bench_options, option, pytest_addoption, read_options
from sepbench.bench.summary import summary_lines

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_collection_modifyitems",
    "pytest_benchmark_update_machine_info",
    "pytest_benchmark_compare_machine_info",
    "pytest_terminal_summary",
]


def pytest_configure(config: pytest.Config) -> None:
    """Read the options and apply the thread count to every backend (before TensorFlow runs any op)."""
    from sepbench.machine.threads import configure_threads

    opts = read_options(config)
    if option(config, "offline", False):
        os.environ["SEPBENCH_OFFLINE"] = "1"  # read by the MNIST loader (sepbench.core.data.offline)
    configure_threads(opts.threads, backends=opts.available)
    config.stash[OPTIONS_KEY] = opts


@pytest.hookimpl(trylast=True)  # after pytest-benchmark made its session
def pytest_sessionstart(session: pytest.Session) -> None:
    """Saved runs go under the machine's hardware name (the name the report and ASV use), not
    pytest-benchmark's ``Linux-CPython-3.11-64bit``, which is the same for every x86 machine."""
    from sepbench.machine.fingerprint import machine_name

    bench = getattr(session.config, "_benchmarksession", None)  # pytest-benchmark keeps no public handle on it
    if bench is not None and getattr(bench, "storage", None) is not None and hasattr(bench.storage, "default_machine_id"):
        bench.machine_id = bench.storage.default_machine_id = machine_name()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize each ``*_case`` fixture with its cases; a backend that cannot load here is skipped, saying why."""
    for kind, fixture in KIND_FIXTURES.items():
        if fixture in metafunc.fixturenames:
            opts = bench_options(metafunc.config)
            params = []
            for case in cases(
                kind, opts.backends, opts.quick, opts.catalog, opts.pairs, full=opts.full, short_of_cores=opts.short_of_cores
            ):
                marks = [pytest.mark.skip(reason=opts.unavailable[case.backend])] if case.backend in opts.unavailable else []
                params.append(pytest.param(case, id=case.id, marks=marks))
            metafunc.parametrize(fixture, params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the suite's items ``bench``, deselect the tests left without a case; the paired cases take
    their places among themselves in a random order of this process's own (a process is the unit of
    replication: no case always runs first, or always after the same one)."""
    import secrets

    for item in items:
        if "tests/bench" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.bench)
    # a kind with no case in this job (the latency matrix without --full) is deselected, not a skipped "NOTSET"
    empty = [item for item in items if item.nodeid.endswith("[NOTSET]")]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if not item.nodeid.endswith("[NOTSET]")]
    # a listing keeps the cases' order; so do xdist's workers, which must all collect one order
    if config.getoption("collectonly", False) or hasattr(config, "workerinput") or config.getoption("numprocesses", None):
        return
    slots = [i for i, item in enumerate(items) if _is_paired(item)]
    shuffled = [items[i] for i in slots]
    secrets.SystemRandom().shuffle(shuffled)
    for i, item in zip(slots, shuffled):
        items[i] = item


def _is_paired(item: pytest.Item) -> bool:
    from sepbench.bench.cases import PAIRED_KINDS

    fixtures = getattr(item, "fixturenames", ())
    return any(KIND_FIXTURES[kind] in fixtures for kind in PAIRED_KINDS)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    machine_info.update(bench_machine_info(config.stash.get(OPTIONS_KEY, None)))


@pytest.hookimpl(hookwrapper=True)
def pytest_benchmark_compare_machine_info(config, benchmarksession, machine_info, compared_benchmark):
    """Warn in one line about machine differences that matter; ignore the run-to-run ones (roofline, git).

    pytest-benchmark's own check dumps both machine_info dicts whenever anything differs (the
    roofline always does) and crashes when the storage lies outside the working directory, so it
    is handed the current machine_info as the saved one once this check has run.
    """
    differ = machine_differences(compared_benchmark.get("machine_info") or {}, machine_info)
    if differ:
        benchmarksession.logger.warning(f"the compared run was made on a different set-up; machine_info differs in: {', '.join(differ)}")
    compared_benchmark["machine_info"] = machine_info
    yield


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    opts = config.stash.get(OPTIONS_KEY, None)
    if opts is None:
        return
    terminalreporter.section("sepbench")
    for line in summary_lines(opts):
        terminalreporter.write_line(line)
