"""The pytest-benchmark suite's hooks and fixtures, defined in :mod:`sepbench.bench` (options, case
matrix, machine info, closing note, ``time_case``); this file only makes pytest load them.

Run by ``nox -s bench`` (``pytest tests/bench ...``); the unit tests (``nox -s tests``) ignore it.
"""

from sepbench.bench.fixtures import bench_data_dir, opts, roofline, time_case  # noqa: F401
from sepbench.bench.plugin import (  # noqa: F401
    pytest_addoption,
    pytest_benchmark_compare_machine_info,
    pytest_benchmark_update_machine_info,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_generate_tests,
    pytest_sessionstart,
    pytest_terminal_summary,
)
