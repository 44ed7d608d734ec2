"""Write the report: index.html (self-contained: tables and base64 PNGs, works from file://),
report.md (tables + PNG links), one CSV per table.  Every write is atomic."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd

from sepbench.report.headline import Headline
from sepbench.report.palette import css
from sepbench.util.atomic import atomic_write_text
from sepbench.util.neutralise import csv_frame, markdown_text, terminal


@dataclass
class Section:
    """One table of the report: a title, a note under it, the raw frame (CSV) and its display form."""

    key: str  # file stem of the CSV
    title: str
    note: str
    raw: pd.DataFrame
    shown: pd.DataFrame | None  # None: CSV only (too long to show)
    view: Any = None  # its form for reading (sepbench.report.reading.VerdictView): shown instead of ``shown``, the note after it


@dataclass(frozen=True)
class Plot:
    """One PNG of the report: its ``title`` (caption and alt text), ``path`` and, for a forest plot, the most
    ``rows`` (paths) one of its panels has, stated on the page beside the image."""

    title: str
    path: Path
    rows: int | None = None


_ENV = jinja2.Environment(autoescape=True)
_ENV.filters["code"] = lambda text: markupsafe.Markup(_code(text))
HTML = _ENV.from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1250px; color: #222; }
table.report { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
table.report th, table.report td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
table.report th { background: #f0f0f0; }
table.report td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; font-size: 0.9em; max-width: 60em; }
.warn { color: #8a3b00; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
code { background: #f4f4f4; padding: 0 0.2em; }
h1 { font-size: 1.5em; margin: 0.2em 0; }
#headline { font-size: 1.05em; max-width: 70em; margin: 0.3em 0 0.6em; }
#headline .where { font-weight: 600; }
#headline .sentence { display: block; }
table.verdict caption { text-align: left; font-weight: 600; padding: 0.2em 0; }
table.verdict tr.group th { background: #f7f7f7; font-weight: 600; padding-top: 0.4em; }
table.verdict tbody th { font-weight: normal; white-space: nowrap; }
ol.footnotes { font-size: 0.85em; }
{{ outcome_css }}
</style></head>
<body data-report="sepbench">
<h1>{{ title }}</h1>
{% if headline %}<section id="headline"><p>{% if headline.where %}<span class="where">{{ headline.where }}</span> {% endif %}\
{% for s in headline.sentences %}<span class="sentence">{{ s }}</span> {% endfor %}</p></section>{% endif %}
<p class="note">Built {{ built }} from {{ n_files }} result file(s). Study: {{ study_source }}.
CSVs of every table sit beside this page.</p>
{% macro section(s) %}<section data-section="{{ s.key }}"><h2 id="{{ s.key }}">{{ s.title }}</h2>
{% if s.view %}{{ s.view | safe }}{% if s.note %}<p class="note legend">{{ s.note | code }}</p>{% endif %}
{% else %}{% if s.note %}<p class="note">{{ s.note | code }}</p>{% endif %}
{% if s.html and s.rows > 15 and s.key not in expanded %}<details><summary>{{ s.rows }} rows</summary>{{ s.html | safe }}</details>
{% elif s.html %}{{ s.html | safe }}{% endif %}{% endif %}
<p class="note"><a href="{{ s.key }}.csv">{{ s.key }}.csv</a></p></section>
{% endmacro %}
{% for s in lead %}{{ section(s) }}{% endfor %}
<h2 id="plots">Plots</h2>
{% for p in plots %}<figure><img alt="{{ p.title }}" data-plot="{{ p.stem }}"{% if p.rows %} data-rows="{{ p.rows }}"{% endif %}
 src="data:image/png;base64,{{ p.b64 }}">
<figcaption class="note">{{ p.title }}</figcaption></figure>
{% else %}<p class="note">No plots: nothing measured to plot.</p>{% endfor %}
{% for s in rest %}{{ section(s) }}{% endfor %}
{% if missing %}<h2>What is missing</h2><ul id="missing">{% for m in missing %}<li>{{ m | code }}</li>{% endfor %}</ul>{% endif %}
{% if warnings %}<h2>Skipped files</h2><ul id="warnings">{% for w in warnings %}<li class="warn">{{ w }}</li>{% endfor %}</ul>{% endif %}
<script>
// self-check, readable in the DOM: every table has rows and every image decoded (naturalWidth > 0)
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var tables = Array.prototype.slice.call(document.querySelectorAll("table.report"));
  var rows = tables.filter(function (t) { return t.querySelectorAll("tbody tr").length > 0; }).length;
  var first = tables.length ? tables[0].closest("[data-section]") : null;
  document.body.setAttribute("data-check", "images=" + ok + "/" + imgs.length + " tables=" + rows + "/" + tables.length
    + " first=" + (first ? first.getAttribute("data-section") : "none"));
});
</script>
</body></html>
"""
)


_NUMBER_CELL = re.compile(r"<td>([+-]?[\d.,]+(e[+-]?\d+)?( ms)?)</td>")


