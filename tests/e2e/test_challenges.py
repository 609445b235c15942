"""A challenge in a real browser: the member joins "Three kopi" in the portal,
the till posts their purchases through the API, and the member sees the bar
fill, the challenge completed, and its badge appear on the wall."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from campaigns.challenges import badge_create, challenge_create
from loyalty.actors import Actor
from loyalty.models import ApiScope
from tests.conftest import api_client_for
from tests.e2e.test_campaigns import sign_in
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_joins_a_challenge_and_sees_the_bar_fill_and_the_badge_appear(
    live_server, page: Page, program
):
    member = MemberFactory(first_name="Aminah", user__email="aminah@example.com")
    badge = badge_create(actor=Actor.system(), name="Kopi regular", icon="coffee")
    now = timezone.now()
    challenge_create(
        actor=Actor.system(),
        name="Three kopi",
        goal="purchase_count",
        target=Decimal("3"),
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=12, hours=-2),  # "12 days left"
        opt_in=True,
        reward_points=100,
        badge=badge,
        status="scheduled",
    )
    till = api_client_for(ApiScope.POS)

    def purchase(reference: str) -> None:
        answer = page.request.post(
            live_server.url + "/api/v1/purchases",
            headers={"Authorization": till._credentials["HTTP_AUTHORIZATION"]},
            data={
                "reference": reference,
                "card_number": member.card_number,
                "items": [{"sku": "KOPI-O", "quantity": 1, "unit_price": "2.80"}],
            },
        )
        assert answer.status == 201, answer.text()

    sign_in(page, live_server.url, "aminah@example.com")
    expect(page.get_by_role("heading", name="Hello, Aminah")).to_be_visible()
    page.get_by_role("link", name="Challenges").first.click()
    card = page.get_by_test_id("challenge").filter(has_text="Three kopi")
    expect(card).to_contain_text("Make 3 purchases")
    card.get_by_role("button", name="Join").click()
    expect(page.get_by_text("You joined Three kopi")).to_be_visible()
    bar = (
        page.get_by_test_id("challenge")
        .filter(has_text="Three kopi")
        .get_by_test_id("challenge-bar")
    )
    expect(bar).to_have_attribute("value", "0")

    purchase("K-1")
    purchase("K-2")
    page.reload()
    card = page.get_by_test_id("challenge").filter(has_text="Three kopi")
    expect(card.get_by_test_id("challenge-progress")).to_contain_text("2 of 3 purchases")
    expect(card.get_by_test_id("challenge-progress")).to_contain_text("12 days left")
    expect(card.get_by_test_id("challenge-bar")).to_have_attribute("value", "66")

    # The badge is still locked, with the way to earn it.
    page.get_by_role("link", name="Badges", exact=True).click()
    tile = page.get_by_test_id("badge").filter(has_text="Kopi regular")
    expect(tile).to_have_attribute("data-earned", "no")
    expect(tile).to_contain_text("Three kopi: Make 3 purchases")

    purchase("K-3")
    page.get_by_role("link", name="Home").first.click()
    panel = page.get_by_test_id("challenges-panel")
    expect(panel.get_by_test_id("challenges-moved")).to_contain_text("Three kopi")
    expect(panel.get_by_test_id("challenges-moved")).to_contain_text("Completed")

    page.get_by_role("link", name="Challenges").first.click()
    done = page.get_by_test_id("completed").get_by_test_id("challenge")
    expect(done).to_contain_text("Three kopi")
    expect(done.get_by_test_id("challenge-bar")).to_have_attribute("value", "100")
    page.get_by_role("link", name="Badges", exact=True).click()
    tile = page.get_by_test_id("badge").filter(has_text="Kopi regular")
    expect(tile).to_have_attribute("data-earned", "yes")
    expect(tile).to_contain_text("Earned on")
