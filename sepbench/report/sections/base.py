"""What a report section is: a declaration (:class:`SectionSpec`) the report builds from its inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from sepbench.report.decided import Decided


@dataclass(frozen=True)
class Inputs:
    """Everything the sections are computed from (the loaded results), and what several sections (or a section
    and a plot) read, computed once per report on first use: :attr:`figures`, :attr:`decided` (every verdict),
    :attr:`matrix`, :attr:`latency` and :attr:`paired`."""

    df: pd.DataFrame  # the tidy measurements (sepbench.results.tidy columns)
    hist: pd.DataFrame  # ASV figures per commit (sepbench.report.sections.machines.history)
    described: pd.DataFrame  # each result file's machine description (sepbench.results.machines)
    rates: pd.DataFrame = field(default_factory=pd.DataFrame)  # the slowdown checks' rate files (sepbench.results.read_rates)
    records: tuple[Any, ...] = ()  # paired records (sepbench.results.paired_records.PairedRecord): speed estimated over processes

    @cached_property
    def figures(self) -> pd.DataFrame:
        """:func:`sepbench.results.verdict.figures` of :attr:`df` (the single figures the claims and tables read)."""
        from sepbench.results.verdict import figures

        return figures(self.df)

    @cached_property
    def decided(self) -> Decided:
        """Every verdict of the report, decided once (:func:`sepbench.report.decided.decide_all`)."""
        from sepbench.report.decided import decide_all

        return decide_all(self.df, self.records, self.figures)

    @cached_property
    def matrix(self) -> pd.DataFrame:
        """:func:`sepbench.report.sections.speed.matrix` of :attr:`df` (its table and the accuracy plot's)."""
        from sepbench.report.sections.speed import matrix

        return matrix(self.df, self.figures)

    @cached_property
    def paired(self) -> pd.DataFrame:
        """:func:`sepbench.results.paired.paired` of :attr:`df` (the paired section's table and the two roofs')."""
        from sepbench.results.paired import paired

        return paired(self.df)

    @cached_property
    def latency(self) -> pd.DataFrame:
        """:func:`sepbench.report.sections.speed.latency` of :attr:`df` (its table, the ratios' and the machines')."""
        from sepbench.report.sections.speed import latency

        return latency(self.df)


def keep_all(table: pd.DataFrame) -> pd.DataFrame:
    """A table shown as computed, empty cells blank."""
    return table.fillna("")


@dataclass(frozen=True)
class SectionSpec:
    """One section of the report, declared once: ``key`` (its CSV's stem), ``title``, ``note`` (a
    sentence, or a function of the raw table for a note that quotes it), ``table`` (the raw frame, from the
    inputs), ``shown`` (its display form; ``None``: CSV only), ``optional`` (left out when it has no rows),
    ``when`` (left out unless it holds for the inputs), ``lead`` (shown before the plots) and ``view`` (its
    form for reading, with ``html()`` and ``markdown()``, shown instead of ``shown`` with the note after it)."""

    key: str
    title: str
    note: str | Callable[[pd.DataFrame], str]
    table: Callable[[Inputs], pd.DataFrame]
    shown: Callable[[pd.DataFrame], pd.DataFrame] | None = keep_all
    optional: bool = False
    when: Callable[[Inputs], bool] | None = None
    lead: bool = False
    view: Callable[[Inputs], Any] | None = None
