"""GET /api/v1/analytics/summary (API.md "Analytics"): the fields and their
types, scope admin only, bad input in the error envelope, a store filter."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.models import SurveyKind
from analytics.rollups import rollups_refresh
from loyalty.models import ApiScope
from tests.analytics.factories import answer, bought
from tests.conftest import api_client_for
from tests.factories import MemberFactory, StoreFactory
from tests.loyalty.test_api_errors import assert_envelope

pytestmark = pytest.mark.django_db
KL = ZoneInfo("Asia/Kuala_Lumpur")
URL = "/api/v1/analytics/summary"
MONEY = re.compile(r"^-?\d+\.\d{2}$")


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=KL)


@pytest.fixture
def sales(program, tiers):
    mall = StoreFactory(code="mall", name="Mall")
    ali = MemberFactory(user=None, email="ali@example.com", joined_at=at(date(2026, 10, 1)))
    siti = MemberFactory(user=None, email="siti@example.com", joined_at=at(date(2026, 10, 1)))
    bought(ali, program.main_store, at=at(date(2026, 11, 3)), amount="30.00")
    bought(ali, program.main_store, at=at(date(2026, 11, 9)), amount="10.00")
    bought(siti, mall, at=at(date(2026, 11, 4)), amount="25.50")
    bought(None, mall, at=at(date(2026, 11, 5)), amount="4.50")
    for score in (10, 10, 9, 9, 9, 8, 7, 6, 3, 0):
        answer(SurveyKind.NPS, score, store=mall, at=at(date(2026, 11, 6)))
    rollups_refresh(start=date(2026, 10, 1), end=date(2026, 11, 30), whole_months=True)
    return {"mall": mall, "main": program.main_store}


def test_the_summary_has_the_fields_of_the_contract(admin_api, sales):
    response = admin_api.get(URL, {"from": "2026-11-01", "to": "2026-11-30"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {"from": "2026-11-01", "to": "2026-11-30"}
    assert body["members"] == {"total": 2, "new": 0, "active": 2}
    assert body["sales"] == {"count": 4, "amount": "70.00", "member_share": "0.7500"}
    assert body["average_order_value"] == {"members": "21.83", "non_members": "4.50"}
    assert body["repeat_purchase_rate"] == "0.5000"
    for name in ("retention_rate", "churn_rate"):
        assert body[name] is None  # nobody bought in October: nothing to retain
    assert body["points"] == {"issued": 65, "redeemed": 0, "expired": 0, "outstanding": 65}
    assert body["liability"] == "0.65"
    assert MONEY.match(body["clv_historical"])
    assert body["clv_historical"] == "32.75"
    assert body["nps"] == {"score": "20.0", "responses": 10}
    assert body["csat"] == {"score": None, "responses": 0}
    for name in ("redemption_rate", "breakage_rate"):
        assert 0 <= float(body[name]) <= 1


def test_a_store_filter_narrows_every_figure(admin_api, sales):
    body = admin_api.get(URL, {"from": "2026-11-01", "to": "2026-11-30", "store": "mall"}).json()
    assert body["sales"] == {"count": 2, "amount": "30.00", "member_share": "0.5000"}
    assert body["store"] == "mall"
    assert body["nps"]["responses"] == 10
    main = admin_api.get(URL, {"from": "2026-11-01", "to": "2026-11-30", "store": "klcc"}).json()
    assert main["sales"]["count"] == 2 and main["nps"]["responses"] == 0


def test_only_the_admin_scope_reads_it(sales, client):
    pos = api_client_for(ApiScope.POS)
    assert_envelope(pos.get(URL), 403, "permission_denied")
    assert_envelope(client.get(URL), 401, "not_authenticated")


def test_an_admin_key_tied_to_a_store_still_reads_every_store(sales):
    tied = api_client_for(ApiScope.ADMIN, store=sales["mall"])
    body = tied.get(URL, {"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert body["store"] is None and body["sales"]["count"] == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-11-30", "to": "2026-11-01"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-01", "to": "2026-13-01"}, "to"),
        ({"from": "2025-01-01", "to": "2026-03-01"}, "to"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "to"),
        ({"store": "nowhere"}, "store"),
        ({"store": "a b"}, "store"),
    ],
)
def test_bad_input_is_400_invalid_naming_the_field(admin_api, program, query, field):
    body = assert_envelope(admin_api.get(URL, query), 400, "invalid")
    assert field in body["fields"]


def test_the_default_period_is_the_last_30_days(admin_api, program):
    body = admin_api.get(URL).json()
    start, end = (
        date.fromisoformat(body["period"]["from"]),
        date.fromisoformat(body["period"]["to"]),
    )
    assert end - start == timedelta(days=29)
    assert body["sales"]["member_share"] is None and body["sales"]["amount"] == "0.00"


def test_the_endpoint_is_in_the_openapi_schema(admin_api, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/analytics/summary" in text and "AnalyticsSummary" in text
