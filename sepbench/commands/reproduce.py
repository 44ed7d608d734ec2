"""``sepbench reproduce``: train, evaluate and compare with the study (see :mod:`sepbench.training.reproduce`)."""

from __future__ import annotations

import argparse

from sepbench.commands.arg_types import MAX_EPOCHS, MAX_IMAGES, MAX_REPEATS, MAX_SEED, MAX_THREADS, NameList, int_in, output_file
from sepbench.core.pairs import STUDY_PAIR


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("reproduce", help="train both models in each backend and compare with the study's figures")
    p.add_argument(
        "--backends",
        nargs="+",
        action=NameList,
        default=None,
        help="backends, comma- or space-separated (default: all; unavailable ones are skipped with a reason)",
    )
    p.add_argument(
        "--models",
        nargs="+",
        action=NameList,
        default=list(STUDY_PAIR.model_names),
        help="models, comma- or space-separated (default: the study's two)",
    )
    p.add_argument("--epochs", type=int_in(1, MAX_EPOCHS), default=None, help="training epochs (default: the recipe's)")
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=0, help="seed of initial weights and batch order (default 0)")
    p.add_argument(
        "--seeds",
        type=int_in(1, MAX_REPEATS),
        default=1,
        help="also train each model with this many seeds (from --seed on) in the fastest trainer: accuracy and loss with "
        "95 %% intervals and the accuracy claim decided on the interval (default 1: off)",
    )
    p.add_argument(
        "--threads", type=int_in(1, MAX_THREADS), default=None, help="compute threads for every backend (default: all usable cores)"
    )
    p.add_argument(
        "--limit",
        type=int_in(1, MAX_IMAGES),
        default=None,
        help="train on the first N training images only (no caching; within the batch budget)",
    )
    p.add_argument(
        "--test-limit", type=int_in(1, MAX_IMAGES), default=None, help="evaluate on the first N test images only (within the batch budget)"
    )
    p.add_argument("--variant", default="keras3", help="recipe variant: keras3 (eps inside the root, default) or keras2 (eps outside)")
    p.add_argument(
        "--eval-repeats", type=int_in(1, MAX_REPEATS), default=3, help="timed evaluations per model (median reported; default 3)"
    )
    p.add_argument("--no-cache", action="store_true", help="train even when cached trained weights exist")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--output", type=output_file, default=None, help="also write the results JSON here")
    p.add_argument("--data-dir", default=None, help="MNIST directory (default: $SEPBENCH_MNIST_DIR, cache, download)")
    return p


def run(args: argparse.Namespace) -> int:
    from impls.registry import UnknownBackendError
    from sepbench.commands.reproduce_table import print_report
    from sepbench.results.schema import write_results
    from sepbench.training.reproduce import ReproduceOptions, default_output_path, run_reproduce
    from sepbench.util.atomic import check_writable

    opts = ReproduceOptions(
        backends=args.backends,
        models=args.models,
        seed=args.seed,
        seeds=args.seeds,
        epochs=args.epochs,
        threads=args.threads,
        limit=args.limit,
        test_limit=args.test_limit,
        variant=args.variant,
        eval_repeats=args.eval_repeats,
        use_cache=not args.no_cache,
        progress=not args.no_progress,
        data_dir=args.data_dir,
    )
    # outputs are checked (and the result file's name reserved) before any training: an unwritable
    # folder is said now, not after an hour of work
    if args.output is not None:
        check_writable(args.output)
    path = default_output_path()
    try:
        doc = run_reproduce(opts)
        print_report(doc)  # the table first: whatever happens to the files, the figures were shown
        write_results(path, doc)
    except UnknownBackendError as exc:
        path.unlink(missing_ok=True)
        raise ValueError(str(exc)) from None
    except BaseException:
        if path.exists() and path.stat().st_size == 0:
            path.unlink()  # the reserved name: no empty result file is left behind
        raise
    if args.output is not None:
        write_results(args.output, doc)
    print(f"results written to {path}" + (f" and {args.output}" if args.output else ""))
    return 0
