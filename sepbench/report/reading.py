"""The verdict table for reading: where it was measured once in a caption, rows grouped by pair (and
machine), each cell the outcome as a word and a colour class, and every note once, as a numbered footnote.

Built from the verdict records (:class:`~sepbench.report.decided.Decided`), rendered to HTML (jinja2,
escaped), Markdown (:func:`~sepbench.util.neutralise.markdown_text`) and terminal rows; the CSV keeps
one row per machine, pair and path (:mod:`sepbench.report.sections.verdict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import jinja2

from sepbench.core.claims import CLAIMS, Verdict
from sepbench.core.pairs import PAIRS
from sepbench.report.decided import STUDY_MACHINE, PathVerdicts
from sepbench.report.palette import css_class
from sepbench.util.neutralise import markdown_text, terminal


@dataclass(frozen=True)
class Cell:
    """One verdict as shown: ``outcome`` (its word and colour), ``text`` (estimate, interval, count) and the
    numbers of its ``notes`` among the view's footnotes."""

    outcome: str
    text: str
    notes: tuple[int, ...]

    @property
    def css(self) -> str:
        return css_class(self.outcome)


@dataclass(frozen=True)
class Group:
    """The rows of one pair (on one machine): ``title`` heads them; each row is (path, cells in CLAIMS order)."""

    title: str
    rows: tuple[tuple[str, tuple[Cell, ...]], ...]


@dataclass(frozen=True)
class VerdictView:
    caption: str
    columns: tuple[str, ...]
    groups: tuple[Group, ...]
    footnotes: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        return sum(len(g.rows) for g in self.groups)

    def html(self) -> str:
        return _HTML.render(v=self)

    def markdown(self) -> str:
        """One Markdown table (a bold row heads each group), then the footnotes."""
        head = ["| " + " | ".join(markdown_text(c) for c in self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines = [f"_{markdown_text(self.caption)}_", "", *head]
        for g in self.groups:
            lines.append(f"| **{markdown_text(g.title)}** |" + " |" * (len(self.columns) - 1))
            for path, cells in g.rows:
                lines.append("| " + " | ".join([markdown_text(path), *(_md_cell(c) for c in cells)]) + " |")
        if self.footnotes:
            lines += ["", *(f"{i}. {markdown_text(n)}" for i, n in enumerate(self.footnotes, 1))]
        return "\n".join(lines)

    def terminal_rows(self) -> list[list[str]]:
        """Rows for a console table: the group title alone on its row, then its paths (text, no colour codes)."""
        out: list[list[str]] = []
        for g in self.groups:
            out.append([terminal(g.title), *([""] * (len(self.columns) - 1))])
            for path, cells in g.rows:
                out.append([terminal(path), *(terminal(_plain(c)) for c in cells)])
        return out


def _plain(c: Cell) -> str:
    marks = "".join(f"[{n}]" for n in c.notes)
    return f"{c.outcome} {c.text}".strip() + (f" {marks}" if marks else "")


def _md_cell(c: Cell) -> str:
    marks = "".join(f"[{n}]" for n in c.notes)
    return f"**{markdown_text(c.outcome)}** {markdown_text(c.text)}".strip() + (f" {marks}" if marks else "")


_HTML = jinja2.Environment(autoescape=True).from_string(
    """<table class="report verdict"><caption>{{ v.caption }}</caption>
<thead><tr>{% for c in v.columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead>
{% for g in v.groups %}<tbody data-group="{{ g.title }}">\
<tr class="group"><th colspan="{{ v.columns | length }}" scope="rowgroup">{{ g.title }}</th></tr>
{% for path, cells in g.rows %}<tr><th scope="row">{{ path }}</th>\
{% for c in cells %}<td class="outcome {{ c.css }}" data-outcome="{{ c.outcome }}">\
<b>{{ c.outcome }}</b> {{ c.text }}{% for n in c.notes %}<sup><a href="#note-{{ n }}">{{ n }}</a></sup>{% endfor %}</td>{% endfor %}</tr>
{% endfor %}</tbody>
{% endfor %}</table>
{% if v.footnotes %}<ol class="footnotes note">\
{% for n in v.footnotes %}<li id="note-{{ loop.index }}">{{ n }}</li>{% endfor %}</ol>{% endif %}"""
)


def _shown(v: Verdict, threads: int | None) -> Verdict:
    """The verdict without the threads the caption already names (one count for the whole table)."""
    if threads is not None and v.figures.get("threads") == threads:
        return replace(v, figures={k: x for k, x in v.figures.items() if k != "threads"})
    return v


def _text(v: Verdict) -> str:
    """The cell after its outcome word: estimate, interval and count (the note goes to a footnote)."""
    return " ".join(filter(None, ["(busy machine)" if v.busy else "", v.detail()]))


def _pair_title(pair: str) -> str:
    p = PAIRS.get(pair)
    return f"{pair}: {p.model_names[1]} vs {p.model_names[0]}" if p is not None else pair


def view(rows: Sequence[PathVerdicts], caption: str, threads: int | None = None, by_machine: bool = False) -> VerdictView:
    """``rows`` for reading, grouped by pair (by machine and pair where ``by_machine``) in their order; the
    study's published row is its own group.  ``threads``: the threads the caption names, left out of cells."""
    notes: dict[str, int] = {}
    groups: dict[str, list[tuple[str, tuple[Cell, ...]]]] = {}
    for r in rows:
        if r.machine == STUDY_MACHINE:
            title = "the study (published figures, one run each)"
        else:
            title = (f"{r.machine}, " if by_machine else "") + _pair_title(r.pair)
        cells = []
        for c in CLAIMS:
            v = r.of(c.key)
            if v is None:
                cells.append(Cell("", "", ()))
                continue
            marks = (notes.setdefault(v.note, len(notes) + 1),) if v.note else ()
            cells.append(Cell(v.outcome, _text(_shown(v, threads)), marks))
        groups.setdefault(title, []).append((r.variant, tuple(cells)))
    columns = ("backend path", *(c.column for c in CLAIMS))
    return VerdictView(caption, columns, tuple(Group(t, tuple(rs)) for t, rs in groups.items()), tuple(notes))
