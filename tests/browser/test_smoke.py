"""Smoke test in Debian's Chromium through Playwright: a manager logs in and opens the
deal list, in Russian."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal

import pytest

from tests import factories
from tests.conftest import need_service

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        need_service(f"Chromium is not installed at {CHROMIUM}")
    # Playwright's sync API runs an event loop; Django refuses ORM calls from it otherwise.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def test_manager_logs_in_and_opens_the_deal_list(live_server, browser, tmp_path):
    manager = factories.ManagerFactory(
        email="ivanova@example.com", username="ivanova@example.com", first_name="Анна"
    )
    customer = factories.ClientFactory(manager=manager, name="ООО «Металлобаза»")
    factories.DealFactory(
        client=customer, manager=manager, title="Арматура А500С 20 т", amount=Decimal("1234567.89")
    )
    page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})

    page.goto(f"{live_server.url}/crm/deals/")
    page.fill("input[name=username]", "ivanova@example.com")
    page.fill("input[name=password]", "password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/**")
    page.goto(f"{live_server.url}/crm/deals/")

    assert page.locator("h1").first.inner_text() == "Сделки"
    assert page.get_by_text("Арматура А500С 20 т").is_visible()
    assert page.get_by_role("cell", name="ООО «Металлобаза»", exact=True).is_visible()
    amount = page.locator("tbody td.num").first.inner_text()
    assert amount.replace("\u00a0", " ") == "1 234 567,89 ₽"
    assert page.locator("nav .navbar-brand").inner_text() == "Виртуальный РОП"
    screenshot = tmp_path / "deal-list.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    toggler = page.locator(".navbar-toggler")
    assert toggler.is_visible()  # the navigation collapses on a phone
    # On a phone the client moves under the deal's title and its column is hidden.
    assert not page.get_by_role("cell", name="ООО «Металлобаза»", exact=True).is_visible()
    assert page.locator("td div.d-md-none", has_text="ООО «Металлобаза»").is_visible()
    toggler.click()
    page.get_by_role("link", name="Клиенты").wait_for(state="visible")
    page.screenshot(path=str(tmp_path / "deal-list-phone.png"), full_page=True)
