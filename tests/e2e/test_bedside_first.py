"""The bedside page as a nurse and a provider meet it, in Chromium inside the sandbox EHR's chart: each role's
task in the first viewport (laptop 1280x800 and tablet 820x1180), the headline after each decision, the lactate
rule, the fluid order's review step, the withdrawal of a confirmation, and no axe-core violation.

The first-viewport screenshots (artifacts/e2e/first-viewport-*.png) are what a clinician sees before scrolling.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from sandbox.stack import start_stack
from tests.support.e2e import ARTIFACTS, SEPTIC, open_at
from tests.support.web import Clock as SharedClock

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"  # axe-core from npm, pinned (test_architecture)
VIEWPORTS = {"1280x800": (1280, 800), "820x1180": (820, 1180)}


@pytest.fixture
def bedside(tmp_path):
    """A stack of its own per journey (alerts do not carry over), with the trained model and demo patients only."""
    clock = SharedClock()
    stack = start_stack(
        app_overrides={"database_url": f"sqlite:///{tmp_path / 'first.db'}", "clock": clock.now},
        sandbox_settings={"CLOCK": clock.epoch, "LOAD_SAMPLE_PATIENTS": False, "ORDERS_REFRESH_SECONDS": 1})
    yield stack
    stack.shutdown()


def in_first_viewport(page: Page, app, selector: str) -> dict:
    """The element's box in the top-level page: wholly visible without scrolling."""
    box = app.locator(selector).bounding_box()
    height = page.viewport_size["height"]
    assert box is not None, f"{selector} is not rendered"
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, f"{selector} at y={box['y']:.0f}, viewport {height}"
    return box


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_nurses_form_and_the_providers_decision_are_in_the_first_viewport(page: Page, bedside, size):
    page.set_viewport_size(dict(zip(("width", "height"), VIEWPORTS[size], strict=True)))
    app = open_at(page, bedside, "nurse")
    expect(app.locator("#headline")).to_have_attribute("data-state", "alert")
    in_first_viewport(page, app, "#headline")
    in_first_viewport(page, app, "#infection_source")
    in_first_viewport(page, app, "#save-screening")
    page.screenshot(path=str(ARTIFACTS / f"first-viewport-nurse-{size}.png"))

    app = open_at(page, bedside, "provider")
    in_first_viewport(page, app, "#headline")
    in_first_viewport(page, app, "#confirm-alert")
    in_first_viewport(page, app, "#dismiss-reason")
    in_first_viewport(page, app, "#pause-alert")
    dismiss = app.locator("#dismiss-reason").bounding_box()
    card = app.locator("#dismiss-alert").locator("xpath=..").bounding_box()
    assert dismiss["x"] + dismiss["width"] <= card["x"] + card["width"] + 0.5  # the select stays in its card
    page.screenshot(path=str(ARTIFACTS / f"first-viewport-provider-{size}.png"))


def test_once_confirmed_the_provider_sees_the_bundle_and_its_clocks_first(page: Page, bedside):
    page.set_viewport_size({"width": 1280, "height": 800})
    app = open_at(page, bedside, "provider")
    app.locator("#confirm-alert").click()
    expect(app.locator("#headline")).to_have_attribute("data-state", "confirmed")
    expect(app.locator("#headline-title")).to_contain_text("Sepsis confirmed")
    expect(app.locator("#headline-title")).to_contain_text("by Dr. Samuel Okafor, 3-h bundle:")
    expect(app.locator("#headline-title")).to_contain_text("left")
    app = open_at(page, bedside, "provider")  # reopened: the bundle comes first now
    expect(app.locator("#sections")).to_have_attribute("data-order", "bundle provider nursing")
    in_first_viewport(page, app, "#time-zero")
    page.screenshot(path=str(ARTIFACTS / "first-viewport-provider-confirmed-1280x800.png"))


def test_the_lactate_element_shows_the_newest_with_its_trend_and_the_later_one_is_the_repeat(page: Page, bedside):
    app = open_at(page, bedside, "provider")
    app.locator("#confirm-alert").click()
    lactate = app.locator("#element-lactate")
    expect(lactate).to_have_attribute("data-status", "done")
    expect(lactate).to_contain_text("from")  # "Lactate 7.87 mmol/L at 17:56, up from 6.65 at 12:56"
    expect(app.locator("#element-repeat_lactate")).to_have_attribute("data-status", "done")
    expect(app.locator("#element-repeat_lactate")).to_contain_text("Repeat lactate")


