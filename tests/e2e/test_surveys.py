"""A survey in a real browser, from the member's home page to the store's
follow-up queue: the member opens their invitation, picks 0 on the scale and
writes why; the store's staff find it in the queue, note the call, give
goodwill points and close it; the member's history shows the points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from analytics.surveys import survey_invitations_send
from tests.analytics.factories import bought, surveys_on
from tests.e2e.test_campaigns import sign_in
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_members_zero_reaches_the_queue_and_staff_recover_it_with_goodwill(
    live_server, page: Page, program, store_staff
):
    surveys_on()
    member = MemberFactory(first_name="Aminah", user__email="aminah@example.com")
    bought(member, program.main_store, at=timezone.now() - timedelta(hours=2))
    assert survey_invitations_send(as_of=timezone.now()) == 1
    store_staff.store = program.main_store
    store_staff.save(update_fields=["store"])

    sign_in(page, live_server.url, "aminah@example.com")
    page.get_by_test_id("survey-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(program.main_store.name)
    page.locator(".score-choice", has_text="0").first.click()
    expect(page.get_by_label("0", exact=True)).to_be_checked()
    page.get_by_label("Tell us more (optional)").fill("Waited half an hour for a kopi.")
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_text("someone from our team will get back to you")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, live_server.url, store_staff.email)
    page.get_by_role("link", name="Follow-ups").click()
    queue = page.get_by_test_id("follow-ups")
    expect(queue).to_contain_text("Waited half an hour for a kopi.")
    queue.get_by_role("link", name=member.full_name).click()
    expect(page.get_by_test_id("score")).to_have_text("0")
    page.get_by_label("What you did").fill("Called Aminah and apologised.")
    page.get_by_label("Goodwill points").fill("100")
    page.get_by_role("button", name="Save and close").click()
    expect(page.get_by_text("Follow-up closed.")).to_be_visible()
    page.get_by_role("link", name="Closed").click()
    expect(page.get_by_test_id("follow-ups")).to_contain_text(member.full_name)
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, live_server.url, "aminah@example.com")
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.get_by_text("Service recovery: goodwill points")).to_be_visible()
