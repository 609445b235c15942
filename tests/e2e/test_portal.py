"""A member's journey through the portal in a real browser."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from loyalty.actors import Actor
from members.points import points_adjust
from purchases.inputs import LineInput, SaleInput
from purchases.services import purchase_record
from tests.factories import PASSWORD, MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_sees_balance_and_progress_then_filters_the_history(
    live_server, page: Page, program, tiers
):
    member = MemberFactory(first_name="Aminah", user__email="aminah@example.com")
    store = StoreFactory(code="klcc")
    for number, amount in enumerate(["120.00", "80.50"]):
        purchase_record(
            sale=SaleInput(
                store=store,
                reference=f"KL-{number}",
                member=member,
                occurred_at=timezone.now() - timedelta(days=2 - number),
                items=[LineInput(sku="BATIK", quantity=1, unit_price=Decimal(amount))],
            ),
            actor=Actor.system(),
        )
    points_adjust(actor=Actor.system(), member=member, points=15, reason="Sorry for the wait")

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill("aminah@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page.get_by_role("heading", name="Hello, Aminah")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("215")
    progress = page.get_by_role("progressbar", name="Spend RM9,799.50 more to reach Silver")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("value", "2")
    expect(page.get_by_role("img", name=f"Card number {member.card_number}").first).to_be_visible()

    page.get_by_role("navigation", name="Member pages").get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="History", exact=True)).to_be_visible()
    rows = page.locator(".portal-history-entry")
    expect(rows).to_have_count(3)

    page.get_by_text("Filter", exact=True).click()
    page.get_by_label("Kind").select_option(label="Adjustment")
    page.get_by_role("button", name="Show").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Sorry for the wait")
    expect(rows.first).to_contain_text("+15")
    expect(page.get_by_label("Kind")).to_have_value("adjust")


def test_the_history_fits_a_360_pixel_phone_without_scrolling_sideways(
    live_server, page: Page, program, tiers
):
    member = MemberFactory(first_name="Aminah", user__email="aminah@example.com")
    store = StoreFactory(code="klcc", name="Setia Bandar Utama Seksyen Tiga Belas")
    purchase_record(
        sale=SaleInput(
            store=store,
            reference="A-VERY-LONG-RECEIPT-REFERENCE-0001",
            member=member,
            occurred_at=timezone.now() - timedelta(days=1),
            items=[LineInput(sku="BATIK", quantity=1, unit_price=Decimal("123456.00"))],
        ),
        actor=Actor.system(),
    )
    points_adjust(
        actor=Actor.system(), member=member, points=-400, reason="Correction of a duplicate"
    )
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill("aminah@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.goto(live_server.url + "/portal/history/")

    entries = page.locator(".portal-history-entry")
    expect(entries).to_have_count(2)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    newest = entries.first
    expect(newest.get_by_test_id("entry-points")).to_have_text("-400")
    expect(newest.get_by_test_id("entry-balance")).to_have_text("123056")
    expect(newest.get_by_test_id("entry-balance")).to_be_in_viewport()
    box = newest.get_by_test_id("entry-balance").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 360
