"""A marketer builds the catalogue in a real browser, without JavaScript tricks."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from rewards.models import Reward
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_marketer_adds_two_rewards_reorders_them_and_previews_one(
    live_server, page: Page, marketer, tiers
):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(marketer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    for name, points in (("RM10 off", "500"), ("RM25 off", "1100")):
        page.goto(live_server.url + "/staff/")
        page.get_by_role("navigation", name="Back-office sections").get_by_role(
            "link", name="Rewards"
        ).click()
        page.get_by_role("link", name="Add a reward").first.click()
        page.get_by_label("Name").fill(name)
        page.get_by_label("Kind").select_option("discount_fixed")
        page.get_by_label("Points cost").fill(points)
        page.get_by_label("Value").fill(str(int(points) // 50))
        page.get_by_label("Gold").check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text(f"Reward {name} created.")).to_be_visible()

    page.get_by_role("button", name="Move RM25 off up").click()
    rows = page.locator("tbody tr td:first-child")
    expect(rows).to_have_text(["RM25 off", "RM10 off"])

    page.get_by_role("link", name="Preview RM25 off").click()
    expect(page.get_by_role("heading", name="RM25 off", exact=True)).to_be_visible()
    expect(page.get_by_text("1100 points")).to_be_visible()
    assert list(Reward.objects.values_list("name", flat=True)) == ["RM25 off", "RM10 off"]