def _html_table(df: pd.DataFrame) -> str:
    """The table as HTML; number cells get class "num" (right-aligned), text stays left-aligned."""
    shown = df.map(lambda v: terminal(v) if isinstance(v, str) else v)  # escaped for HTML below; no control characters either
    html = shown.to_html(index=False, classes="report", border=0, na_rep="", escape=True)
    return _NUMBER_CELL.sub(r'<td class="num">\1</td>', html)


def _code(text: str) -> str:
    """Escape, then show `backticked` words as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", str(markupsafe.escape(text)))


def _md_cell(value: object) -> object:
    """A value as one Markdown table cell: a ``|`` or a line break from a result file (a backend's name)
    would end the cell or the row and write rows of its own, and HTML or a link in it would be rendered
    (:func:`sepbench.util.neutralise.markdown_text` shows it as text)."""
    if not isinstance(value, str):
        return value
    return markdown_text(value)


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(empty)_"
    safe = df.map(_md_cell)
    safe.columns = [_md_cell(str(c)) for c in df.columns]
    return safe.to_markdown(index=False, disable_numparse=True)


def _plot_item(p: Plot) -> dict[str, Any]:
    """What the page and report.md show of one plot: title, the PNG inline (base64), its file and rows."""
    b64 = base64.b64encode(p.path.read_bytes()).decode("ascii")
    return {"title": p.title, "b64": b64, "file": p.path.name, "stem": p.path.stem, "rows": p.rows}


def _shown_item(s: Section) -> dict[str, Any]:
    """What the page shows of one section: its table as HTML, or its view for reading where it has one."""
    return {
        "key": s.key,
        "title": s.title,
        "note": s.note,
        "rows": len(s.shown) if s.shown is not None else 0,
        "html": _html_table(s.shown) if s.shown is not None and s.view is None else "",
        "view": s.view.html() if s.view is not None else "",
    }


def write_outputs(
    out_dir: Path,
    title: str,
    built: str,
    study_source: str,
    n_files: int,
    sections: list[Section],
    plots: list[Plot],
    missing: list[str],
    warnings: list[str],
    lead: tuple[str, ...] = (),
    headline: Headline | None = None,
) -> dict[str, Path]:
    """Write CSVs, index.html and report.md into ``out_dir``; return the paths by name, the plots' among them.

    The page opens with the ``headline`` and the ``lead`` sections (the verdict), then the plots, then the other sections
    (long tables collapsed, never a lead one), then what is missing and what was skipped.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for s in sections:
        # a cell from a result file that a spreadsheet would evaluate (=, +, -, @) is written as text
        written[f"{s.key}.csv"] = atomic_write_text(out_dir / f"{s.key}.csv", csv_frame(s.raw).to_csv(index=False))
    shown = [_shown_item(s) for s in sections]
    plot_items = [_plot_item(p) for p in plots]
    html = HTML.render(
        title=title,
        built=built,
        study_source=study_source,
        n_files=n_files,
        missing=missing,
        warnings=warnings,
        lead=[s for s in shown if s["key"] in lead],
        rest=[s for s in shown if s["key"] not in lead],
        plots=plot_items,
        expanded=lead,  # the answer is never behind a click
        headline=headline,
        outcome_css=markupsafe.Markup(css()),  # built from the palette's constants, no input in it
    )
    written["index.html"] = atomic_write_text(out_dir / "index.html", html)
    md = _markdown(title, built, study_source, n_files, sections, plot_items, missing, warnings, lead, headline)
    written["report.md"] = atomic_write_text(out_dir / "report.md", md)
    for p in plots:
        written[p.path.name] = p.path
    return written


def _markdown(
    title: str,
    built: str,
    study_source: str,
    n_files: int,
    sections: list[Section],
    plot_items: list[dict[str, Any]],
    missing: list[str],
    warnings: list[str],
    lead: tuple[str, ...],
    headline: Headline | None = None,
) -> str:
    """report.md: the lead sections, the plots (links to the PNGs beside it), the rest, what is missing and what was skipped."""
    md = [f"# {title}", ""]
    if headline is not None:  # machine names come from result files: shown as text
        md += [markdown_text(headline.text()), ""]
    md += [f"Built {built} from {n_files} result file(s). Study: {study_source}.", ""]
    ordered = [s for s in sections if s.key in lead] + [None] + [s for s in sections if s.key not in lead]  # None: the plots
    for s in ordered:
        if s is None:
            md += ["## Plots", ""] + [f"![{p['title']}]({p['file']})" for p in plot_items] + [""]
            continue
        md += [f"## {s.title}", ""]
        if s.view is not None:  # the table for reading, its legend after it
            md += [s.view.markdown(), ""] + ([markdown_text(s.note), ""] if s.note else []) + [f"CSV: [{s.key}.csv]({s.key}.csv)", ""]
            continue
        md += [markdown_text(s.note), ""] if s.note else []  # a note may quote a rates file
        md += ([_md_table(s.shown), ""] if s.shown is not None else []) + [f"CSV: [{s.key}.csv]({s.key}.csv)", ""]
    if missing:
        md += ["## What is missing", "", *[f"- {markdown_text(m)}" for m in missing], ""]
    if warnings:  # they quote file names and values from the files
        md += ["## Skipped files", "", *[f"- {markdown_text(w)}" for w in warnings], ""]
    return "\n".join(md)
