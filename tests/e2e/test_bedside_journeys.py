"""Issue 5's journeys, in Chromium, inside the sandbox EHR's chart iframe, with the trained model:
a nurse sees the alert but cannot confirm it; a provider confirms and an order reaches the EHR; a pause hides
the alert until it ends; a dismissal holds on reopening; two providers at once. Each saves a screenshot.

Each journey gets its own stack (about 1 s) so alerts do not carry over, and one clock shared by the EHR and
the app, so a test can move time forward (the pause) without any time-travel endpoint in the app.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from sandbox import state
from sandbox.stack import start_stack
from tests.support.e2e import SEPTIC, open_at, screenshot
from tests.support.web import Clock as SharedClock


@pytest.fixture(scope="module", autouse=True)
def trained_model():
    from app.model import ModelError, load_model

    try:
        return load_model()
    except ModelError as exc:  # pragma: no cover - the artifact ships with the repository
        pytest.skip(f"the trained model is not available: {exc}")


@pytest.fixture
def clock():
    return SharedClock()


@pytest.fixture
def bedside(tmp_path, clock):
    stack = start_stack(
        app_overrides={"database_url": f"sqlite:///{tmp_path / 'bedside.db'}", "clock": clock.now,
                       "session_idle_minutes": 24 * 60},
        sandbox_settings={"CLOCK": clock.epoch, "LOAD_SAMPLE_PATIENTS": False, "ORDERS_REFRESH_SECONDS": 1})
    yield stack
    stack.shutdown()


def shot(page: Page, app: FrameLocator, selector: str, name: str) -> None:
    """Scroll the part of the page the journey is about into view, then save the screenshot."""
    app.locator(selector).scroll_into_view_if_needed()
    screenshot(page, name)


def test_nurse_sees_the_alert_but_cannot_confirm_and_a_forged_post_is_refused(page: Page, bedside):
    app = open_at(page, bedside, "nurse")
    expect(app.locator("#risk-level")).to_contain_text(
        "Sepsis alert: risk above this site's alert threshold, with a sign of organ dysfunction")
    expect(app.locator("#active-alert")).to_be_visible()
    expect(app.locator("#alert-signs")).to_contain_text("Systolic BP")
    expect(app.locator("#confirm-alert")).to_be_disabled()
    expect(app.locator("#decide-why")).to_contain_text("Only a provider can confirm")
    expect(app.locator("#save-screening")).to_be_enabled()
    shot(page, app, "#nursing", "bedside-nurse-sees-alert")

    token = app.locator("#alert-panel input[name=csrf_token]").first.get_attribute("value")
    alert_id = app.locator("#active-alert").get_attribute("data-alert-id")
    forged = page.context.request.post(f"{bedside.app_url}/patients/{SEPTIC}/alerts/{alert_id}/confirm",
                                       form={"csrf_token": token, "submission_id": uuid.uuid4().hex})
    assert forged.status == 403
    assert "Not allowed for your role" in forged.text()


def test_provider_confirms_the_clocks_start_and_an_order_appears_in_the_ehr(page: Page, bedside):
    app = open_at(page, bedside, "provider")
    expect(app.locator("#bundle-waiting")).to_be_visible()
    app.locator("#confirm-alert").click()
    expect(app.locator("#alert-state")).to_have_attribute("data-state", "confirmed")
    expect(app.locator("#time-zero")).to_contain_text("3-hour clock ends")  # the bundle refreshed itself
    expect(app.locator("#element-lactate")).to_have_attribute("data-status", "done")
    # The repeat lactate is done (a later lactate is the repeat), so the first order is the antibiotic.
    expect(app.locator("#element-repeat_lactate")).to_have_attribute("data-status", "done")
    app.locator("#choice-antibiotics").select_option("piperacillin")
    app.locator("#order-button-antibiotics").click()
    expect(app.locator("#order-antibiotics")).to_contain_text("Proposed Piperacillin-tazobactam IV")
    orders = page.frame_locator("iframe#orders")
    expect(orders.locator("#order-list")).to_contain_text("Piperacillin", timeout=10_000)
    expect(orders.locator("#order-list")).to_contain_text("draft / proposal")
    shot(page, app, "#bundle-title", "bedside-provider-confirms-and-orders")
    placed = [o for o in state.of(bedside.ehr).store.in_compartment(SEPTIC, "MedicationRequest")
              if o.get("requester", {}).get("reference") == "Practitioner/provider"]
    assert len(placed) == 1 and placed[0]["encounter"]["reference"] == f"Encounter/{SEPTIC}-icu"


def test_provider_pauses_and_the_alert_is_gone_until_the_pause_ends(page: Page, bedside, clock):
    app = open_at(page, bedside, "provider")
    app.locator("#alert-panel input[name=duration][value='1']").check()
    app.locator("#pause-alert").click()
    expect(app.locator("#alert-state")).to_have_attribute("data-state", "paused")
    app = open_at(page, bedside, "provider")  # reopen the chart: still paused, no alert
    expect(app.locator("#alert-state")).to_contain_text("Alert paused by")
    expect(app.locator("#active-alert")).to_have_count(0)
    shot(page, app, "#alert-panel", "bedside-paused")
    clock.advance(minutes=61)  # the pause is over and the criteria still hold
    app = open_at(page, bedside, "provider")
    expect(app.locator("#active-alert")).to_be_visible()
    shot(page, app, "#alert-panel", "bedside-pause-ended-alert-back")


def test_provider_dismisses_and_the_alert_does_not_come_back_on_reopening(page: Page, bedside):
    app = open_at(page, bedside, "provider")
    app.locator("#dismiss-reason").select_option("chronic")
    app.locator("#dismiss-alert").click()
    expect(app.locator("#alert-state")).to_have_attribute("data-state", "dismissed")
    app = open_at(page, bedside, "nurse")
    expect(app.locator("#active-alert")).to_have_count(0)
    expect(app.locator("#alert-state")).to_contain_text("It will not fire again during this encounter")
    shot(page, app, "#alert-panel", "bedside-dismissed-reopened")


def test_two_providers_decide_at_once_and_the_second_sees_the_first_decision(page: Page, browser, bedside):
    first = open_at(page, bedside, "provider")
    other_context = browser.new_context()
    try:
        other_page = other_context.new_page()
        second = open_at(other_page, bedside, "provider")
        expect(second.locator("#active-alert")).to_be_visible()
        first.locator("#confirm-alert").click()
        expect(first.locator("#alert-state")).to_have_attribute("data-state", "confirmed")
        second.locator("#dismiss-reason").select_option("other_explanation")
        second.locator("#dismiss-alert").click()
        expect(second.locator("#alert-notice")).to_contain_text("Not applied: this alert was already confirmed by")
        expect(second.locator("#alert-state")).to_have_attribute("data-state", "confirmed")
        shot(other_page, second, "#alert-panel", "bedside-second-provider-sees-first-decision")
    finally:
        other_context.close()
