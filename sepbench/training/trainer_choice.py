"""Which trainer makes the weights every backend shares: the fastest on *this* machine, measured.

A table of speeds recorded on another CPU is no guide (NumPy trained the regular model in 61 s on
one 2-core Xeon and 243 s on another), so the choice is made here, once per machine, and recorded
in the cache (``<cache>/trainer-choice.json``, keyed by the machine's hardware name):

1. ``$SEPBENCH_TRAINER`` names a trainer: that one (checked to be available);
2. a choice recorded for this machine whose trainer is still available: that one (a rerun never
   switches trainers, so cached weights stay valid);
3. weights already cached for every model by one available trainer: that one, recorded as such;
4. else a short measurement: each available trainer runs one epoch of the recipe on
   :data:`PROBE_IMAGES` synthetic images twice (the second timed, after tracing and first-call costs);
   the fewest seconds per step wins, and the figures are recorded beside the choice.

Training on synthetic images costs what training on MNIST costs (the arithmetic does not look at
the pixels), so the probe needs no data set.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sepbench.core.pairs import STUDY_PAIR

TRAINER_ENV_VAR = "SEPBENCH_TRAINER"
CHOICE_FILE = "trainer-choice.json"
PROBE_IMAGES = 1024  # 32 steps of the recipe's batch of 32: about 0.1-1 s per trainer
PROBE_MODEL = STUDY_PAIR.baseline.name  # the model whose training dominates the main job's first run


@dataclass(frozen=True)
class TrainerChoice:
    """The trainer chosen for a machine, how (``reason``), and the probe's seconds per step of each
    trainer it measured (empty when not measured)."""

    trainer: str
    reason: str
    seconds_per_step: dict[str, float] = field(default_factory=dict)
    machine: str = ""
    created: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def choice_path() -> Path:
    from sepbench.util.paths import cache_dir

    return cache_dir() / CHOICE_FILE


def _read_choices(path: Path) -> dict[str, Any]:
    from sepbench.util.inputs import read_regular

    try:
        doc = json.loads(read_regular(path, 1 << 20))  # a fifo is refused, never waited on
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable or half-written: measured again and rewritten, never trusted
    return doc if isinstance(doc, dict) else {}


def available_trainers() -> list[str]:
    from impls.registry import unavailable_reason
    from sepbench.training.trainers import TRAINER_MODULES

    return [name for name in TRAINER_MODULES if unavailable_reason(name) is None]


def probe_trainer(trainer: str, images: int = PROBE_IMAGES) -> float:
    """Seconds per training step of ``trainer`` on ``images`` synthetic images (the second of two runs)."""
    from sepbench.core.recipe import DEFAULT_RECIPE
    from sepbench.machine.threads import configure_threads, requested_threads
    from sepbench.training.trainers import train

    configure_threads(requested_threads(), [trainer])  # the thread count the training will use

    rng = np.random.default_rng(0)
    x = rng.random((images, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, images)
    steps = -(-images // DEFAULT_RECIPE.batch_size)
    train(trainer, PROBE_MODEL, x, y, epochs=1)  # imports, tracing, first-call allocations
    return train(trainer, PROBE_MODEL, x, y, epochs=1).seconds / steps


def _cached_by(trainers: list[str]) -> str | None:
    from sepbench.training.weights_cache import cache_path

    for name in trainers:
        if all(cache_path(m, name).exists() for m in STUDY_PAIR.model_names):
            return name
    return None


def choose_trainer(measure: bool = True) -> TrainerChoice:
    """The trainer for this machine, by the rules in the module docstring (recording a new choice).

    Raises ``ValueError`` when ``$SEPBENCH_TRAINER`` names an unavailable trainer or none is available."""
    from sepbench.machine.fingerprint import machine_name
    from sepbench.util.atomic import atomic_write_json

    available = available_trainers()
    forced = os.environ.get(TRAINER_ENV_VAR, "").strip()
    if forced:
        if forced not in available:
            raise ValueError(f"{TRAINER_ENV_VAR}={forced!r}: not an available trainer here (available: {', '.join(available) or 'none'})")
        return TrainerChoice(forced, f"${TRAINER_ENV_VAR}")
    if not available:
        from sepbench.training.trainers import TRAINER_MODULES

        raise ValueError(f"no trainer is available: each of {', '.join(TRAINER_MODULES)} failed to load")
    machine = machine_name()
    path = choice_path()
    choices = _read_choices(path)
    recorded = choices.get(machine)
    if isinstance(recorded, dict) and recorded.get("trainer") in available:
        return TrainerChoice(
            str(recorded["trainer"]),
            str(recorded.get("reason", "recorded")),
            {str(k): float(v) for k, v in (recorded.get("seconds_per_step") or {}).items() if isinstance(v, (int, float))},
            machine,
            str(recorded.get("created", "")),
        )
    cached = _cached_by(available)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if cached is not None:
        choice = TrainerChoice(cached, "its weights were already cached", {}, machine, now)
    elif not measure or len(available) == 1:
        choice = TrainerChoice(available[0], "the only trainer available" if len(available) == 1 else "first available", {}, machine, now)
    else:
        seconds = {name: probe_trainer(name) for name in available}
        best = min(seconds, key=seconds.__getitem__)
        choice = TrainerChoice(best, f"fastest of a {PROBE_IMAGES}-image probe on this machine", seconds, machine, now)
    try:
        atomic_write_json(path, {**choices, machine: choice.as_dict()})
    except OSError:
        pass  # a read-only cache: the choice holds for this process; the weights cache says the same later
    return choice
