"""The report's plots drawn in a second process (sepbench/report/drawing.py, ``build_report(painter=Painter(2))``, what
``sepbench report`` does on two cores or more): the same files as drawn in the report's own process, an
error in a plot raised as itself, and a worker that dies replaced by drawing here."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sepbench.report import drawing
from sepbench.report.build import build_report
from tests.test_report_first_screen import with_records  # noqa: F401 (a fixture)
from tests.test_report_verdict import HERE, two_machines  # noqa: F401 (a fixture)

BUILT = re.compile(rb"Built \S+ from")  # the build's time: the one line two builds differ in


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: BUILT.sub(b"Built ... from", p.read_bytes()) for p in sorted(folder.iterdir()) if p.name != "sepbench-manifest.json"}


def _drawn_in(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Record the process each plot is drawn in (the worker is forked: it inherits the patch)."""
    original = drawing.draw

    def draw(function: str, args: tuple) -> object:
        with log.open("a") as f:
            f.write(f"{os.getpid()} {function}\n")
        return original(function, args)

    monkeypatch.setattr(drawing, "draw", draw)


def test_a_worker_draws_the_same_files_as_the_report_itself(with_records: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    log = tmp_path / "drawn.log"
    _drawn_in(monkeypatch, log)
    here = build_report([with_records], [tmp_path / "no-asv"], tmp_path / "here", this_machine=HERE)
    assert {line.split()[0] for line in log.read_text().split("\n") if line} == {str(os.getpid())}
    log.unlink()
    with drawing.Painter(2) as painter:
        beside = build_report([with_records], [tmp_path / "no-asv"], tmp_path / "beside", this_machine=HERE, painter=painter)
    pids = {line.split()[0] for line in log.read_text().split("\n") if line}
    assert len(pids) == 1 and str(os.getpid()) not in pids  # every plot in the one worker
    assert {"forest.png", "forest_other_machines.png", "accuracy_params.png"} <= set(beside.files)
    assert beside.files.keys() == here.files.keys()
    assert _files(tmp_path / "beside") == _files(tmp_path / "here")  # byte for byte, PNGs included


def test_an_error_in_a_plot_drawn_by_the_worker_is_raised_as_itself(with_records: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    from sepbench.report import plots

    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug in a plot")

    monkeypatch.setattr(plots, "accuracy_params_plot", broken)
    with pytest.raises(ZeroDivisionError, match="a bug in a plot"), drawing.Painter(2) as painter:
        build_report([with_records], [tmp_path / "no-asv"], tmp_path / "out", this_machine=HERE, painter=painter)
    assert not (tmp_path / "out" / "index.html").exists()  # nothing half-built moved in


def test_a_worker_that_dies_leaves_the_plots_to_the_report(with_records: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    parent, original = os.getpid(), drawing.draw

    def dies_in_the_worker(function: str, args: tuple) -> object:
        if os.getpid() != parent:
            os._exit(9)  # as a kill would: no exception, no result
        return original(function, args)

    monkeypatch.setattr(drawing, "draw", dies_in_the_worker)
    with drawing.Painter(2) as painter:
        report = build_report([with_records], [tmp_path / "no-asv"], tmp_path / "out", this_machine=HERE, painter=painter)
    assert {"forest.png", "accuracy_params.png"} <= set(report.files) and (tmp_path / "out" / "forest.png").stat().st_size > 0


BEFORE = Path(__file__).parent / "data" / "report-247bbdb"  # claims.csv and verdict.csv as commit 247bbdb built them


def test_the_verdicts_are_those_the_report_decided_before_it_was_made_faster(with_records: Path, tmp_path: Path) -> None:  # noqa: F811
    """Issue 39: the report in half the time, never another verdict.  The same inputs, built by commit 247bbdb (before the
    t table, the single-command parser and the plot worker), gave these two files: every verdict, estimate and interval."""
    with drawing.Painter(2) as painter:
        build_report([with_records], [tmp_path / "no-asv"], tmp_path / "out", this_machine=HERE, painter=painter)
    for name in ("claims.csv", "verdict.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (BEFORE / name).read_bytes(), name
