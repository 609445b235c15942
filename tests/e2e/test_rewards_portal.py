"""A member redeems a reward in a real browser and gets a scannable voucher."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from members.models import PointsAccount
from rewards.models import Voucher
from tests.factories import PASSWORD, MemberFactory
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_redeems_a_reward_and_sees_the_voucher_qr(live_server, page: Page, program, tiers):
    member = MemberFactory(first_name="Aminah", user__email="aminah@example.com")
    fund(member, 800)
    make_reward(name="RM10 off", points_cost=500, featured=True)
    make_reward(name="Weekend away", points_cost=5000)

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill("aminah@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Hello, Aminah")).to_be_visible()

    page.get_by_role("navigation", name="Member pages").get_by_role("link", name="Rewards").click()
    expect(page.get_by_role("heading", name="Rewards", exact=True)).to_be_visible()
    expect(page.get_by_text("You need 4200 more points.")).to_be_visible()

    page.get_by_label("Only what I can afford").check()
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("link", name="Weekend away")).to_have_count(0)

    page.get_by_role("link", name="RM10 off").click()
    page.get_by_role("link", name="Redeem").click()
    expect(page.get_by_role("heading", name="Confirm your redemption")).to_be_visible()
    expect(page.get_by_test_id("balance-after")).to_have_text("300")
    page.get_by_role("button", name="Confirm and redeem").click()

    voucher = Voucher.objects.get(member=member)
    expect(page.get_by_role("heading", name="Your voucher")).to_be_visible()
    expect(page.get_by_text("You redeemed RM10 off for 500 points.")).to_be_visible()
    expect(page.get_by_test_id("voucher-code")).to_have_text(voucher.code)
    qr = page.get_by_role("img", name=f"Voucher code {voucher.code}")
    expect(qr).to_be_visible()
    assert qr.evaluate("node => node.tagName.toLowerCase()") == "svg"
    assert PointsAccount.objects.get(member=member).balance == 300


def test_a_voucher_redeemed_in_the_portal_is_used_at_the_counter_and_shows_as_used(
    live_server, browser, program, tiers, store_staff
):
    """The whole journey of issue 4: the member redeems, store staff type the
    code (lower case, no dashes) at the counter and use it, the member sees it used."""
    member = MemberFactory(first_name="Farah", user__email="farah@example.com")
    fund(member, 600)
    make_reward(name="Free Teh Tarik", points_cost=150)

    portal = browser.new_page(viewport={"width": 390, "height": 844})
    portal.goto(live_server.url + "/accounts/login/")
    portal.get_by_label("Email").fill("farah@example.com")
    portal.get_by_label("Password").fill(PASSWORD)
    portal.get_by_role("button", name="Sign In").click()
    portal.goto(live_server.url + "/portal/rewards/")
    portal.get_by_role("link", name="Free Teh Tarik").click()
    portal.get_by_role("link", name="Redeem").click()
    portal.get_by_role("button", name="Confirm and redeem").click()
    code = Voucher.objects.get(member=member).code
    expect(portal.get_by_test_id("voucher-code")).to_have_text(code)

    counter = browser.new_page(viewport={"width": 1280, "height": 900})
    counter.goto(live_server.url + "/accounts/login/")
    counter.get_by_label("Email").fill(store_staff.email)
    counter.get_by_label("Password").fill(PASSWORD)
    counter.get_by_role("button", name="Sign In").click()
    nav = counter.get_by_role("navigation", name="Back-office sections")
    nav.get_by_role("link", name="Vouchers & gift cards").click()
    counter.get_by_label("Code").fill(code.replace("-", "").lower())
    counter.get_by_role("button", name="Look up").click()
    expect(counter.get_by_test_id("voucher-status")).to_have_text("Ready to use")
    expect(counter.get_by_test_id("voucher-facts")).to_contain_text(member.card_number)
    counter.get_by_role("link", name="Use it").click()
    counter.get_by_role("button", name="Yes, use it now").click()
    expect(
        counter.get_by_text(f"Voucher {code} used: give the customer their reward.")
    ).to_be_visible()

    portal.goto(live_server.url + "/portal/rewards/vouchers/")
    used = portal.get_by_role("region", name="Used")
    expect(used).to_contain_text(code)
    expect(portal.get_by_text("No vouchers to use")).to_be_visible()
