"""Console tables (rich) shared by the commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from sepbench.util.neutralise import terminal_text


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], console: Console | None = None, right_from: int = 1
) -> None:
    """Print a table (under ``title``, if any); columns from index ``right_from`` on are right-aligned (numbers)."""
    # cells hold names and notes from files: shown as text (no rich markup read, control characters escaped)
    table = Table(title=terminal_text(title) if title else None, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(terminal_text(col), justify="right" if i >= right_from else "left")
    for row in rows:
        table.add_row(*(terminal_text("" if v is None else v) for v in row))
    (console or Console(width=160)).print(table)


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_shape(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape)
