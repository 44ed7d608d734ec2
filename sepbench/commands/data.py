"""``sepbench data``: find and verify the MNIST files (optionally download them into the cache)."""

from __future__ import annotations

import argparse

from sepbench.util.console import fmt_int, print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "data",
        help="locate and verify MNIST (search order: --data-dir, $SEPBENCH_MNIST_DIR, cache, "
        "download from $SEPBENCH_MNIST_MIRRORS or the usual mirrors)",
    )
    p.add_argument("--data-dir", help="directory holding the four MNIST .gz files")
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--download",
        action="store_const",
        const=True,
        dest="download",
        default=None,
        help="download into the user cache if not found, even where SEPBENCH_OFFLINE is set (checksums verified)",
    )
    how.add_argument(
        "--offline",
        action="store_const",
        const=False,
        dest="download",
        help="never download (default: download if not found, unless SEPBENCH_OFFLINE=1)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from sepbench.core.data import FILES, find_mnist_dir, load_mnist_raw

    directory = find_mnist_dir(args.data_dir, download=args.download)
    rows = []
    for split in ("train", "test"):
        images, labels = load_mnist_raw(split, directory)
        hist = np.bincount(labels, minlength=10)
        rows.append((split, fmt_int(len(images)), f"{images.shape[1]}x{images.shape[2]}", f"{hist.min():,}..{hist.max():,}", "ok"))
    print(f"MNIST directory: {directory}")
    print_table(
        "MNIST (md5 verified: " + ", ".join(f.name for f in FILES.values()) + ")",
        ["split", "images", "size", "per-class count", "md5"],
        rows,
    )
    return 0
