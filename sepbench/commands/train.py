"""``sepbench train``: the trained weights every backend's benchmarks share, trained once and cached.

The fastest available trainer (:func:`sepbench.training.trainers.shared_trainer`) trains each model
that is not in the cache on the full 60,000 MNIST training images with the recipe, showing a
progress bar with its ETA; weights already cached are reused.  ``nox -s bench`` runs it first
(unless ``--no-train``), so the benchmarks measure trained weights and answer the accuracy claim.
"""

from __future__ import annotations

import argparse

from sepbench.commands.arg_types import MAX_SEED, MAX_THREADS, NameList, int_in
from sepbench.core.pairs import Pair
from sepbench.util.console import print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train and cache the weights the benchmarks share (once; cached weights are reused)")
    p.add_argument(
        "--models", nargs="+", action=NameList, default=None, help="models, comma- or space-separated (default: the models of --pairs)"
    )
    p.add_argument(
        "--pairs",
        nargs="+",
        action=NameList,
        default=None,
        help="pairs (names or .toml files), comma- or space-separated, whose models to train (default: what the bench decides)",
    )
    p.add_argument("--seed", type=int_in(0, MAX_SEED), default=0, help="initial-weights and batch-order seed (default 0)")
    p.add_argument("--threads", type=int_in(1, MAX_THREADS), default=None, help="compute threads (default: all usable cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from sepbench.core.pairs import select_pairs
    from sepbench.machine.threads import configure_threads
    from sepbench.training.trainers import shared_trainer
    from sepbench.training.weights_cache import cache_path, load_trained_weights, train_and_cache

    if args.pairs == []:
        raise ValueError("--pairs names no pair (give e.g. study,spatial)")
    pairs = select_pairs(args.pairs)  # each carries its models, recipe and data (None: the bench's)
    if args.models is None:  # a synthetic pair has nothing to train on
        names = list(dict.fromkeys(m for p in pairs if not p.synthetic for m in p.model_names))
    else:
        names = list(args.models)
    if not names and args.models is not None:
        raise ValueError("--models names no model (give e.g. regular,separable)")
    if not names:
        raise ValueError("the pairs have no model to train (synthetic input only): give --models or a pair with labelled data")
    jobs = {j[0]: j for j in (_train_job(m, pairs) for m in names)}  # name -> (name, its pair or None); unknown names: a clear error
    models = list(jobs)
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    from sepbench.training.trainer_choice import choose_trainer

    configure_threads(args.threads, [])  # BLAS now; the chosen trainer's framework below
    choice = choose_trainer()
    trainer = shared_trainer()
    configure_threads(args.threads, [trainer])
    probe = ", ".join(f"{k} {v * 1000:.1f} ms/step" for k, v in choice.seconds_per_step.items())
    print(f"trainer: {trainer} ({choice.reason}{'; ' + probe if probe else ''})")
    missing = [m for m in models if load_trained_weights(m, trainer, args.seed, pair=jobs[m][1]) is None]
    workers = _workers(args.threads, len(missing))
    if workers > 1:  # one model per free core, one thread each: these small models train no faster on two threads
        print(f"training {len(missing)} models in {workers} processes at 1 thread each")
        _train_in_parallel([jobs[m] for m in missing], trainer, args.seed, workers)
    rows = []
    for model in models:
        weights = train_and_cache(model, trainer, seed=args.seed, progress=not args.no_progress, pair=jobs[model][1])
        seconds = weights.meta.get("train_seconds")
        rows.append(
            (
                model,
                trainer,
                "cached" if model not in missing else f"trained in {seconds:.0f} s" if seconds else "trained",
                str(cache_path(model, trainer, args.seed, pair=jobs[model][1])),
            )
        )
    print_table(f"trained weights (seed {args.seed}), shared by every backend", ["model", "trainer", "how", "file"], rows)
    return 0


def _workers(threads: int | None, missing: int) -> int:
    """Processes to train ``missing`` models in: one per core other processes leave free (measured), at
    most one per model; 1 when ``--threads`` fixes the threads."""
    if threads is not None or missing < 2:
        return 1
    from sepbench.machine.cpu_share import probe_free_cores

    return max(1, min(missing, probe_free_cores().threads))


def _train_job(model: str, pairs: list[Pair]) -> tuple[str, Pair | None]:
    """A model to train by name: the first selected pair's with labelled data that has it, else a built-in model
    (:class:`~sepbench.core.spec.UnknownModelError` listing the known ones for any other name)."""
    from sepbench.core.spec import get_model_spec

    pair = next((p for p in pairs if not p.synthetic and model in p.model_names), None)
    return (model, pair) if pair is not None else (get_model_spec(model).name, None)


def _train_one(model: str, trainer: str, seed: int, pair: Pair | None) -> tuple[str, float | None]:
    from sepbench.machine.threads import configure_threads
    from sepbench.training.weights_cache import train_and_cache

    configure_threads(1, [trainer])
    weights = train_and_cache(model, trainer, seed=seed, progress=False, pair=pair)
    return model, weights.meta.get("train_seconds")


def _train_in_parallel(jobs: list[tuple[str, Pair | None]], trainer: str, seed: int, workers: int) -> None:
    """Train each (model, its pair) of ``jobs`` in ``workers`` fresh processes (spawned: no framework state is
    inherited; the pair travels with its model), the longest-training first; each writes its own cache file atomically."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from sepbench.core.pairs import model_spec

    order = sorted(jobs, key=lambda j: -model_spec(*j).macs)  # more MACs, longer training: start it first
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_train_one, m, trainer, seed, p) for m, p in order]
        for done in as_completed(futures):
            model, seconds = done.result()
            print(f"  trained {model}" + (f" in {seconds:.0f} s" if seconds else ""), flush=True)
