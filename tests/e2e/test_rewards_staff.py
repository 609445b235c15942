"""A marketer builds the catalogue in a real browser, without JavaScript tricks."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from loyalty.actors import Actor
from rewards.models import Reward
from rewards.services import redemption_create
from tests.factories import PASSWORD
from tests.rewards.conftest import fund, make_reward

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


def test_stock_added_on_a_page_opened_before_redemptions_keeps_them_taken(
    live_server, page: Page, marketer, shopper
):
    fund(shopper, 1000)
    reward = make_reward(name="Tote bag", stock=5, points_cost=100)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(marketer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.goto(live_server.url + "/staff/rewards/")
    page.get_by_role("link", name="Edit Tote bag").click()
    expect(page.get_by_label("Stock left")).to_have_value("5")

    # Two are redeemed while the page is open; the marketer adds 10 to the 5 shown.
    redemption_create(member=shopper, reward=reward, quantity=2, actor=Actor.system())
    page.get_by_label("Stock left").fill("15")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The stock changed while you edited: 13 left now.")).to_be_visible()
    expect(page.locator("tbody tr", has_text="Tote bag").locator("td.num").nth(1)).to_have_text(
        "13"
    )
    expect(page.locator("tbody tr", has_text="Tote bag").locator("td.num").nth(2)).to_have_text("2")
    assert Reward.objects.get(pk=reward.pk).stock == 13

    page.get_by_role("link", name="Donations by cause").click()
    expect(page.get_by_role("heading", name="Donations by cause")).to_be_visible()
    expect(page.get_by_text("No donations yet")).to_be_visible()
