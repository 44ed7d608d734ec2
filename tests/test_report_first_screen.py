"""What a reader sees first, in Debian's headless Chromium at a laptop's 1366 x 768: the headline and the
start of the verdict table on the first screen, each outcome its own colour class (and its word), and the
forest plot of the verdict present, at most 1,600 pixels wide, one row per path.

Built from pytest-benchmark files in the suite's format (tests/test_report_verdict.py) and the recorded
paired records of a real `nox -s bench` (tests/data/paired_records.json), renamed to this test's machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sepbench.core.claims import OUTCOMES
from sepbench.report.forest import MAX_WIDTH_PX
from sepbench.report.palette import css_class
from tests.browser import dump_dom, require_chromium
from tests.test_report_verdict import HERE, two_machines  # noqa: F401 (a fixture)

SCREEN = (1366, 768)
RECORDED = Path(__file__).parent / "data" / "paired_records.json"

PROBE = """<script>
window.addEventListener("load", function () {
  var head = document.getElementById("headline").getBoundingClientRect();
  var table = document.querySelector("table.verdict");
  var firstRow = table.querySelector("tbody tr:not(.group)").getBoundingClientRect();
  var cells = Array.prototype.map.call(table.querySelectorAll("td[data-outcome]"), function (td) {
    return {outcome: td.getAttribute("data-outcome"), cls: td.className, word: td.querySelector("b").textContent,
            colour: getComputedStyle(td).backgroundColor};
  });
  var img = document.querySelector("img[data-plot=forest]");
  var out = document.createElement("pre"); out.id = "probe";
  out.textContent = JSON.stringify({
    headBottom: head.bottom, headText: document.getElementById("headline").innerText,
    tableTop: table.getBoundingClientRect().top, firstRowBottom: firstRow.bottom, cells: cells,
    img: img && {natural: img.naturalWidth, naturalHeight: img.naturalHeight, shown: img.getBoundingClientRect().width,
                 rows: Number(img.getAttribute("data-rows"))}
  });
  document.body.appendChild(out);
});
</script></body>"""


@pytest.fixture
def with_records(two_machines: Path) -> Path:  # noqa: F811 (the imported fixture)
    doc = json.loads(RECORDED.read_text())
    for r in doc["records"]:
        r["identity"]["machine"] = HERE
    folder = two_machines / "bench" / "records" / HERE
    folder.mkdir(parents=True)
    (folder / "recorded.json").write_text(json.dumps(doc))
    return two_machines


def test_first_screen_holds_the_headline_and_the_verdict_and_the_forest_plot_fits(with_records: Path, tmp_path: Path) -> None:
    from sepbench.report.build import build_report

    report = build_report([with_records], [tmp_path / "no-asv"], tmp_path / "out", this_machine=HERE)
    top = report.headline
    assert top.where.startswith(f"On {HERE}, 2 threads") and 3 <= len(top.sentences) <= 5, top
    assert top.sentences[0].startswith("Smaller: yes") and any(s.startswith("Trains faster: NO") for s in top.sentences)
    chromium = require_chromium("the first screen")
    page = tmp_path / "out" / "probe.html"
    page.write_text(report.files["index.html"].read_text().replace("</body>", PROBE))
    dom = dump_dom(chromium, page.as_uri(), tmp_path / "profile", window=SCREEN)
    start = dom.index('<pre id="probe">') + len('<pre id="probe">')
    seen = json.loads(dom[start : dom.index("</pre>", start)].replace("&quot;", '"').replace("&amp;", "&"))

    # the answer and the start of the table above the fold
    assert seen["headBottom"] <= SCREEN[1] and top.sentences[0] in seen["headText"], seen
    assert seen["tableTop"] < SCREEN[1] and seen["firstRowBottom"] <= SCREEN[1], seen

    # each outcome: its own class, its word printed, its own colour
    by_outcome: dict[str, set[tuple[str, str]]] = {}
    for c in seen["cells"]:
        assert c["outcome"] in OUTCOMES and css_class(c["outcome"]) in c["cls"].split() and c["word"] == c["outcome"], c
        by_outcome.setdefault(c["outcome"], set()).add((css_class(c["outcome"]), c["colour"]))
    assert {"yes", "NO", "tie", "inconclusive", "not measured"} <= set(by_outcome), by_outcome
    assert all(len(v) == 1 for v in by_outcome.values())  # one class and one colour per outcome
    assert len({next(iter(v)) for v in by_outcome.values()}) == len(by_outcome)  # and no two outcomes share them
    assert len({next(iter(v))[1] for v in by_outcome.values()}) == len(by_outcome)

    # the forest plot: present, fits a laptop, one row per path of the largest pair on this machine
    img = seen["img"]
    assert img is not None and 0 < img["natural"] <= MAX_WIDTH_PX and img["shown"] <= MAX_WIDTH_PX, img
    raw = report.sections["verdict"].raw
    ours = raw[raw["machine"].eq(HERE)]
    assert img["rows"] == ours.groupby("pair")["backend"].nunique().max() == 3, img
    assert img["naturalHeight"] >= img["rows"] * 20  # each row has room (0.24 in at 100 dpi = 24 px)