def test_the_fluid_order_is_reviewed_then_placed_with_the_edited_volume(page: Page, bedside):
    app = open_at(page, bedside, "provider")
    app.locator("#confirm-alert").click()
    expect(app.locator("#element-fluids")).to_be_visible()
    review = app.locator("#review-fluids")
    if review.count() == 0:
        pytest.skip("fluids are not indicated for this demo patient")
    expect(app.locator("#order-button-fluids")).not_to_be_visible()  # nothing goes out in one click
    review.click()
    expect(app.locator("#fluid-weight-basis")).to_contain_text("Weight recorded")
    weight = app.locator("#weight_kg").input_value()
    assert float(weight) > 0 and int(app.locator("#volume_ml").input_value()) == round(30 * float(weight))
    app.locator("#volume_ml").fill("2000")
    app.locator("#order-button-fluids").click()
    expect(app.locator("#order-fluids")).to_contain_text("2000 mL")
    expect(app.locator("#order-fluids")).to_contain_text("Proposed Sodium chloride 0.9% IV bolus")


def test_a_provider_withdraws_a_mistaken_confirmation_and_the_headline_says_so(page: Page, bedside):
    app = open_at(page, bedside, "provider")
    app.locator("#confirm-alert").click()
    expect(app.locator("#alert-state")).to_have_attribute("data-state", "confirmed")
    app.locator("#withdraw summary").click()
    app.locator("#withdraw-reason").select_option("mistake")
    app.locator("#withdraw-confirmation").click()
    expect(app.locator("#active-alert")).to_be_visible()
    expect(app.locator("#alert-notice")).to_contain_text("Confirmation withdrawn at")
    expect(app.locator("#headline-title")).to_contain_text("the confirmation was withdrawn")
    expect(app.locator("#bundle-waiting")).to_be_visible()  # the bundle's clocks stopped
    app.locator("#dismiss-reason").select_option("other_explanation")
    app.locator("#dismiss-alert").click()
    expect(app.locator("#headline")).to_have_attribute("data-state", "dismissed")
    expect(app.locator("#headline-title")).to_contain_text("Alert dismissed")
    expect(app.locator("#headline-title")).to_contain_text("Another explanation for the findings")


def test_a_paused_alert_headline_says_until_when(page: Page, bedside):
    app = open_at(page, bedside, "provider")
    app.locator("#alert-panel input[name=duration][value='4']").check()
    app.locator("#pause-alert").click()
    expect(app.locator("#headline")).to_have_attribute("data-state", "paused")
    expect(app.locator("#headline-title")).to_contain_text("Alert paused until")


@pytest.fixture
def browser_context_args(browser_context_args):
    # Only so that the test can inject axe-core into the app's frame; the app's own CSP is unchanged.
    return {**browser_context_args, "bypass_csp": True}


@pytest.mark.parametrize("role", ["nurse", "provider", "provider, alert confirmed, every part open"])
def test_axe_core_finds_no_violation_on_the_bedside_page(page: Page, bedside, role):
    app = open_at(page, bedside, role.split(",")[0])
    if "confirmed" in role:  # the bundle table, its order forms and the fluid review step, all open
        app.locator("#confirm-alert").click()
        expect(app.locator("#time-zero")).to_be_visible()
        app = open_at(page, bedside, "provider")
        for summary in app.locator("details > summary").all():
            summary.click()
    frame = next(f for f in page.frames if f"/patients/{SEPTIC}" in f.url)
    frame.add_script_tag(path=str(AXE))
    result = frame.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert result["testEngine"] == {"name": "axe-core", "version": "4.14.1"} and len(result["passes"]) > 20
    violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert violations == []


def tabs_to(page: Page, app, start: str, target: str, limit: int = 20) -> int:
    """How many Tab presses from `start` until `target` has the keyboard focus (a keyboard user's path)."""
    app.locator(start).focus()
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        if app.locator(f"{target}:focus").count():
            return n
    raise AssertionError(f"{target} not reached in {limit} Tab presses")


def test_a_keyboard_reaches_each_roles_task_in_a_few_tabs(page: Page, bedside):
    app = open_at(page, bedside, "nurse")
    assert tabs_to(page, app, ".skip-link", "#infection_source") <= 2
    app = open_at(page, bedside, "provider")
    assert tabs_to(page, app, ".skip-link", "#confirm-alert") <= 2  # was 13, through the nurse form
    expect(app.locator("#confirm-alert")).to_be_focused()
