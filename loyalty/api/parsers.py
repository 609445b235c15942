"""The API's JSON parser: a body is refused (400) unless every part of it can
be stored and computed with.

Python's JSON decoder accepts more than the API can use: numbers too large
for a float (`1e309` is infinity), NUL bytes and lone surrogates in strings
(`"\\u0000"`, `"\\ud800"`, which PostgreSQL and UTF-8 refuse) and arbitrary
nesting (5,000 levels exhaust the recursion limit). `json_decode` refuses each,
naming the field when there is one, so every serializer field, choice field
and look-up by id behind it sees only text and numbers it can handle. The
idempotency fingerprint decodes the body with it too.
"""

from __future__ import annotations

import json
import math
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

from loyalty.limits import JSON_DEPTH_MAX, text_problem


class JsonInputError(ValueError):
    """A body the API refuses; `path` names the field (`items[0].name`) if any."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def _constant(name: str) -> float:
    raise JsonInputError(_("%(name)s is not a number the API accepts.") % {"name": name})


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _check(document: Any, *, text: bool) -> None:
    """Walk the decoded document (without recursion) and refuse what no field
    can use; strings and keys only when `text`."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = text and text_problem(value)
            if problem:
                raise JsonInputError(problem, path)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise JsonInputError(_("Give a finite number."), path)
        elif isinstance(value, (dict, list)):
            if depth > JSON_DEPTH_MAX:
                raise JsonInputError(
                    _("The JSON is nested more than %(depth)s levels deep.")
                    % {"depth": JSON_DEPTH_MAX}
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if text and isinstance(key, str):
                    problem = text_problem(key)
                    if problem:
                        raise JsonInputError(problem, path)
                stack.append((item, _child(path, key), depth + 1))


def json_decode(raw: bytes | str) -> Any:
    """The JSON document in `raw`. Raises JsonInputError for malformed JSON, NaN
    or Infinity, non-finite numbers, text no column can store, or nesting
    deeper than JSON_DEPTH_MAX."""
    try:
        document = json.loads(raw, parse_constant=_constant)
    except RecursionError as exc:
        raise JsonInputError(
            _("The JSON is nested more than %(depth)s levels deep.") % {"depth": JSON_DEPTH_MAX}
        ) from exc
    except JsonInputError:
        raise
    except ValueError as exc:
        raise JsonInputError(_("JSON parse error: %(error)s") % {"error": exc}) from exc
    # Strict JSON has no raw control characters, and UTF-8 no lone surrogates:
    # both can only come as \u escapes, so a body without one skips the text
    # check (most bodies: it is the costly part of the walk).
    escaped = (b"\\u" if isinstance(raw, bytes) else "\\u") in raw
    _check(document, text=escaped)
    return document


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the refusals of `json_decode`: a refused field is
    a validation error on that field, anything else a parse error (both 400)."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json_decode(stream.read().decode(encoding))
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(
                _("The body is not valid %(encoding)s.") % {"encoding": encoding}
            ) from exc
        except JsonInputError as exc:
            if exc.path:
                raise exceptions.ValidationError({exc.path: [exc.message]}) from exc
            raise exceptions.ParseError(exc.message) from exc
