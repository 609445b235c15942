"""`Idempotency-Key` for POSTs (API.md, "Conventions").

The key, the request's fingerprint and the response are stored in the same
transaction as the effect of the request, so either both exist or neither:
a crash never leaves an effect without its stored answer, and a retry never
pays twice.

The record is written once, when the answer is known: a request first looks
its key up (a replay ends there, with one query), runs, and inserts the
record with `ON CONFLICT DO NOTHING` in its own transaction, without a
savepoint. Two requests with the same key at the same moment both run, in
their own transactions; PostgreSQL makes the second's insert of the record
wait on the unique index until the first's transaction ends. If the first
committed, the second's insert does nothing, so the second rolls back
everything it did and replays the first's answer; so does a second that
failed on what the first wrote (a unique index its own effect met). (SQLite
runs write transactions one at a time, so the second simply finds the record.)
A 4xx rolls back whatever its request wrote and stores its answer in a
transaction of its own; a 5xx stores nothing and a retry runs afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.db import transaction
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from loyalty.api.parsers import json_decode
from loyalty.db import Lookup, atomic_whole_block, insert_unless_taken
from loyalty.errors import IdempotencyKeyReused, ValidationFailed
from loyalty.limits import text_problem
from loyalty.models import ApiKey, IdempotencyRecord

if TYPE_CHECKING:
    from rest_framework.views import APIView

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
# Response headers worth replaying besides the body.
KEPT_HEADERS = ("Location",)

Handler = Callable[..., Response]


class _ErrorResponse(Exception):
    """Carries a 4xx (or 5xx) response out of the transaction, so its writes roll back."""

    def __init__(self, response: Response) -> None:
        self.response = response


def request_scope(request: Request) -> str:
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"


def request_fingerprint(request: Request) -> str:
    """Same method, path and JSON body (whatever the key order) → same fingerprint."""
    try:
        # The parser's decoder: a body it refuses (too deep, say) is hashed as text.
        body: Any = json_decode(request.body or b"null")
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = request.body.decode("utf-8", "replace")
    raw = f"{request.method} {request.path}\n{canonical}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    headers = dict(record.response_headers)
    headers[REPLAY_HEADER] = "true"
    return Response(json.loads(record.response_body), status=record.status_code, headers=headers)


def idempotent(handler: Handler) -> Handler:
    """Decorates a POST handler of an APIView (after authentication has run).

    Without the header the handler runs as usual. With it, the first request's
    answer (2xx or 4xx) is stored and replayed for the same body; a different
    body is `409 idempotency_key_reused`. A 5xx is not stored: everything the
    request wrote rolls back and a retry runs afresh.
    """

    @wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise ValidationFailed(fields={HEADER: ["Must be 1 to 255 characters."]})
        problem = text_problem(key)
        if problem:
            raise ValidationFailed(fields={HEADER: [problem]})
        scope, fingerprint = request_scope(request), request_fingerprint(request)
        if (found := _record_get(scope, key)) is not None:
            return _replay(found, fingerprint)
        record = IdempotencyRecord(
            scope=scope, key=key, fingerprint=fingerprint, method=request.method,
            path=request.path[:255],
        )  # fmt: skip
        try:
            # Any error rolls the block back whole: the services inside need
            # no savepoints of their own (loyalty.db).
            with atomic_whole_block():
                response = _call(view, handler, request, *args, **kwargs)
                if response.status_code >= 400:
                    raise _ErrorResponse(response)
                if not _record_insert(record, response):
                    raise _KeyTaken()
                return response
        except _ErrorResponse as error:
            response = error.response
        except Exception:
            # A request with the same key that ran at the same time may have
            # committed first, and this one failed on what it wrote (a unique
            # index): answer as that one did.
            if (found := _record_get(scope, key)) is not None:
                return _replay(found, fingerprint)
            raise
        if response.status_code >= 500:
            found = _record_get(scope, key)
            return response if found is None else _replay(found, fingerprint)
        # A 4xx: what the request wrote rolled back; its answer is kept on its own.
        with transaction.atomic():
            if not _record_insert(record, response):
                return _replay(IdempotencyRecord.objects.get(scope=scope, key=key), fingerprint)
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper


class _KeyTaken(Exception):
    """Another request with the key committed first: roll back and replay it."""


_RECORD = Lookup(IdempotencyRecord, "scope", "key")


def _record_get(scope: str, key: str) -> IdempotencyRecord | None:
    return _RECORD.get(scope, key)


def _record_insert(record: IdempotencyRecord, response: Response) -> bool:
    """Insert the key's record with `response`, unless a record of the key
    exists (then nothing, and False): one statement, no savepoint."""
    record.status_code = response.status_code
    record.response_body = json.dumps(response.data, cls=JSONEncoder)
    record.response_headers = {h: response[h] for h in KEPT_HEADERS if h in response}
    return insert_unless_taken(record, unique=("scope", "key"))


def _call(view: APIView, handler: Handler, request: Request, *args: Any, **kwargs: Any) -> Response:
    """Run the handler; turn what it raises into the response DRF would send."""
    try:
        response = handler(view, request, *args, **kwargs)
    except Exception as exc:
        # DRF's own answer to the exception; it re-raises what it cannot answer (→ 500).
        response = view.handle_exception(exc)
    return response
