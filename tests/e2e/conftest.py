"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.conftest import CHROMIUM, need

# The live server runs in a thread while Playwright's sync API holds an event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Playwright launches the browser in its session fixtures, before any
    # function-scoped fixture runs, so the check for Chromium lives here: a
    # missing browser skips (fails under CI) instead of erroring in the launch.
    if not shutil.which(CHROMIUM):
        need(f"this test needs Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright cannot download its own browsers here: use the system Chromium.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "en-GB", "viewport": {"width": 390, "height": 844}}


@pytest.fixture
def context(context: BrowserContext) -> Iterator[BrowserContext]:
    """Every page of a browser test runs under the site's Content-Security-Policy:
    what the policy blocked (an inline script, a style, an image from elsewhere)
    Chromium reports on the console, and the test fails with the reports."""
    violations: list[str] = []

    def watch(page: Page) -> None:
        page.on(
            "console",
            lambda message: (
                violations.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )

    context.on("page", watch)
    yield context
    assert violations == [], "blocked by the Content-Security-Policy:\n" + "\n".join(violations)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.browser)
