"""A shared ward workstation: a provider, then a nurse, then the provider again open Sepsis Sentinel in ONE
browser. Each sees only their own name and role; the provider's earlier page is not theirs to reopen once the
nurse has launched; and Sign out ends the session."""

import re

from playwright.sync_api import Page, expect

from tests.support.e2e import open_chart, screenshot

PROVIDER_PATIENT, NURSE_PATIENT = "demo-102421", "demo-108952"


def who(app) -> tuple[str, str]:
    return app.locator("#current-user").inner_text(), app.locator("#role").inner_text()


def test_provider_then_nurse_then_provider_in_one_browser(page: Page, stack):
    app = open_chart(page, "provider", PROVIDER_PATIENT)
    expect(app.locator("#role")).to_have_text("provider")
    expect(app.locator("#current-user")).to_contain_text("Okafor")

    app = open_chart(page, "nurse", NURSE_PATIENT)  # the next clinician at the same workstation
    expect(app.locator("#role")).to_have_text("nurse")
    expect(app.locator("#current-user")).to_contain_text("Lindqvist")
    assert "Okafor" not in app.locator("header").inner_text()
    screenshot(page, "shared-workstation-nurse")

    # The provider's page, opened again in this browser, is not served as the provider (nor as the nurse).
    page.goto(f"{stack.app_url}/patients/{PROVIDER_PATIENT}")
    expect(page.locator("body")).to_contain_text("open Sepsis Sentinel")
    assert "Okafor" not in page.content() and "Lindqvist" not in page.locator("header").inner_text()

    app = open_chart(page, "provider", PROVIDER_PATIENT)  # the provider returns and launches again
    expect(app.locator("#role")).to_have_text("provider")
    expect(app.locator("#current-user")).to_contain_text("Okafor")
    assert "Lindqvist" not in app.locator("header").inner_text()

    app.get_by_role("button", name="Sign out").click()
    expect(app.locator("#signed-out")).to_contain_text("You are signed out")
    assert "Okafor" not in app.locator("header").inner_text()
    screenshot(page, "shared-workstation-signed-out")
    page.goto(f"{stack.app_url}/patients/{PROVIDER_PATIENT}")  # the session ended on the server
    expect(page.locator("body")).to_contain_text(re.compile("Please open Sepsis Sentinel from the chart"))
