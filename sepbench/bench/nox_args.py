"""The options ``noxfile.py`` takes itself after ``--``: ``nox -s bench``'s ``--compare [NAME]``,
``--min-effect FRACTION``, ``--save-as NAME``, ``--fresh``, ``--processes 3,6,10`` and ``--budget SECONDS``
(the rest goes to pytest), and ``nox -s asv``'s ``--machine NAME``.

Standard library only (and :mod:`sepbench.bench.storage`): the noxfile imports it before any
virtualenv exists, so a bad option fails before the install.  Errors are :class:`NoxArgsError`,
whose message the noxfile passes to ``session.error``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from sepbench.bench.storage import NoSavedRunError, find_run, last_run_path

DEFAULT_MIN_EFFECT = 0.10  # the gate (sepbench check gate) fails on a confirmed slowdown beyond 10 %, or the case's own spread


class NoxArgsError(ValueError):
    """An option after ``--`` is malformed or names nothing; the message says what to pass."""


@dataclass(frozen=True)
class BenchArgs:
    """``nox -s bench -- ...`` resolved: the arguments for ``pytest tests/bench`` and the saved run
    file compared against (``None``: no comparison)."""

    pytest_args: list[str]
    compare: str | None
    train: bool = True  # run `sepbench train` first (the weights that are not cached)
    user_args: tuple[str, ...] = ()  # the user's own pytest options (the gate's confirmation re-run uses them)
    min_effect: float = DEFAULT_MIN_EFFECT
    fresh: bool = False  # --fresh: this run's paired records do not pool with earlier runs'
    schedule: tuple[int, ...] = ()  # --processes 3,6,10: processes per paired case, stage by stage (empty: the default)
    budget_s: float | None = None  # --budget SECONDS: what the extra processes may take in all (None: the default)
    saved_as: str | None = None  # --save-as NAME: a baseline for the gate


def _is_value(args: list[str]) -> bool:
    return bool(args) and not args[0].startswith("-")


def bench_args(posargs: Sequence[str], storage: str | os.PathLike[str], machine: str | None = None) -> BenchArgs:
    """Split ``nox -s bench -- ...`` into pytest arguments; resolve ``--compare`` to a saved run file in ``storage``.

    ``--compare`` looks only among the runs of ``machine`` (this machine's hardware name; ``None``: any).
    Every run is also written to ``<storage>/last-run.json``. It is autosaved unless ``--save-as NAME``
    names it or it is compared (a regressed run must not become the next baseline).  Weights that are
    not cached are trained first (``--train-missing``, once, then cached) unless ``--no-train`` is given:
    the main job answers the accuracy claim too.
    """
    args = list(posargs)
    out: list[str] = []
    compare: str | None = None
    min_effect = DEFAULT_MIN_EFFECT
    train = True
    fresh = False
    schedule: tuple[int, ...] = ()
    budget_s: float | None = None
    saved_as: str | None = None
    while args:
        arg = args.pop(0)
        if arg == "--no-train":
            train = False
        elif arg == "--fresh":
            fresh = True
        elif arg == "--processes" or arg.startswith("--processes="):
            schedule = _schedule(_value(arg, args))
        elif arg == "--budget" or arg.startswith("--budget="):
            budget_s = _seconds(_value(arg, args))
        elif arg == "--compare":
            name = args.pop(0) if _is_value(args) else None
            try:
                compare = str(find_run(storage, name, machine))
            except NoSavedRunError as exc:
                raise NoxArgsError(f"--compare: {exc}") from None
        elif arg in ("--min-effect", "--fail-threshold"):
            min_effect = _min_effect(arg, args.pop(0) if _is_value(args) else None)
        elif arg.startswith("--benchmark-storage"):
            raise NoxArgsError(STORAGE_REFUSED)
        elif arg == "--save-as":
            if not _is_value(args):
                raise NoxArgsError("--save-as needs a name, e.g. --save-as baseline")
            saved_as = args.pop(0)
        else:
            out.append(arg)
    save = [f"--benchmark-save={saved_as}"] if saved_as else [] if compare else ["--benchmark-autosave"]
    # this run, saved or not, also goes to <storage>/last-run.json for the summary
    train_args = ["--train-missing"] if train and "--train-missing" not in out else []
    if compare and not has_option(out, "--threads"):
        threads = saved_threads(compare)  # the default follows the free cores: a compared run follows its baseline
        if threads is not None:
            out += ["--threads", str(threads)]
    user = tuple(out)
    # every sample is saved: the gate judges a case on both runs' samples, not on one median
    storage_args = [f"--benchmark-storage=file://{storage}", f"--benchmark-json={last_run_path(storage)}", "--benchmark-save-data"]
    out = [*storage_args, *train_args, *save, *out]
    if compare:
        out.append(f"--benchmark-compare={compare}")  # pytest-benchmark's side-by-side table; `sepbench check gate` decides
    return BenchArgs(out, compare, train, user, min_effect, fresh, schedule, budget_s, saved_as)


STORAGE_REFUSED = (
    "--benchmark-storage: nox -s bench keeps its runs and paired records in one place; "
    "set SEPBENCH_RESULTS_DIR to move both (runs go to $SEPBENCH_RESULTS_DIR/bench)"
)


def _value(arg: str, args: list[str]) -> str | None:
    """The value of ``--name=VALUE`` or of ``--name VALUE`` (taken off ``args``); ``None`` if there is none."""
    if "=" in arg:
        return arg.split("=", 1)[1]
    return args.pop(0) if _is_value(args) else None


def _schedule(value: str | None) -> tuple[int, ...]:
    """``--processes 3,6,10``: increasing whole numbers >= 1 (at most 100)."""
    try:
        stages = tuple(int(v) for v in (value or "").split(","))
    except ValueError:
        stages = ()
    if not stages or any(not 1 <= s <= 100 for s in stages) or list(stages) != sorted(set(stages)):
        raise NoxArgsError(
            f"--processes needs increasing process counts from 1 to 100, e.g. 3,6,10 (or 1: the main run only); got {value!r}"
        )
    return stages


def _seconds(value: str | None) -> float:
    try:
        seconds = float(value or "")
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise NoxArgsError(f"--budget needs the seconds the extra processes may take, 0 to 86400; got {value!r}")
    return seconds


def _min_effect(option: str, value: str | None) -> float:
    """``--min-effect 0.10`` or (the former form) ``--fail-threshold median:10%``, as a fraction."""
    text = (value or "").removeprefix("median:")
    try:
        effect = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        effect = -1.0
    if not 0 <= effect < 10:
        raise NoxArgsError(f"{option} needs the smallest slowdown that fails, e.g. 0.10 or 10% (median:10%); got {value!r}")
    return effect


def has_option(args: Sequence[str], name: str) -> bool:
    """Whether ``args`` give ``NAME VALUE`` or ``NAME=VALUE``."""
    return any(a == name or a.startswith(name + "=") for a in args)


def pop_option(args: Sequence[str], name: str) -> tuple[str | None, list[str]]:
    """Take ``NAME VALUE`` (or ``NAME=VALUE``) out of ``args``: (the value or ``None``, the other arguments)."""
    out: list[str] = []
    value = None
    it = iter(args)
    for arg in it:
        if arg == name:
            value = next(it, None)
            if value is None or value.startswith("-"):
                raise NoxArgsError(f"{name} needs a value")
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
        else:
            out.append(arg)
    return value, out


MAX_SAVED_RUN_BYTES = 256 * 2**20  # a saved run of the whole suite with every sample is a few MB


def saved_threads(path: str | os.PathLike[str]) -> int | None:
    """The compute threads a saved pytest-benchmark run was made with (``machine_info.threads.requested``),
    or ``None`` where the file does not say (or is not a readable run of a sane size)."""
    import json

    try:
        from sepbench.util.inputs import read_regular

        requested = json.loads(read_regular(path, MAX_SAVED_RUN_BYTES))["machine_info"]["threads"]["requested"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return requested if isinstance(requested, int) and not isinstance(requested, bool) and requested >= 1 else None
