"""The report's plots, drawn beside the rest of the build.  On a machine with two cores or more, ``sepbench
report`` forks a second process once pandas is imported: it imports matplotlib while the report imports the
rest and loads the results, draws the tables' plots while the verdicts are decided and the forest plots
while the tables are written (the report's time about halves: docs/report.md).  With one core, or where no
process can be had, they are drawn in the report's own process, one after the other; the files are the
same either way, byte for byte (tests/test_report_drawing.py).

A plot is a job: its title, the function that draws it (``"module:function"`` under ``sepbench.report``,
so that this process never imports matplotlib for it) and the arguments, which travel pickled.
"""

from __future__ import annotations

import importlib
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

Job = tuple[str, str, tuple[Any, ...]]  # (title, "module:function" under sepbench.report, arguments)


def draw(function: str, args: tuple[Any, ...]) -> Any:
    """Call ``sepbench.report.<module>.<function>(*args)`` with every label drawn as written (plots.literal_text)."""
    from sepbench.report import plots

    module, name = function.split(":")
    with plots.literal_text():
        return getattr(importlib.import_module(f"sepbench.report.{module}"), name)(*args)


def _job(function: str, args: tuple[Any, ...]) -> Any:
    """:func:`draw`, as the worker calls it (looked up there, when the job runs)."""
    return draw(function, args)


def _warm() -> None:
    """Import matplotlib and the plot modules and load a font, in the worker, before any job comes."""
    import matplotlib.figure

    from sepbench.report import forest, plots  # noqa: F401

    figure = matplotlib.figure.Figure(figsize=(1, 1))
    figure.text(0.5, 0.5, "0.1x")
    figure.canvas.draw()  # Agg's renderer and the font: what the first job would otherwise wait for


class Painter:
    """Draws jobs in a worker process started now (``workers`` > 1 and ``fork`` available), else in this one.
    A context manager: the worker is gone when the ``with`` ends."""

    def __init__(self, workers: int = 1) -> None:
        self._pool: ProcessPoolExecutor | None = None
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            # fork: the worker starts at once with this process's imports, and imports what the plots need
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
            try:
                self._pool.submit(_warm)
            except OSError:  # no process to be had (a process limit, no memory): drawn here
                self.close()

    @property
    def in_worker(self) -> bool:
        return self._pool is not None

    def start(self, jobs: list[Job]) -> list[Future[Any] | Any]:
        """Hand ``jobs`` to the worker (futures), or draw them now where there is none, or no more (results)."""
        if self._pool is not None:
            try:
                return [self._pool.submit(_job, function, args) for _, function, args in jobs]
            except BrokenProcessPool:  # the worker died (out of memory, a signal): drawn here from now on
                self.close()
        return [draw(function, args) for _, function, args in jobs]

    def results(self, started: list[Future[Any] | Any], jobs: list[Job]) -> list[Any]:
        """What each job's function returned, in order; a worker that died is replaced by drawing here.
        An exception a job raised in the worker is raised here, as itself."""
        try:
            return [s.result() if isinstance(s, Future) else s for s in started]
        except BrokenProcessPool:  # killed (out of memory, a signal): the plots are still owed
            self.close()
            return [draw(function, args) for _, function, args in jobs]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Painter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
