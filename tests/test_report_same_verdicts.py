"""The report's build, one step after another in its own process: the verdicts it decided before it was made
faster, byte for byte, and a plot that fails leaves nothing half-built in the output."""

from __future__ import annotations

from pathlib import Path

import pytest

from sepbench.report.build import build_report
from tests.test_report_first_screen import with_records  # noqa: F401 (a fixture)
from tests.test_report_verdict import HERE, two_machines  # noqa: F401 (a fixture)

BEFORE = Path(__file__).parent / "data" / "report-247bbdb"  # claims.csv and verdict.csv as commit 247bbdb built them


def test_the_verdicts_are_those_the_report_decided_before_it_was_made_faster(with_records: Path, tmp_path: Path) -> None:  # noqa: F811
    """Issue 39: the report in less time, never another verdict.  The same inputs, built by commit 247bbdb (before the
    t table and the single-command parser), gave these two files: every verdict, estimate and interval."""
    report = build_report([with_records], [tmp_path / "no-asv"], tmp_path / "out", this_machine=HERE)
    assert {"forest.png", "forest_other_machines.png", "accuracy_params.png", "claims.csv", "verdict.csv"} <= set(report.files)
    for name in ("claims.csv", "verdict.csv"):
        assert (tmp_path / "out" / name).read_bytes() == (BEFORE / name).read_bytes(), name


def test_an_error_in_a_plot_is_raised_as_itself_and_leaves_nothing_in_the_output(with_records: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811
    from sepbench.report import plots

    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug in a plot")

    monkeypatch.setattr(plots, "accuracy_params_plot", broken)
    with pytest.raises(ZeroDivisionError, match="a bug in a plot"):
        build_report([with_records], [tmp_path / "no-asv"], tmp_path / "out", this_machine=HERE)
    # nothing half-built moved in, and no staging folder (.sepbench-build-*) or temporary file left behind
    assert [p.name for p in (tmp_path / "out").iterdir()] == []
