"""The fold-or-split choice shared by the torch and TensorFlow fast paths.

A separable layer can run as it is (depthwise then pointwise: ``"split"``) or as the one dense conv
with the folded kernel (``"fold"``: more MACs, but one well-optimised conv instead of a framework's
often slow depthwise kernel).  Which is faster depends on the layer's shape and the CPU, so it is
measured: each layer's two ways are timed on that layer's real input (the example images as the
layers before it, already chosen, make them) and the faster is kept.  The backends supply the two
callables per layer; the timing is :func:`sepbench.util.timer.fastest`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sepbench.util import tuning
from sepbench.util.timer import Timing, fastest

Kernel = TypeVar("Kernel", bound=Callable[..., Any])

FOLD_OR_SPLIT_ROUNDS = 5  # timed calls of each way per layer (interleaved), after one untimed call
# process CPU seconds: a shared machine's load does not decide it, and an op's intra-op threads all count
FOLD_OR_SPLIT_CLOCK = "cpu"


@dataclass(frozen=True)
class LayerChoices(Generic[Kernel]):
    """The layers as chosen: one op per layer, "fold" | "split" per separable layer, and the timings."""

    ops: list[Kernel]
    choices: dict[str, str]  # separable layer name -> "fold" | "split"
    timings: dict[str, dict[str, Timing]]  # separable layer name -> way -> its timed calls (seconds)


def _as_is(op: Kernel) -> Callable[[Any], Any]:
    return op


def choose_fold_or_split(
    layers: Sequence[tuple[str, Kernel, Kernel | None]],
    example: Any,
    timed: Callable[[Kernel], Callable[[Any], Any]] = _as_is,
    rounds: int = FOLD_OR_SPLIT_ROUNDS,
    remember: tuple[str, Mapping[str, Any]] | None = None,
) -> LayerChoices[Kernel]:
    """Walk ``layers`` (``(name, op, folded op or None)``; ``None``: nothing to choose) from ``example``,
    keeping per separable layer whichever way takes less CPU time on its real input.

    ``timed(op)`` is what is timed for an op, called on the layer's input (e.g. the op as a traced
    graph whose result is fetched); it is made once per way, so its first (untimed) call may trace.
    A tie keeps ``"split"``.  ``remember`` (a kind and a key, :mod:`sepbench.util.tuning`): reuse the
    choices recorded for it on this machine (no timing, ``timings`` empty), else record the new ones.
    """
    foldable = {name for name, _, fold in layers if fold is not None}
    recalled = tuning.recall(*remember) if remember else None
    if recalled is not None and (set(recalled) != foldable or not set(recalled.values()) <= {"fold", "split"}):
        recalled = None  # recorded for other layers (another version of the model): measured again
    x = example
    ops: list[Kernel] = []
    choices: dict[str, str] = {}
    timings: dict[str, dict[str, Timing]] = {}
    for name, split, fold in layers:
        op = split
        if fold is not None and recalled is not None:
            choices[name] = recalled[name]
            op = fold if choices[name] == "fold" else split
        elif fold is not None:
            ways = {"split": timed(split), "fold": timed(fold)}
            choice = fastest({w: (lambda f=f, x=x: f(x)) for w, f in ways.items()}, rounds=rounds, clock=FOLD_OR_SPLIT_CLOCK, warmup=1)
            choices[name], timings[name] = choice.winner, choice.timings
            op = fold if choice.winner == "fold" else split
        ops.append(op)
        x = op(x)
    if remember and recalled is None and choices:
        tuning.record(*remember, choices)
    return LayerChoices(ops, choices, timings)
