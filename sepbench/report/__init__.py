"""The comparison report: results (reproduce JSON, pytest-benchmark JSON, ASV results) -> pandas ->
``reports/`` (index.html, report.md, CSV, PNG).

This package only reads result files: it never imports ``impls/`` nor any framework, so a report
can be built on a machine without TensorFlow or PyTorch.  Entry point: :func:`build.build_report`.
"""

from __future__ import annotations

__all__ = ["build_report", "NoResultsError"]


def __getattr__(name: str):  # lazy: importing the package stays cheap (no matplotlib until needed)
    if name in __all__:
        from sepbench.report import build

        return getattr(build, name)
    raise AttributeError(name)
