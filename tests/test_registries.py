"""Every list written by hand agrees with the registry it copies.

Most lists are derived from their registry (``backend_names()``, ``LAYER_KINDS``, ``KIND_FIXTURES``);
these are the ones that cannot import it (JSON, Markdown, a docstring) or must name more than it
does (the packages a result records).  :func:`disagreements` compares each with its registry, and
the last test plants a disagreement in each kind of list to show the check sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from impls.registry import backend_names, distribution_name, framework_packages
from sepbench.asv.history import read_asv_conf
from sepbench.bench.cases import KIND_FIXTURES, Case
from sepbench.checks.ab_run import default_cases
from sepbench.core.spec import CONV_KINDS, LAYER_KINDS, WINDOW_KINDS
from sepbench.machine.provenance import PACKAGES
from tests.conftest import BACKENDS
from tests.test_layers import FRAMEWORKS

REPO = Path(__file__).resolve().parent.parent
# a pair file's spellings of other kinds (``_layer_specs`` in sepbench/core/pairs.py): pointwise_conv is a
# conv of kernel 1, a closing softmax the dense layer's activation
SPELLINGS = frozenset({"pointwise_conv", "softmax"})


def _schema_enums(schema: Mapping) -> tuple[list[str], list[list[str]]]:
    """The layer ``kind`` enum of the pair schema, and the kind enums of its conditional rules."""
    layer = schema["$defs"]["layer"]
    return layer["properties"]["kind"]["enum"], [rule["if"]["properties"]["kind"]["enum"] for rule in layer["allOf"]]


def hand_written_lists(
    schema: Mapping | None = None, asv_conf: Mapping | None = None, pairs_doc: str | None = None
) -> dict[str, tuple[Iterable[str], set[str], str]]:
    """name -> (the hand-written list, its registry's names, "equal" or "covers": the list holds every name)."""
    schema = schema if schema is not None else json.loads((REPO / "sepbench/core/pair.schema.json").read_text())
    asv_conf = asv_conf if asv_conf is not None else read_asv_conf(REPO / "asv.conf.json")
    pairs_doc = pairs_doc if pairs_doc is not None else (REPO / "docs/pairs.md").read_text()
    backends = set(backend_names())
    distributions = {distribution_name(p) for p in framework_packages()}
    kinds, rules = _schema_enums(schema)
    documented_kinds = set(re.findall(r"^\| `(\w+)`", pairs_doc, re.M))
    return {
        "tests/conftest.py BACKENDS": (BACKENDS, backends, "equal"),
        "sepbench/checks/ab_run.py default_cases() backends": ({c.backend for c in default_cases()}, backends, "equal"),
        "sepbench/machine/provenance.py PACKAGES": (PACKAGES, distributions, "covers"),
        "asv.conf.json matrix": (asv_conf["matrix"]["req"], distributions - {"tensorflow"} | {"tensorflow-cpu"}, "covers"),
        "tests/test_layers.py FRAMEWORKS": (FRAMEWORKS, set(framework_packages()) - {"numpy"}, "covers"),
        "sepbench/core/pair.schema.json layer kinds": (kinds, set(LAYER_KINDS) | SPELLINGS, "equal"),
        "pair.schema.json kinds needing filters and kernel": (rules[0], set(CONV_KINDS), "equal"),
        "pair.schema.json kinds needing a kernel only": (
            [k for r in rules[2:] for k in r if k in LAYER_KINDS],
            set(WINDOW_KINDS) - set(CONV_KINDS),
            "equal",
        ),
        "docs/pairs.md kinds table": (documented_kinds, set(LAYER_KINDS) | SPELLINGS, "covers"),
        "bench Case docstring kinds": (
            [k for k in KIND_FIXTURES if f'"{k}"' in (Case.__doc__ or "")],
            set(KIND_FIXTURES),
            "equal",
        ),
    }


def disagreements(lists: Mapping[str, tuple[Iterable[str], set[str], str]]) -> list[str]:
    """One line per list that disagrees with its registry: what it lacks, and (for "equal") what it adds."""
    out = []
    for name, (written, registry, rule) in lists.items():
        have = set(written)
        missing, extra = sorted(registry - have), sorted(have - registry) if rule == "equal" else []
        if missing or extra:
            out.append(f"{name}: lacks {missing}, adds {extra}")
    return out


def test_every_hand_written_list_agrees_with_its_registry() -> None:
    assert disagreements(hand_written_lists()) == []


def _first_rule_with(schema: dict, kind: str) -> list[str]:
    return next(
        r["if"]["properties"]["kind"]["enum"] for r in schema["$defs"]["layer"]["allOf"] if kind in r["if"]["properties"]["kind"]["enum"]
    )


@pytest.mark.parametrize(
    ("plant", "named"),
    [
        (lambda s, a, d: s["$defs"]["layer"]["properties"]["kind"]["enum"].remove("relu"), "layer kinds"),
        (lambda s, a, d: s["$defs"]["layer"]["properties"]["kind"]["enum"].append("maxpool"), "layer kinds"),
        (lambda s, a, d: _first_rule_with(s, "avg_pool").remove("avg_pool"), "a kernel only"),
        (lambda s, a, d: a["matrix"]["req"].pop("openvino"), "asv.conf.json"),
    ],
)
def test_a_planted_disagreement_fails_the_check(plant, named: str) -> None:
    schema = json.loads((REPO / "sepbench/core/pair.schema.json").read_text())
    asv_conf = read_asv_conf(REPO / "asv.conf.json")
    doc = (REPO / "docs/pairs.md").read_text()
    plant(schema, asv_conf, doc)
    found = disagreements(hand_written_lists(schema, asv_conf, doc))
    assert len(found) == 1 and named in found[0], found


def test_a_backend_missing_from_a_derived_list_is_seen() -> None:
    """The lists derived from the registry are still checked: a backend dropped from one shows."""
    lists = hand_written_lists()
    written, registry, rule = lists["tests/conftest.py BACKENDS"]
    lists["tests/conftest.py BACKENDS"] = ([b for b in written if b != "openvino"], registry, rule)
    lists["docs/pairs.md kinds table"] = (set(), *lists["docs/pairs.md kinds table"][1:])
    assert [line.split(":")[0] for line in disagreements(lists)] == ["tests/conftest.py BACKENDS", "docs/pairs.md kinds table"]


def test_every_name_defined_in_two_modules_is_argued_in_the_architecture_doc() -> None:
    """The AST scan's remaining duplicates are exactly the names docs/architecture.md argues for."""
    import sys

    sys.path.insert(0, str(REPO / "tools"))
    from duplicate_names import duplicate_names

    doc = (REPO / "docs/architecture.md").read_text().split("## Names defined in more than one module", 1)[1]
    argued = {n for row in doc.splitlines() if row.startswith("| `") for n in re.findall(r"`(\w+)`", row.split("|")[1])}
    found = set(duplicate_names(REPO, private=False))
    assert found == argued and len(found) <= 10, (sorted(found - argued), sorted(argued - found))
