"""The API fuzzed from its own OpenAPI schema (schemathesis, DESIGN.md §9).

Every operation of `/api/schema/` gets generated requests, valid and invalid,
sent with an API key of each scope (`pos`, then `admin`) against a seeded
database. Two properties must hold: no answer is a 5xx, and every answer the
schema documents matches it. In CI the run is bounded to about two minutes
(`LOYALTY_FUZZ_EXAMPLES` per operation, derandomized, so the same examples
are tried every run); on a developer's machine it is a short smoke run. In CI
a missing schemathesis fails the run instead of skipping it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from loyalty.actors import Actor
from loyalty.models import ApiScope
from loyalty.services import api_key_create, program_settings_update
from members.segments import segment_create
from rewards.gift_cards import gift_card_issue
from tests.campaigns.factories import make_campaign
from tests.conftest import IN_CI, need
from tests.factories import MemberFactory, StoreFactory, TierFactory
from tests.rewards.conftest import fund, make_reward

try:
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance
except ImportError:  # pragma: no cover - only without the test requirements
    schemathesis = None

EXAMPLES = int(os.environ.get("LOYALTY_FUZZ_EXAMPLES", "15" if IN_CI else "3"))
CHECKS = [] if schemathesis is None else [not_a_server_error, response_schema_conformance]


@pytest.fixture
def api_keys(db: None) -> dict[str, str]:
    """A small program to fuzz against: a store, tiers, members with points,
    a reward, a gift card; and a key of each scope."""
    store = StoreFactory(code="main", name="Main store")
    program_settings_update(
        actor=Actor.system(),
        earn_points=1,
        earn_per_amount=Decimal("1.00"),
        main_store=store,
    )
    TierFactory(code="bronze", threshold=Decimal("0"))
    TierFactory(code="gold", threshold=Decimal("1000"), multiplier=Decimal("2.00"))
    member = MemberFactory(user=None, email="fuzz@example.com")
    fund(member, 5000)
    make_reward()
    gift_card_issue(actor=Actor.system(), amount=Decimal("50.00"))
    segment_create(
        actor=Actor.system(),
        name="Gold",
        rules={"all": [{"field": "tier", "op": "eq", "value": "gold"}]},
    )
    make_campaign("multiplier", budget_points=10_000)
    return {
        scope: api_key_create(actor=Actor.system(), name=f"fuzz {scope}", scopes=[scope]).key
        for scope in (ApiScope.POS, ApiScope.ADMIN)
    }


@pytest.fixture(autouse=True)
def _application() -> Iterator[None]:
    """The requests go to a WSGI application built with the test settings (no
    https redirect). As Django's test client does, it is kept from closing the
    database connection after each request: the test's transaction (and the
    seeded data) lives on it."""
    application.handler = WSGIHandler()
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class _Application:
    """The WSGI application the schema sends its requests to, bound at
    collection time; the handler behind it is built by each test."""

    handler: WSGIHandler | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.handler is not None
        return self.handler(environ, start_response)


application = _Application()


def _schema() -> Any:
    """The schema `/api/schema/` serves, built at collection time."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    loaded.app = application
    return loaded


schema = _schema() if schemathesis is not None else None


def _fuzz(case, api_keys: dict[str, str]) -> None:
    for key in api_keys.values():
        case.call_and_validate(headers={"Authorization": f"Api-Key {key}"}, checks=CHECKS)


if schema is not None:

    @pytest.mark.fuzz
    @schema.parametrize()
    @hypothesis_settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def test_the_api_never_answers_5xx_and_keeps_to_its_schema(case, api_keys):
        _fuzz(case, api_keys)

else:

    @pytest.mark.fuzz
    def test_the_api_never_answers_5xx_and_keeps_to_its_schema() -> None:
        need("schemathesis is not installed (pip install -r requirements.txt)")


def test_the_schema_is_served_without_a_key(db: None) -> None:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/purchases" in response.json()["paths"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/members", "/api/v1/members/{public_id}/ledger", "/api/v1/tiers", "/api/v1/stores"],
)
def test_lists_are_described_as_pages(db: None, path: str) -> None:
    """Found by the fuzzing: lists answered pages while the schema said arrays."""
    document = APIClient().get("/api/schema/?format=json").json()
    operation = document["paths"][path]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    page = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert {"page", "page_size"} <= {p["name"] for p in operation["parameters"]}
