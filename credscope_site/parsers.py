"""The API's JSON parser: strict about what PostgreSQL and the model cannot take.

DRF's JSONParser accepts anything Python's json module does, and several such documents
turned into 500s further in: a 401-digit integer (no float holds it), a string with NUL or a
lone surrogate (PostgreSQL and UTF-8 refuse them), an id at or above 2^63 (bigint overflow),
a document nested 1,000 deep (RecursionError) and NaN or Infinity. Here each is a 400 naming
the field (`history.bureau[0].SK_ID_BUREAU`), and a body over API_MAX_JSON_BYTES is a 413.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from credscope_site.validators import BIGINT_MAX, text_problem

_COLON = re.compile(r"\s*:")

#: Deeper than any document the API takes (an application with inline history is 4 levels).
MAX_DEPTH = 32


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = settings.API_MAX_JSON_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The JSON body is over the limit of {limit:,} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise exceptions.ParseError(f"The body is not {encoding} text: {error}") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            field = _deep_field(text)
            raise exceptions.ValidationError(
                {field: f"is nested more than {MAX_DEPTH} levels deep"}
            ) from None
        except ValueError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        problems = dict(_problems(data))
        if problems:
            raise exceptions.ValidationError(problems)
        return data


def _problems(data: Any) -> Iterator[tuple[str, str]]:
    """(path, problem) for each value no door behind the parser can take; iterative, so a
    deep document cannot exhaust the stack here either."""
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        path, value, depth = stack.pop()
        name = path or "body"
        if depth > MAX_DEPTH:
            yield _top(path), f"is nested more than {MAX_DEPTH} levels deep"
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                key_problem = text_problem(key)
                if key_problem:
                    yield name, f"has a field name that {key_problem}"
                    continue
                stack.append((f"{path}.{key}" if path else key, item, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((f"{path}[{index}]", item, depth + 1))
        elif isinstance(value, str):
            problem = text_problem(value)
            if problem:
                yield name, problem
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > BIGINT_MAX:
                yield name, f"is too large (at most {BIGINT_MAX})"
        elif isinstance(value, float) and not math.isfinite(value):
            yield name, "is too large to be a number"


def _top(path: str) -> str:
    """The top-level field a path starts in (`history` for `history[0][0][0]...`)."""
    for index, char in enumerate(path):
        if char in ".[":
            return path[:index] or "body"
    return path or "body"


def _deep_field(text: str) -> str:
    """The top-level field holding the part nested too deep for the decoder, found by a
    scan that tracks only brackets and strings (run only on that failure)."""
    depth, key, in_string, escaped, start = 0, "body", False, False, 0
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
                if depth == 1 and _COLON.match(text, index + 1):
                    try:
                        key = json.loads(text[start : index + 1])
                    except ValueError:
                        key = "body"
        elif char == '"':
            in_string, start = True, index
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return key if depth > 1 and key else "body"
        elif char in "]}":
            depth -= 1
    return key
