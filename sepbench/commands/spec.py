"""``sepbench spec``: each model's layers, output shapes, parameters and MACs, and the ratios."""

from __future__ import annotations

import argparse

from sepbench.core.spec import MODELS, get_model_spec
from sepbench.util.console import fmt_int, fmt_shape, print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("spec", help="print the models (like Keras summary(), plus MACs) and separable/regular ratios")
    p.add_argument("models", nargs="*", default=list(MODELS), help=f"models to show (default: {' '.join(MODELS)})")
    return p


def run(args: argparse.Namespace) -> int:
    specs = [get_model_spec(m) for m in args.models]
    for spec in specs:
        rows = [(f"{r.name} ({r.kind})", fmt_shape(r.output_shape), fmt_int(r.params), fmt_int(r.macs)) for r in spec.summary()]
        rows.append(("total", fmt_shape(spec.output_shape), fmt_int(spec.params), fmt_int(spec.macs)))
        print_table(
            f'Model "{spec.name}": {spec.description}; input {fmt_shape(spec.input_shape)}',
            ["Layer (type)", "Output shape", "Param #", "MACs / image"],
            rows,
        )
    names = {s.name for s in specs}
    if {"regular", "separable"} <= names:
        reg, sep = MODELS["regular"], MODELS["separable"]
        rows = [
            ("parameters", fmt_int(reg.params), fmt_int(sep.params), f"{sep.params / reg.params:.3f}"),
            ("MACs / image", fmt_int(reg.macs), fmt_int(sep.macs), f"{sep.macs / reg.macs:.3f}"),
            ("float32 bytes", fmt_int(reg.float32_bytes), fmt_int(sep.float32_bytes), f"{sep.float32_bytes / reg.float32_bytes:.3f}"),
        ]
        print_table("separable / regular", ["", "regular", "separable", "ratio"], rows)
    return 0
