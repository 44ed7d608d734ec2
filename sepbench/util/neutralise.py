"""Text from input (machine names, commits, file names, notes of result files, pair files) made harmless for
the place it lands: a spreadsheet cell, a Markdown page GitHub renders, a terminal, a plot label.

- **CSV** (OWASP's advice on formula injection): a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return is prefixed with ``'``, which spreadsheets show and never evaluate.
- **Markdown**: HTML's ``& < >`` become entities and the brackets of links and images, a cell's ``|`` and
  ``\\`` are backslash-escaped, so ``<img onerror=...>`` or ``[x](javascript:...)`` is shown, not rendered.
- **Terminal**: control characters (ESC sequences, C1 controls, a lone carriage return) are shown as
  ``\\x1b``-style escapes, and rich's markup is never parsed from such text (:func:`terminal_text`).
- **Plots**: matplotlib reads ``$...$`` as mathtext; the report's figures turn that off (``text.parse_math``).
"""

from __future__ import annotations

import re
from typing import Any

CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # tab and line feed stay (a table splits them itself)
_MD_SPECIAL = re.compile(r"([\\\[\]|])")  # a link or image needs [ ]; a cell ends at |; \ would undo an escape


def csv_cell(value: Any) -> Any:
    """A value for a CSV cell: text that a spreadsheet would read as a formula gets a leading ``'``, control
    characters are shown as escapes."""
    if not isinstance(value, str):
        return value
    value = terminal(value)  # a CSV is also read with cat and less
    return "'" + value if value.startswith(CSV_TRIGGERS) else value


def csv_frame(df: Any) -> Any:
    """A copy of the DataFrame ``df`` with every text cell passed through :func:`csv_cell` (numbers stay numbers)."""
    import pandas as pd

    out = df.copy()
    for column in out.columns:  # any dtype: text can sit in an object, string or category column
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(csv_cell).astype(object)
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return out


def markdown_text(text: Any) -> str:
    """Text shown literally in Markdown: HTML escaped, link and image brackets and ``|`` backslash-escaped, on one line."""
    s = terminal(" ".join(str(text).split()))  # a .md file is also read with cat and less
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def terminal(text: Any) -> str:
    """Text a terminal prints as it is: each control character shown as an escape (``\\x1b``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def terminal_text(text: Any) -> Any:
    """A rich :class:`~rich.text.Text` of :func:`terminal` (rich prints it without reading markup)."""
    from rich.text import Text

    return Text(terminal(text))
