"""How deeply a JSON or TOML text nests, measured before it is parsed.

Python's parsers recurse once per level: ``[[[[...]]]]`` 10^5 deep in a few hundred KB is a
``RecursionError`` (or worse) deep inside ``json`` or ``tomllib``.  Every text read from outside is
measured here first and refused beyond :data:`MAX_NESTING` levels, with a line naming the file.
"""

from __future__ import annotations

import re

import numpy as np

MAX_NESTING = 64  # levels of arrays and tables/objects: sepbench's own files nest at most 8 deep
# quoted strings (JSON's and TOML's basic and literal ones) and TOML's comments hold brackets that do not nest
_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')
_COMMENTS = re.compile(r"#[^\n]*")
_CHUNK = 1 << 24  # bytes measured at once


def nesting_depth(text: str) -> int:
    """The deepest level of ``[ ]`` and ``{ }`` in ``text`` outside quoted strings and comments (TOML's ``[table]`` headers
    count one, harmlessly); linear in the text's length."""
    code = _COMMENTS.sub("", _STRINGS.sub("", text)).encode("utf-8", "surrogatepass")
    deepest = depth = 0
    for start in range(0, len(code), _CHUNK):  # in chunks: a 256 MiB result file needs no 2 GiB of steps
        chars = np.frombuffer(code, np.uint8, count=min(_CHUNK, len(code) - start), offset=start)
        steps = (chars == ord("[")).astype(np.int32) + (chars == ord("{")) - (chars == ord("]")) - (chars == ord("}"))
        levels = depth + np.cumsum(steps)
        deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def check_nesting(text: str, what: str) -> None:
    """``ValueError`` naming ``what`` when ``text`` nests deeper than :data:`MAX_NESTING`."""
    depth = nesting_depth(text)
    if depth > MAX_NESTING:
        raise ValueError(f"{what}: nested {depth:,} levels deep; at most {MAX_NESTING} are read")
