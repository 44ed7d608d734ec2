"""Reading sepbench's environment variables: one parser per kind of value, each refusing what it cannot
read with a line naming the variable and the value (never a guess: ``SEPBENCH_RETUNE=false`` once meant
"retune", as every word but ``0`` did)."""

from __future__ import annotations

import os
from pathlib import Path

TRUE_WORDS: tuple[str, ...] = ("1", "true", "yes", "on")
FALSE_WORDS: tuple[str, ...] = ("0", "false", "no", "off")


class EnvError(ValueError):
    """An environment variable whose value cannot be used; the message names both."""


def env_flag(name: str) -> bool:
    """``$name`` as a yes/no: ``1 true yes on`` (any case) are yes; ``0 false no off``, empty or unset are no;
    any other word is an :class:`EnvError`."""
    value = os.environ.get(name, "").strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in ("", *FALSE_WORDS):
        return False
    raise EnvError(f"{name}={value!r}: give 1 (yes) or 0 (no); {', '.join(TRUE_WORDS)} and {', '.join(FALSE_WORDS)} are read too")


def env_path(name: str) -> Path | None:
    """``$name`` as a path, ``~`` and ``~user`` expanded; ``None`` when unset or blank; an :class:`EnvError`
    for a ``~user`` with no home (``Path.expanduser`` raises a bare ``RuntimeError`` there)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return Path(value).expanduser()
    except RuntimeError:
        raise EnvError(f"{name}={value!r}: {value.split('/', 1)[0]!r} names no user with a home folder; give a full path") from None
