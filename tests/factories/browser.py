"""Steps shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page

PASSWORD = "correct-horse-battery"


def log_in(page: Page, base: str, username: str, *, lands_on: str) -> None:
    """Log in through the login page and wait for the page the role lands on."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands_on}")
