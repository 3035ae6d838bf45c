"""The demo's promise, in Chromium: on a fast clock the records replay, the background screening raises an alert
nobody asked for, and the provider who then opens the chart sees it with the risk over time. Saves a screenshot."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from app import audit
from sandbox.stack import start_stack
from tests.support.e2e import screenshot


def test_a_provider_opening_the_chart_sees_the_screenings_alert_and_the_risk_over_time(page: Page, tmp_path):
    stack = start_stack(app_overrides={"database_url": f"sqlite:///{tmp_path / 'screening.db'}"},
                        sandbox_settings={"LOAD_SAMPLE_PATIENTS": False}, demo_speed=60, screen=True)
    try:
        engine = stack.app.extensions["sentinel"].engine
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not audit.entries(engine, action="raise_alert"):
            time.sleep(0.25)  # one demo hour per real second
        raised = audit.entries(engine, action="raise_alert")
        assert raised, "the screening raised no alert within a minute"
        page.goto(f"{stack.ehr_url}/")
        page.select_option("select#user", "provider")
        page.select_option("select#patient", raised[-1]["patient_id"])
        page.get_by_role("button", name="Open Sepsis Sentinel").click()
        app = page.frame_locator("iframe#app")
        expect(app.locator("#active-alert")).to_be_visible(timeout=15_000)
        trend = app.locator("#risk-trend")
        expect(trend.locator("svg.chart")).to_be_visible()
        assert trend.locator("svg.chart circle.point").count() >= 2  # a line of the recorded scores
        expect(trend).to_contain_text("from the background screening")
        expect(trend.locator("svg.chart")).to_contain_text("site threshold")
        screenshot(page, "screening-alert-and-risk-over-time")
        trend.scroll_into_view_if_needed()
        trend.screenshot(path=str(screenshot(page, "screening-risk-over-time").with_name(
            "screening-risk-over-time.png")))
    finally:
        stack.shutdown()
