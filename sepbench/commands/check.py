"""``sepbench check CHECK``: the slowdown checks, one family, named by what each compares.

=============  ==========================================================  ===============================
check          compares                                                    run by
=============  ==========================================================  ===============================
``ab``         two commits, timed side by side now (interleaved rounds)     CI (``nox -s check-ab``)
``gate``       a pytest-benchmark run with a saved baseline run             ``nox -s bench -- --compare``
``asv``        two commits through ``asv continuous``                       ``nox -s check-asv``
``ab-rates``   measures ``ab``'s hit and false-alarm rates                  ``nox -s check-ab-rates``
``gate-rates`` measures ``gate``'s hit and false-alarm rates                by hand
=============  ==========================================================  ===============================

The names before this family (``alert``, ``gate``, ``regress``, ``alert-study``, ``gate-study``) still
run, saying where they moved (:data:`OLD_NAMES`): scripts and CI files written for them keep working.
"""

from __future__ import annotations

import argparse
import importlib
import sys

CHECKS: dict[str, str] = {  # check name -> its module in sepbench.commands
    "ab": "check_ab",
    "gate": "check_gate",
    "asv": "check_asv",
    "ab-rates": "check_ab_rates",
    "gate-rates": "check_gate_rates",
}
OLD_NAMES: dict[str, str] = {"alert": "ab", "gate": "gate", "regress": "asv", "alert-study": "ab-rates", "gate-study": "gate-rates"}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "check",
        help="the slowdown checks: ab (two commits now), gate (two saved runs), asv (asv continuous), and ab's / gate's rates",
        description="Slowdown checks, each exiting 1 on a confirmed slowdown: "
        "ab times two commits side by side; gate compares a pytest-benchmark run with a saved baseline; "
        "asv runs asv continuous between two commits; ab-rates and gate-rates measure the hit and false-alarm "
        "rates of ab and gate on commits of known slowdown.",
        epilog="Old names, still accepted: " + ", ".join(f"{old} = check {new}" for old, new in OLD_NAMES.items()) + ".",
    )
    checks = p.add_subparsers(dest="check", metavar="CHECK", required=True)
    for name, module_name in CHECKS.items():
        module = importlib.import_module(f"sepbench.commands.{module_name}")
        passthrough = getattr(module, "PASSTHROUGH", False)
        module.add_parser(checks, name).set_defaults(_run=module.run, _passthrough=passthrough, _name=f"check {name}")
    return p


def run(args: argparse.Namespace) -> int:  # pragma: no cover - argparse requires a CHECK, whose run replaces this
    raise SystemExit("sepbench check: name a check")


def rewrite_old_name(argv: list[str]) -> list[str]:
    """``argv`` with an old command name (``alert``, ``regress``, ...) replaced by ``check NAME``, saying so on stderr."""
    if argv and argv[0] in OLD_NAMES:
        new = OLD_NAMES[argv[0]]
        print(f"sepbench {argv[0]}: now `sepbench check {new}` (the old name still works)", file=sys.stderr)
        return ["check", new, *argv[1:]]
    return argv
