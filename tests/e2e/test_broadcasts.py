"""A marketer's broadcast in a real browser, from the compose form to the
members' inboxes: a consenting member of the segment sees it with the unread
count in the navigation; a member of the segment without consent does not."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from loyalty.actors import Actor
from loyalty.notifications import notifications_mark_all_read
from members.segments import segment_create
from tests.e2e.test_campaigns import sign_in
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

TITLE = "Durian week"


def test_a_marketer_sends_a_broadcast_that_a_consenting_member_sees_in_the_inbox(
    live_server, page: Page, marketer, program
):
    segment_create(
        actor=Actor.system(),
        name="VIP",
        rules={"all": [{"field": "tags", "op": "contains", "value": "vip"}]},
    )
    aminah = MemberFactory(
        first_name="Aminah", user__email="aminah@example.com", tags=["vip"], marketing_consent=True
    )
    budi = MemberFactory(
        first_name="Budi", user__email="budi@example.com", tags=["vip"], marketing_consent=False
    )
    # Their welcome messages read, so the count in the navigation is the broadcast's alone.
    for member in (aminah, budi):
        notifications_mark_all_read(member_id=member.pk)
    page.on("dialog", lambda dialog: dialog.accept())

    sign_in(page, live_server.url, marketer.email)
    page.get_by_role("link", name="Broadcasts").click()
    page.get_by_role("link", name="New broadcast").first.click()
    page.get_by_label("Title (English)").fill(TITLE)
    page.get_by_label("Message (English)").fill("Double points on durian all week.")
    page.get_by_label("Title (Malay)").fill("Minggu durian")
    page.get_by_label("Message (Malay)").fill("Mata ganda dua untuk durian sepanjang minggu.")
    page.get_by_label("Segment").select_option(label="VIP")
    page.get_by_role("button", name="Save and preview").click()

    english = page.get_by_test_id("preview-en")
    malay = page.get_by_test_id("preview-ms")
    expect(english).to_contain_text(TITLE)
    expect(malay).to_contain_text("Minggu durian")
    assert page.locator(".phone-frame").first.bounding_box()["width"] <= 360

    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_text("Broadcast sent.")).to_be_visible()
    expect(page.get_by_test_id("broadcast-status")).to_have_text("Sent")
    expect(page.get_by_test_id("figure-recipients")).to_have_text("2")
    expect(page.get_by_test_id("figure-delivered")).to_have_text("1")
    expect(page.get_by_test_id("figure-skipped")).to_have_text("1")
    expect(page.get_by_test_id("figure-opened")).to_have_text("0 (0 %)")
    detail_url = page.url

    page.context.clear_cookies()
    sign_in(page, live_server.url, "aminah@example.com")
    expect(page.get_by_role("heading", name="Hello, Aminah")).to_be_visible()
    unread = page.locator(".portal-unread")
    expect(unread).to_have_text("1 unread")
    page.get_by_role("link", name="Messages").first.click()
    entry = page.locator(".portal-inbox-entry", has_text=TITLE)
    expect(entry).to_be_visible()
    entry.get_by_role("link").click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.locator(".portal-unread")).to_have_count(0)

    page.context.clear_cookies()
    sign_in(page, live_server.url, "budi@example.com")
    expect(page.get_by_role("heading", name="Hello, Budi")).to_be_visible()
    expect(page.locator(".portal-unread")).to_have_count(0)
    page.get_by_role("link", name="Messages").first.click()
    expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    expect(page.get_by_text(TITLE)).to_have_count(0)

    # The marketer sees the member's read as an opening.
    page.context.clear_cookies()
    sign_in(page, live_server.url, marketer.email)
    page.goto(detail_url)
    expect(page.get_by_test_id("figure-opened")).to_have_text("1 (100 %)")
