"""argparse types for the numbers commands share: each refuses, at parse time and with the option's
name, a value the command could not use (``nan``, ``inf``, a negative fraction, a factor below 1).

``float("nan")`` parses and then compares false with everything: ``--factor nan`` once made every
ASV comparison pass for ever.  So every float option goes through one of these.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path

MAX_FRACTION = 10.0  # a slowdown threshold of 1000 %: beyond it nothing would ever fail


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A change as a fraction in [0, 10) (0.05: 5 %)."""
    value = _float(text)
    if not 0 <= value < MAX_FRACTION:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, {MAX_FRACTION:g}) (0.05 is 5 %), got {text!r}")
    return value


def factor(text: str) -> float:
    """A ratio above 1 and at most 100 (1.10: worse by more than 10 %)."""
    value = _float(text)
    if not 1 < value <= 100:
        raise argparse.ArgumentTypeError(f"must be a factor in (1, 100] (1.10 is 10 % worse), got {text!r}")
    return value


def int_in(minimum: int, maximum: int) -> Callable[[str], int]:
    """A whole number in ``[minimum, maximum]``: every integer option goes through one, so each has an upper
    budget (``--chunk 1000000000`` once allocated 21.6 TiB before anything said no)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{value:,} asked; the budget is {maximum:,} at most")
        return value

    parse.__name__ = f"int in [{minimum}, {maximum}]"
    return parse


# the upper budgets of the integer options (docs/threat-model.md, Budgets)
MAX_THREADS = 1024  # more than any machine's cores
MAX_SEED = 2**32 - 1  # NumPy's seeds are 32-bit words
MAX_EPOCHS = 1000  # a pair file's epochs allow as many (pair.schema.json)
MAX_IMAGES = 1_000_000  # images pushed through a model in one command: 17x MNIST's 60,000
MAX_CHUNK = 10_000  # images per call: the benchmarks' largest batch
MAX_REPEATS = 1000  # repetitions, rounds, trials, seeds


def output_file(text: str) -> Path:
    """A file to write: ``out/`` (a folder) refused at parse time, where :class:`~pathlib.Path` would
    silently drop the slash and write a file named ``out``."""
    if not text or text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{text!r} names a folder; give a file name (e.g. {text or '.'}/results.json)")
    return Path(text)


def output_dir(text: str) -> Path:
    """A folder to write into: an empty name refused at parse time (``Path('')`` is the current folder, which
    ``report --output ''`` once filled)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} names no folder; give one (e.g. reports)")
    return Path(text)


def machine(text: str) -> str:
    """A machine name (it names a folder of results): see :func:`sepbench.machine.fingerprint.check_machine_name`."""
    from sepbench.machine.fingerprint import check_machine_name

    try:
        return check_machine_name(text, "--machine")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class NameList(argparse.Action):
    """One spelling for every list of names a command takes (backends, models, pairs): comma-separated,
    space-separated or both (``numpy,torch``, ``numpy torch``, ``numpy, torch``), in order, each once.
    Use with ``nargs="+"``; an option given twice adds to its list.  Which names exist, and what an empty
    list (``--models ""``) means, is the command's to say: it knows the registry."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object, option: str | None = None) -> None:
        tokens = [values] if isinstance(values, str) else list(values or [])  # type: ignore[call-overload]
        names = [n.strip() for token in tokens for n in str(token).split(",") if n.strip()]
        before = getattr(namespace, self.dest, None)
        seen = list(before) if isinstance(before, list) and before is not self.default else []
        setattr(namespace, self.dest, seen + [n for n in dict.fromkeys(names) if n not in seen])
