"""The pages that run the most script, in a real browser, under the site's
Content-Security-Policy (the e2e conftest fails a test on any violation)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import totp_code
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_page_renders_swagger_ui_under_the_policy(live_server, page: Page):
    response = page.goto(live_server.url + "/api/docs/")
    assert (
        "'unsafe-inline'"
        not in response.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    )
    expect(page.get_by_role("heading", name="Setia integration API")).to_be_visible()
    expect(page.get_by_text("/api/v1/program").first).to_be_visible()


def test_the_redoc_page_renders_under_the_policy(live_server, page: Page):
    page.goto(live_server.url + "/api/redoc/")
    expect(page.get_by_role("heading", name="Setia integration API")).to_be_visible()


def test_a_blocked_inline_script_is_reported_on_the_console(live_server, browser: Browser):
    """What the conftest listens for is what Chromium prints when the policy
    blocks a script (a context of its own, so this violation fails nothing)."""
    context = browser.new_context()
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(live_server.url + "/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = true'; document.body.append(s); }"
    )
    assert page.evaluate("() => window.ran === undefined")
    assert any("Content Security Policy" in text for text in messages), messages
    context.close()


def test_a_manager_with_totp_signs_in_with_the_code_and_sees_the_two_factor_pages(
    live_server, page: Page, manager
):
    """The two-factor pages of allauth (the code step, the overview, the
    recovery codes with their script) under the policy, and /staff/ after it."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(manager, secret)
    RecoveryCodes.activate(manager)
    page.goto(live_server.url + "/accounts/login/?next=/staff/")
    page.get_by_label("Email").fill(manager.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(live_server.url + "/staff/")

    page.goto(live_server.url + "/accounts/2fa/")
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    page.goto(live_server.url + "/accounts/2fa/recovery-codes/")
    # Seeing the codes asks to confirm it is you, with the password.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()


def test_the_admin_door_is_the_sites_sign_in_page(live_server, page: Page):
    """/admin/ sends to the site's sign-in page and back; the admin pages render
    under the policy."""
    from tests.factories import UserFactory

    root = UserFactory(is_staff=True, is_superuser=True)
    page.goto(live_server.url + "/admin/")
    expect(page).to_have_url(live_server.url + "/accounts/login/?next=%2Fadmin%2F")
    page.get_by_label("Email").fill(root.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(live_server.url + "/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.get_by_role("link", name="Users").first.click()
    expect(page.get_by_role("heading", name="Select user to change")).to_be_visible()
