"""Journeys through the site in a real browser."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_signs_up_verifies_signs_in_and_reads_the_portal_in_malay(
    live_server, page: Page, roles
):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Join for free").click()

    page.get_by_label("First name").fill("Siti")
    page.get_by_label("Last name").fill("Aminah")
    page.get_by_label("Email").fill("siti@example.com")
    page.get_by_label("Password", exact=True).fill("kopi-susu-pagi-77")
    page.get_by_label("Password (again)").fill("kopi-susu-pagi-77")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()

    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(
        1
    )
    page.goto(live_server.url + link)
    page.get_by_role("button", name="Confirm").click()

    page.get_by_label("Email").fill("siti@example.com")
    page.get_by_label("Password").fill("kopi-susu-pagi-77")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Hello, Siti")).to_be_visible()

    # The switch submits itself when the choice changes (the button is for no-JS).
    page.get_by_label("Language").select_option("ms")
    # The form's submit and the reload: longer than 5 s once on a loaded CI machine.
    expect(page.get_by_role("heading", name="Helo, Siti")).to_be_visible(timeout=15_000)
    expect(page.locator("html")).to_have_attribute("lang", "ms")


def test_a_manager_signs_in_to_the_back_office(live_server, page: Page, manager):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(live_server.url + "/staff/")
    expect(page.get_by_role("navigation", name="Back-office sections")).to_be_visible()
    page.get_by_role("link", name="Stores").first.click()
    expect(page.get_by_role("heading", name="Stores")).to_be_visible()
