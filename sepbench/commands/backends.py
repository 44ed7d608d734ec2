"""``sepbench backends``: which backends are available here, and why the others are not."""

from __future__ import annotations

import argparse

from sepbench.util.console import print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser("backends", help="list the backends, their versions, and why any is unavailable")


def run(args: argparse.Namespace) -> int:
    from impls.registry import backend_names, get_backend, unavailable_reason

    rows = []
    for name in backend_names():
        reason = unavailable_reason(name)
        if reason is None:
            versions = ", ".join(f"{k} {v}" for k, v in get_backend(name).versions().items())
            rows.append((name, "yes", versions))
        else:
            rows.append((name, "no", reason))
    print_table("Backends", ["backend", "available", "versions / reason"], rows, right_from=99)
    return 0
