"""Requests whose path, query string or form fields hold text no column can
store (a NUL byte, a lone surrogate) are refused with a 400 before any view
runs: the API answers with its error envelope naming the parameter, pages
with the friendly 400 page. JSON bodies are checked by the API's parser
(loyalty/api/parsers.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

from loyalty.api.errors import envelope
from loyalty.limits import text_problem

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _problems(request: HttpRequest) -> tuple[str | None, dict[str, list[str]]]:
    """(what is wrong with the path, what is wrong with each named parameter)."""
    fields: dict[str, list[str]] = {}
    sources = [request.GET]
    if request.method == "POST" and request.content_type in FORM_TYPES:
        sources.append(request.POST)
    for source in sources:
        for name, values in source.lists():
            problem = text_problem(name)
            if problem:
                fields["non_field_errors"] = [problem]
                continue
            for value in values:
                problem = text_problem(value)
                if problem:
                    fields[name] = [problem]
    return text_problem(request.path), fields


class TextInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path_problem, fields = _problems(request)
        if path_problem is None and not fields:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            if fields:
                body = envelope("invalid", _("Some values are not valid."), fields)
            else:
                body = envelope("invalid", _("The path holds characters that are not allowed."))
            return JsonResponse(body, status=400)
        return defaults.bad_request(request, ValueError(path_problem or fields))
