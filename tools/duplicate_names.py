"""Top-level names defined in more than one module of ``sepbench/`` and ``impls/`` (an AST scan).

A name counts as defined by a module when a top-level ``def``, ``class``, assignment or annotated
assignment binds it (imports are uses, not definitions).  Dunders and :data:`PROTOCOL` names are not
counted: each is one concept that many modules implement, looked up by that name.  ``--public`` leaves
out ``_private`` names too (they cannot cross: tests/test_layers.py forbids importing them).

    python tools/duplicate_names.py          # one line per name: the modules that define it
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sepbench", "impls")
# one meaning each, defined by every module of a kind on purpose: a registry looks the module's up by this name
# (BACKEND: impls/registry.py; train_model: TRAINER_MODULES; add_parser, run: sepbench/cli.py; main: a module
# run as a script, ``python -m``)
PROTOCOL = frozenset({"BACKEND", "train_model", "add_parser", "run", "main"})


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    names = []
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                names.append(n.id)
    return names


def top_level_names(path: Path) -> set[str]:
    """The names a module's top level binds (``if``/``try`` blocks at top level included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        found.update(_bound(node))
        if isinstance(node, ast.If | ast.Try):
            pending.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            for h in getattr(node, "handlers", []):
                pending.extend(h.body)
    return {n for n in found if not (n.startswith("__") and n.endswith("__"))}


def duplicate_names(root: Path = ROOT, private: bool = True) -> dict[str, list[str]]:
    """Name -> the modules (paths relative to ``root``) that define it, for names defined in two or more."""
    where: dict[str, list[str]] = defaultdict(list)
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            for name in top_level_names(path):
                if name in PROTOCOL or (not private and name.startswith("_")):
                    continue
                where[name].append(str(path.relative_to(root)))
    return {n: sorted(m) for n, m in sorted(where.items()) if len(m) > 1}


def main(argv: list[str]) -> int:
    public_only = "--public" in argv
    dups = duplicate_names(private=not public_only)
    for name, modules in dups.items():
        print(f"{name}: {', '.join(modules)}")
    print(f"{len(dups)} names defined in more than one module")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
