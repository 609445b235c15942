"""A marketer's weekend multiplier in a real browser, from the form to the
member's portal: created for Gold members, back-tested, activated, then a
Gold member's Saturday sale posted by the till shows the campaign's award."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from loyalty.actors import Actor
from loyalty.models import ApiScope
from purchases.inputs import LineInput, SaleInput
from purchases.services import purchase_record
from tests.conftest import api_client_for
from tests.factories import PASSWORD, MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "Double points weekend"


def last_saturday_noon(before: datetime) -> datetime:
    """Noon of the latest Saturday before `before`, in the program's time zone."""
    local = timezone.localtime(before)
    day = local.date() - timedelta(days=(local.weekday() - 5) % 7)
    noon = timezone.make_aware(datetime.combine(day, time(12, 0)))
    return noon if noon < before else noon - timedelta(days=7)


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(url + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def test_a_marketer_runs_a_weekend_multiplier_that_a_gold_members_saturday_sale_shows(
    live_server, page: Page, marketer, program, tiers
):
    now = timezone.now()
    store = StoreFactory(code="klcc")
    member = MemberFactory(first_name="Aminah", user__email="aminah@example.com")

    def sale(reference: str, amount: str, occurred_at: datetime) -> None:
        purchase_record(
            sale=SaleInput(
                store=store,
                reference=reference,
                member=member,
                occurred_at=occurred_at,
                items=[LineInput(sku="BATIK", quantity=1, unit_price=Decimal(amount))],
            ),
            actor=Actor.system(),
        )

    # Gold by spend (RM 20,000 over the last year), then a Saturday sale the back-test sees.
    sale("GOLD-1", "20000.00", now - timedelta(days=40))
    member.refresh_from_db()
    assert member.tier.code == "gold"
    saturday = last_saturday_noon(now)
    sale("SAT-OLD", "100.00", saturday - timedelta(days=7))

    sign_in(page, live_server.url, marketer.email)
    page.goto(live_server.url + "/staff/campaigns/new/?kind=multiplier")
    page.get_by_label("Name").fill(NAME)
    starts = timezone.localtime(now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Starts").fill(starts)
    page.get_by_label("Multiply points by").fill("2")
    page.get_by_label("Saturday").check()
    page.get_by_label("Sunday").check()
    page.get_by_label("Gold").check()
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_text(f"Campaign {NAME} created.")).to_be_visible()

    page.get_by_role("link", name=NAME).first.click()
    campaign_url = page.url
    page.get_by_label("From", exact=True).fill((now - timedelta(days=30)).date().isoformat())
    page.get_by_label("To", exact=True).fill(timezone.localdate(now).isoformat())
    page.get_by_role("button", name="Run back-test").click()
    expect(page.get_by_role("heading", name=f"Back-test of {NAME}")).to_be_visible()
    # The progress bar runs to the result: RM 100 at Gold (×2) is 200 points, doubled: +200.
    expect(page.get_by_role("heading", name="Result")).to_be_visible(timeout=30_000)
    points = page.locator("dt", has_text="Points").locator("xpath=following-sibling::dd[1]")
    expect(points.first).to_have_text("200")

    page.goto(campaign_url)
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator(".badge", has_text="Active").first).to_be_visible()

    till = api_client_for(ApiScope.POS)
    answer = page.request.post(
        live_server.url + "/api/v1/purchases",
        headers={"Authorization": till._credentials["HTTP_AUTHORIZATION"]},
        data={
            "reference": "SAT-1",
            "store": "klcc",
            "card_number": member.card_number,
            "occurred_at": saturday.isoformat(),
            "items": [{"sku": "BATIK", "quantity": 1, "unit_price": "80.00"}],
        },
    )
    assert answer.status == 201, answer.text()
    awards = answer.json()["awards"]
    assert {"points": 160, "label": NAME} in [
        {"points": a["points"], "label": a["label"]} for a in awards
    ]

    page.context.clear_cookies()
    sign_in(page, live_server.url, "aminah@example.com")
    expect(page.get_by_role("heading", name="Hello, Aminah")).to_be_visible()
    page.goto(live_server.url + "/portal/history/")
    award = page.locator(".portal-history-entry", has_text=NAME).first
    expect(award).to_be_visible()
    expect(award.get_by_test_id("entry-points")).to_have_text("+160")
