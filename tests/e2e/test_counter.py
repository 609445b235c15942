"""The counter in a real browser: store staff find a member and record a sale."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from purchases.models import Purchase
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_store_staff_find_a_member_by_phone_and_record_a_purchase(
    live_server, page: Page, store_staff, shopper
):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(store_staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(live_server.url + "/staff/")

    page.get_by_role("link", name="Find a member").click()
    page.get_by_label("Card number, phone, email, external id or name").fill("+60 12-345 6789")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name=shopper.full_name)).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("0")

    page.get_by_role("link", name="Record a purchase").click()
    page.get_by_label("Receipt number").fill("KLCC-0001")
    page.get_by_label("Total").fill("100.00")
    page.get_by_role("button", name="Preview the points").click()
    expect(page.get_by_test_id("points-earned")).to_have_text("100")
    expect(page.get_by_test_id("amount-due")).to_contain_text("100.00")

    page.get_by_role("button", name="Confirm and record").click()
    expect(page.get_by_text("Purchase recorded: 100 points earned.")).to_be_visible()
    expect(page.get_by_role("heading", name="Purchase KLCC-0001")).to_be_visible()

    page.get_by_role("link", name=shopper.full_name).first.click()
    expect(page.get_by_test_id("balance")).to_have_text("100")
    assert Purchase.objects.get().total == 100
