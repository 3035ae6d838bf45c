"""The deployment team tunes the site threshold and reads adoption, in the EHR iframe, with the trained model:
a change is audited and decides whether a demo patient alerts; the adoption page shows the figures computed
from the alerts this journey stored. Each test has its own stack and database, so no alert carries over."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

from app import adoption as metrics
from app.audit import entries
from app.model import load_model
from sandbox.stack import start_stack
from tests.support.e2e import open_chart, screenshot

SEPTIC = "demo-102421"  # alerts with the trained model at the card's threshold (tests/e2e/test_bedside_journeys.py)
QUIET = "demo-108289"  # not septic: opening the chart raises nothing


@pytest.fixture
def site(tmp_path):
    stack = start_stack(app_overrides={"database_url": f"sqlite:///{tmp_path / 'site.db'}"},
                        sandbox_settings={"LOAD_SAMPLE_PATIENTS": False})
    yield stack
    stack.shutdown()


@pytest.fixture
def page(browser: Browser, site) -> Page:
    """A page whose relative URLs go to this test's own EHR (conftest.open_chart starts at "/")."""
    context = browser.new_context(base_url=site.ehr_url)
    yield context.new_page()
    context.close()


def set_threshold(app: FrameLocator, value: float, reason: str) -> None:
    app.locator("#tuning-link").click()
    app.locator("#threshold-value").fill(f"{value:g}")
    app.locator("#threshold-reason").fill(reason)
    app.get_by_role("button", name="Set the site threshold").click()
    expect(app.locator("#threshold-saved")).to_contain_text(f"new alerts use {value:g}")


def test_a_threshold_change_is_audited_and_decides_whether_a_patient_alerts(page: Page, site):
    card_threshold = load_model().threshold
    team = open_chart(page, "deployment", QUIET)
    set_threshold(team, 0.99, "Trial: only the most certain alerts on this unit")
    expect(team.locator("#threshold-history")).to_contain_text(f"{card_threshold:g} → 0.99")
    screenshot(page, "trust-tuning-threshold-raised")
    [audit] = entries(site.app.extensions["sentinel"].engine, action="set_threshold")
    assert audit["detail"] == {"old": card_threshold, "new": 0.99} and audit["role"] == "deployment"

    provider = open_chart(page, "provider", SEPTIC)  # at 0.99 the septic patient does not alert
    expect(provider.locator("#risk-number")).to_contain_text("the site alerts at 99")
    expect(provider.locator("#risk-level")).not_to_have_attribute("data-level", "alert")
    expect(provider.locator("#active-alert")).to_have_count(0)
    screenshot(page, "trust-tuning-no-alert-at-0.99")

    team = open_chart(page, "deployment", QUIET)
    set_threshold(team, card_threshold, "Back to the model card's threshold")
    provider = open_chart(page, "provider", SEPTIC)  # the same patient now alerts
    expect(provider.locator("#risk-level")).to_have_attribute("data-level", "alert")
    expect(provider.locator("#active-alert")).to_be_visible()
    screenshot(page, "trust-tuning-alert-at-card-threshold")
    changes = entries(site.app.extensions["sentinel"].engine, action="set_threshold")
    assert [c["detail"] for c in changes] == [{"old": 0.99, "new": card_threshold},
                                              {"old": card_threshold, "new": 0.99}]


def test_the_adoption_page_shows_the_alerts_this_journey_stored(page: Page, site):
    provider = open_chart(page, "provider", SEPTIC)
    expect(provider.locator("#active-alert")).to_be_visible()
    provider.locator("#dismiss-reason").select_option("chronic")
    provider.locator("#dismiss-alert").click()
    expect(provider.locator("#alert-state")).to_have_attribute("data-state", "dismissed")
    nurse = open_chart(page, "nurse", SEPTIC)
    nurse.get_by_role("link", name="Send feedback").click()
    nurse.get_by_label("Your message").fill("Dismissed as chronic; is the bilirubin rule right for her?")
    nurse.get_by_role("button", name="Send").click()
    expect(nurse.locator("#feedback-sent")).to_be_visible()

    team = open_chart(page, "deployment", QUIET)
    team.locator("#adoption-link").click()
    engine = site.app.extensions["sentinel"].engine
    expected = metrics.summarize(metrics.load(engine), site.app.extensions["sentinel"].clock())
    assert expected.fired >= 1 and expected.dismissed >= 1  # what this journey stored
    expect(team.locator("#m-fired")).to_contain_text(str(expected.fired))
    evaluated = f"{expected.evaluated.fraction * 100:.0f}% {expected.evaluated.n} of {expected.evaluated.of}"
    expect(team.locator("#m-evaluated")).to_contain_text(evaluated)
    expect(team.locator("#m-confirmed")).to_contain_text(f"{expected.confirmed.n} of {expected.confirmed.of}")
    expect(team.locator("#m-evaluated")).to_contain_text("89%")
    expect(team.locator("#dismissal-reasons")).to_contain_text("Chronic organ dysfunction")
    expect(team.locator("#m-feedback")).to_contain_text("1")
    expect(team.locator("#by-unit")).to_contain_text(metrics.load(engine)[0].care_unit)
    expect(team.locator("#adoption-charts svg")).to_have_count(2)
    screenshot(page, "trust-adoption")

    with page.expect_download() as download:
        team.locator("#adoption-csv").click()
    csv_text = Path(download.value.path()).read_text(encoding="utf-8")
    assert csv_text.splitlines()[1].startswith(f"all,all,{expected.fired},{expected.evaluated.n},")
