"""The layers, enforced: a module may import only from its own layer and the layers below it.

Every import counts, including those inside functions (a lazy import is still a dependency).
The picture is in ``docs/architecture.md``; this table is its executable form.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from impls.registry import framework_packages

REPO = Path(__file__).resolve().parent.parent

UTIL, CORE, IMPLS, MACHINE = "sepbench.util", "sepbench.core", "impls", "sepbench.machine"
TRAINING, MEASURE, RESULTS = "sepbench.training", "sepbench.measure", "sepbench.results"
BENCH, ASV, REPORT, CLI = "sepbench.bench", "sepbench.asv", "sepbench.report", "sepbench.cli"
CHECKS = "sepbench.checks"  # the A/B check and the checks' rates: its worker runs a commit's own measure layer
SUITE = "benchmarks"  # the ASV suite

# layer -> the layers it may import (besides itself); anything outside sepbench/impls is free
ALLOWED: dict[str, set[str]] = {
    UTIL: set(),
    CORE: {UTIL},
    IMPLS: {CORE, UTIL},
    RESULTS: {CORE, UTIL},
    MACHINE: {IMPLS, CORE, UTIL},
    TRAINING: {MACHINE, RESULTS, IMPLS, CORE, UTIL},
    MEASURE: {TRAINING, MACHINE, RESULTS, IMPLS, CORE, UTIL},
    BENCH: {MEASURE, TRAINING, MACHINE, RESULTS, IMPLS, CORE, UTIL},
    ASV: {MACHINE, RESULTS, CORE, UTIL},
    CHECKS: {BENCH, MEASURE, MACHINE, RESULTS, IMPLS, CORE, UTIL},
    REPORT: {RESULTS, CORE, UTIL},
    SUITE: {BENCH, MEASURE, TRAINING, MACHINE, IMPLS, CORE, UTIL},
    CLI: {BENCH, ASV, CHECKS, REPORT, MEASURE, TRAINING, MACHINE, RESULTS, IMPLS, CORE, UTIL},
}
# every registered backend's framework (NumPy is everyone's), what they pull in, and the fast paths' compilers
FRAMEWORKS = (*(p for p in framework_packages() if p != "numpy"), "keras", "tflite_runtime", "onnx", "nncf", "numba", "halide")


def layer_of(module: str) -> str | None:
    if module == "sepbench.__main__" or module.startswith(("sepbench.cli", "sepbench.commands")):
        return CLI
    for layer in ALLOWED:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported module, at module level) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
            out += [(node.lineno, n, id(node) in top) for n in names]
    return out


def source_files() -> list[Path]:
    files = [p for d in ("sepbench", "impls", "benchmarks") for p in sorted((REPO / d).rglob("*.py"))]
    assert len(files) > 40, "the tree was not found"
    return files


def test_every_module_belongs_to_a_layer():
    stray = [str(p.relative_to(REPO)) for p in source_files() if layer_of(module_name(p)) is None and module_name(p) != "sepbench"]
    assert not stray, f"modules outside every layer (add them to a layer folder): {stray}"


def test_no_lower_layer_imports_a_higher_one():
    bad = []
    for path in source_files():
        here = layer_of(module_name(path))
        for line, target, _ in imports_of(path):
            there = layer_of(target)
            if here is None or there is None or there == here:
                continue
            if there not in ALLOWED[here]:
                bad.append(f"{path.relative_to(REPO)}:{line} ({here}) imports {target} ({there})")
    assert not bad, "layering broken:\n" + "\n".join(bad)


def test_frameworks_are_imported_only_inside_impls_or_lazily():
    """Only ``impls/`` imports a framework at module level: a missing framework costs only its backend."""
    bad = []
    for path in source_files():
        if layer_of(module_name(path)) == IMPLS:
            continue
        for line, target, top in imports_of(path):
            if top and target.split(".")[0] in FRAMEWORKS:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {target} at module level")
    assert not bad, "\n".join(bad)


def test_no_private_names_cross_a_module():
    """``from x import _private`` across modules couples one module to another's internals."""
    bad = []
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("sepbench", "impls"):
                bad += [
                    f"{path.relative_to(REPO)}:{node.lineno} {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "bad_import, layer", [("impls.registry", REPORT), ("sepbench.report.build", CORE), ("sepbench.measure.workloads", IMPLS)]
)
def test_the_check_catches_a_violation(tmp_path, bad_import, layer):
    """The rule table itself rejects the imports the design forbids."""
    assert layer_of(bad_import) not in ALLOWED[layer]


MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60  # a module or function past these has more than one job: split it


def test_no_module_is_over_400_lines_and_no_function_over_60() -> None:
    long = []
    for path in [*source_files(), REPO / "noxfile.py"]:
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(REPO)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                long.append(f"{rel}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, long
