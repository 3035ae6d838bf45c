"""A nurse and a provider open Sepsis Sentinel from a patient's chart in the sandbox EHR, inside its iframe."""

import pytest
from playwright.sync_api import Page, expect

from tests.support.e2e import open_chart, screenshot


@pytest.mark.parametrize("user, role", [("nurse", "nurse"), ("provider", "provider")])
def test_clinician_opens_the_app_from_the_chart(page: Page, stack, user, role):
    app = open_chart(page, user, "demo-102421")
    expect(app.locator("#page-title")).to_contain_text("Margaret Holloway")  # the chart shows the banner
    expect(app.locator("#role")).to_have_text(role)
    expect(app.locator("#assist-line")).to_contain_text("the clinician decides")
    assert page.frame_locator("iframe#app").locator("body").evaluate("() => window.htmx.version") == "2.0.11"
    screenshot(page, f"launch-{role}")
