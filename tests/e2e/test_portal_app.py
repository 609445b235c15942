"""The portal as an app in a real browser: the manifest is linked, the
service worker registers, the card opens offline after one visit, and signing
out forgets the kept card."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.factories import PASSWORD, MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

KEPT_CARD = "caches.open('setia-card-v1').then(c => c.match('/portal/')).then(r => !!r)"


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(url + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def test_the_card_opens_offline_after_one_visit_and_is_forgotten_at_sign_out(
    live_server, page: Page, context: BrowserContext, program, tiers
):
    member = MemberFactory(first_name="Aminah", user__email="aminah@example.com")
    sign_in(page, live_server.url, "aminah@example.com")
    expect(page.get_by_role("heading", name="Hello, Aminah")).to_be_visible()

    # Linked manifest, and the worker from /sw.js controlling the whole site.
    manifest = page.locator("link[rel=manifest]")
    assert manifest.get_attribute("href") == "/manifest.webmanifest"
    assert page.evaluate(
        "fetch('/manifest.webmanifest').then(r => r.json()).then(m => m.display)"
    ) == ("standalone")
    registered = page.evaluate(
        "navigator.serviceWorker.ready.then(r => [r.active.scriptURL, r.scope])"
    )
    assert registered == [live_server.url + "/sw.js", live_server.url + "/"]
    page.wait_for_function(KEPT_CARD, polling=100)
    expect(page.get_by_text("You are offline")).to_be_hidden()

    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Hello, Aminah")).to_be_visible()
    expect(page.get_by_test_id("card-number")).to_contain_text(member.card_number[:4])
    expect(page.get_by_text("You are offline: this is your card")).to_be_visible()
    # Its styles came from the kept static files too.
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.portal-nav')).display") != "inline"
    )

    context.set_offline(False)
    page.reload()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server.url + "/")
    page.wait_for_function(f"{KEPT_CARD}.then(kept => !kept)", polling=100)
    context.set_offline(True)
    with pytest.raises(Exception, match="net::ERR_"):
        page.goto(live_server.url + "/portal/")
    context.set_offline(False)


def test_the_profile_page_says_why_there_is_no_push_without_keys(
    live_server, page: Page, program, tiers
):
    MemberFactory(first_name="Aminah", user__email="aminah@example.com")
    sign_in(page, live_server.url, "aminah@example.com")
    page.get_by_role("navigation", name="Member pages").get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Notifications on this device")).to_be_visible()
    expect(page.get_by_test_id("push-unavailable")).to_contain_text("has not set them up")


def test_with_keys_the_profile_offers_to_turn_notifications_on_and_says_when_it_fails(
    live_server, page: Page, context: BrowserContext, program, tiers, settings
):
    from loyalty.webpush import vapid_keys_generate

    public, private = vapid_keys_generate()
    settings.LOYALTY_VAPID_PUBLIC_KEY = public
    settings.LOYALTY_VAPID_PRIVATE_KEY = private
    settings.LOYALTY_VAPID_SUBJECT = "mailto:ops@setia.example"
    MemberFactory(first_name="Aminah", user__email="aminah@example.com")
    sign_in(page, live_server.url, "aminah@example.com")
    page.goto(live_server.url + "/portal/profile/")
    expect(page.get_by_text("Notifications are off on this device.")).to_be_visible()
    turn_on = page.get_by_role("button", name="Turn on notifications")
    expect(turn_on).to_be_visible()
    expect(page.get_by_role("button", name="Turn off notifications")).to_be_hidden()

    # Headless Chromium has no push service to subscribe with: the member is
    # told it did not work, and nothing is stored.
    context.grant_permissions(["notifications"])
    turn_on.click()
    expect(page.get_by_text("That did not work.")).to_be_visible()
    from members.models import PushSubscription

    assert not PushSubscription.objects.exists()
