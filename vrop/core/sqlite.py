"""SQLite connection setup: case-insensitive LIKE for every alphabet.

SQLite's built-in LIKE folds case for ASCII only, so on SQLite a search for «сталь»
would not find «Сталь» (PostgreSQL's UPPER/LIKE handle Cyrillic). Django's
``icontains``/``istartswith`` on SQLite compile to ``LIKE ... ESCAPE '\\'``; we replace
SQLite's ``like()`` function with one that folds case for all of Unicode, keeping
SQLite's semantics otherwise (``%`` any run, ``_`` one character, the escape character).
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=512)
def _compile(pattern: str, escape: str | None) -> re.Pattern:
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if escape and char == escape and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def unicode_like(pattern, value, escape=None):
    if pattern is None or value is None:
        return None
    return _compile(str(pattern), escape).fullmatch(str(value)) is not None


def setup_connection(sender, connection, **kwargs) -> None:
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("like", 2, unicode_like, deterministic=True)
    raw.create_function("like", 3, unicode_like, deterministic=True)
