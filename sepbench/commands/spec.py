"""``sepbench spec``: each model's layers, output shapes, parameters and MACs, and a pair's ratios."""

from __future__ import annotations

import argparse

from sepbench.core.linearity import affine_collapse
from sepbench.core.pairs import PAIRS, STUDY_PAIR, Pair, get_pair
from sepbench.core.spec import ModelSpec, described_model_spec
from sepbench.util.console import fmt_int, fmt_shape, print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("spec", help="print the models (like Keras summary(), plus MACs) and a pair's candidate/baseline ratios")
    p.add_argument("models", nargs="*", default=[], help="models to show (default: the pair's two)")
    p.add_argument(
        "--pair",
        default=None,
        metavar="NAME|FILE",
        help=f"a built-in pair ({', '.join(PAIRS)}) or a pair file (.toml, see examples/pairs/); default: {STUDY_PAIR.name}",
    )
    return p


def run(args: argparse.Namespace) -> int:
    pair = get_pair(args.pair) if args.pair else STUDY_PAIR
    # a model by name: the pair's own where it has one of that name, else a built-in one
    specs = [pair.model(m) if m in pair.model_names else described_model_spec(m) for m in args.models] or list(pair.models)
    for spec in specs:
        print_model(spec)
    if not args.models or {s.name for s in specs} >= {m.name for m in pair.models}:
        print_ratios(pair)
    return 0


def print_model(spec: ModelSpec) -> None:
    """One model as Keras's ``summary()`` prints it, with the MACs per image of each layer."""
    rows = [(f"{r.name} ({r.kind})", fmt_shape(r.output_shape), fmt_int(r.params), fmt_int(r.macs)) for r in spec.summary()]
    rows.append(("total", fmt_shape(spec.output_shape), fmt_int(spec.params), fmt_int(spec.macs)))
    print_table(
        f'Model "{spec.name}"' + (f": {spec.description}" if spec.description else "") + f"; input {fmt_shape(spec.input_shape)}",
        ["Layer (type)", "Output shape", "Param #", "MACs / image"],
        rows,
    )
    print(linearity_note(spec))


def linearity_note(spec: ModelSpec) -> str:
    """One sentence: whether the model has a nonlinearity between its layers, else the affine map it is."""
    flat = affine_collapse(spec)
    if flat is None:
        return f'Model "{spec.name}" has a nonlinearity (relu) between its layers: it is no single affine map.'
    return (
        f'Model "{spec.name}" has no nonlinearity between its layers: it is one affine map {fmt_int(flat.inputs)} -> '
        f"{fmt_int(flat.outputs)}{' before its softmax' if spec.layers[-1].activation == 'softmax' else ''} "
        f"({fmt_int(flat.params)} parameters, {fmt_int(flat.macs)} MACs / image; the layers hold {fmt_int(spec.params)} "
        f"and do {fmt_int(spec.macs)}): as accurate as a linear classifier, at best."
    )


def print_ratios(pair: Pair) -> None:
    base, cand = pair.baseline, pair.candidate
    rows = [
        (what, fmt_int(getattr(base, attr)), fmt_int(getattr(cand, attr)), f"{pair.ratio(attr):.3f}")
        for what, attr in (("parameters", "params"), ("MACs / image", "macs"), ("float32 bytes", "float32_bytes"))
    ]
    data = {"mnist": "MNIST", "synthetic": "synthetic input (speed and size only)"}.get(pair.data) or (
        f"the pair's files, sha256 verified: {pair.files.describe()}" if pair.files is not None else pair.data
    )
    print_table(f'pair "{pair.name}": {cand.name} / {base.name}; data: {data}', ["", base.name, cand.name, "ratio"], rows)
