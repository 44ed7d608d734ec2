"""Where a field of a TOML text is, for an error message that names its line (a pair file's)."""

from __future__ import annotations

import re
from typing import Any


def dotted(keys: list[Any]) -> str:
    """A field's path as TOML writes it: ``pair.input_shape``, ``baseline.layers[2].kernel``."""
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".")


def line_of(text: str, keys: Any) -> str:
    """``":LINE"`` of the field at ``keys`` in a TOML text, found the way a reader would find it: the
    table's header, then the n-th layer below it, then the key; ``""`` where it cannot be told."""
    keys = list(keys)
    lines = [_code(line) for line in text.splitlines()]
    at = 0
    if keys and isinstance(keys[0], str):
        header = next((i for i, line in enumerate(lines) if re.match(rf"\s*\[\s*{re.escape(keys[0])}\s*\]", line)), None)
        if header is None:
            return ""
        at = header
    if len(keys) >= 3 and keys[1] == "layers" and isinstance(keys[2], int):
        # a layer is an inline table `{ ... }` (one or more a line) or an array-of-tables entry
        # `[[baseline.layers]]`; a `{` in a comment or a quoted string is neither (see _code)
        entry = re.compile(rf"\s*\[\[\s*{re.escape(keys[0])}\.layers\s*\]\]")
        starts: list[int] = []
        for i in range(at + 1, len(lines)):
            if re.match(r"\s*\[", lines[i]) and not entry.match(lines[i]):
                break  # the next table: this one's layers are all behind
            starts += [i] * (lines[i].count("{") + bool(entry.match(lines[i])))
        if keys[2] >= len(starts):
            return f":{at + 1}"
        at = starts[keys[2]]
    # the field itself when the path ends in one (an item of a list, like input_shape[1], is on its line)
    field = keys[-1] if keys and isinstance(keys[-1], str) else (keys[-2] if len(keys) >= 2 and keys[-2] != "layers" else None)
    if field and len(keys) > 1:
        hit = next((i for i in range(at, len(lines)) if re.search(rf"(^|[\s{{,]){re.escape(field)}\s*=", lines[i])), None)
        if hit is not None:
            return f":{hit + 1}"
    return f":{at + 1}"


def _code(line: str) -> str:
    """A TOML line without its comment, its quoted strings emptied: what is left is keys and brackets."""
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', '""', line).split("#", 1)[0]
