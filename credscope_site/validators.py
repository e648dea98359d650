"""Checks of raw input shared by the API's parser, its filters and the pages' filters.

Each returns the problem in a few words, or None, so every door can name the field."""

from __future__ import annotations

import unicodedata

#: The largest value PostgreSQL's bigint (and SQLite's integer) holds: ids beyond it would
#: fail in the database, after validation, as a 500.
BIGINT_MAX = 2**63 - 1


def text_problem(value: str) -> str | None:
    """NUL characters and lone surrogates: valid in JSON and Python, refused by PostgreSQL and
    by any UTF-8 encoder."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if any("\ud800" <= char <= "\udfff" for char in value):
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def search_problem(value: str) -> str | None:
    """A search term: text, where digits (an id) are ASCII 0-9 and fit an id."""
    problem = text_problem(value)
    if problem:
        return problem
    odd = [
        char for char in value if unicodedata.digit(char, None) is not None and not char.isascii()
    ]
    if odd:
        return f"digits must be 0-9 (got {odd[0]!r})"
    stripped = value.strip()
    if stripped.isdecimal() and int(stripped) > BIGINT_MAX:
        return f"is too large for an id (at most {BIGINT_MAX})"
    return None
