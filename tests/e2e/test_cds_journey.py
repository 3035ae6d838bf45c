"""The alert reaches the care team, in Chromium: the demo clock runs, the background screening raises an alert for
a patient nobody opened, the unit board (opened from the EHR with no patient) shows it as a new alert; the provider
opens that chart in the sandbox EHR, the CDS Hooks card is above the chart, its link opens the bedside page on
that patient inside the chart, the provider confirms, the next chart open shows no card, and the board shows the
patient confirmed with the bundle's clocks.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from app import audit
from app.alerts import store
from app.screening import history
from sandbox.stack import start_stack
from tests.support.e2e import screenshot


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cds-journey")
    stack = start_stack(app_overrides={"database_url": f"sqlite:///{folder / 'demo.db'}",
                                       "session_idle_minutes": 24 * 60},
                        sandbox_settings={"LOAD_SAMPLE_PATIENTS": False, "CDS_TIMEOUT": 30},
                        demo_speed=30, replay_hours=8, screen=True)
    yield stack
    stack.shutdown()


def first_alert(stack) -> tuple[str, int, str]:
    engine = stack.app.extensions["sentinel"].engine
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not audit.entries(engine, action="raise_alert"):
        time.sleep(0.25)  # a live stack on a demo clock: half a demo hour passes each real second
    raised = audit.entries(engine, action="raise_alert")
    assert raised, "the screening raised no alert within two minutes of the demo's start"
    patient = raised[0]["patient_id"]
    alert = store.newest_for_patient(engine, stack.fhir_base, patient)
    t = history.risk_scores
    import sqlalchemy as sa

    with engine.connect() as conn:
        unit = conn.execute(sa.select(t.c.location).where(t.c.patient_id == patient, t.c.location.is_not(None))
                            .order_by(t.c.id.desc()).limit(1)).scalar_one()
    return patient, alert.id, unit


def open_board(page: Page, stack, unit: str):
    page.goto(f"{stack.ehr_url}/")  # this module's stack, not the session's (the page's base_url)
    page.select_option("select#board-user", "nurse")
    page.select_option("select#board-unit", unit)
    page.get_by_role("button", name="Open the unit board").click()
    board = page.frame_locator("iframe#app")
    expect(board.locator("#board-table")).to_be_visible(timeout=20_000)
    return board


def test_the_alert_reaches_the_chart_and_the_board(page: Page, demo):
    patient, alert_id, unit = first_alert(demo)
    assert audit.entries(demo.app.extensions["sentinel"].engine, action="launch") == []  # nobody opened anyone

    board_page = page.context.new_page()
    board = open_board(board_page, demo, unit)
    expect(board.locator(f"#board-row-{patient}")).to_have_attribute("data-status", "new alert")
    screenshot(board_page, "cds-board-new-alert")

    page.goto(f"{demo.ehr_url}/ehr/chart?user=provider&patient={patient}")
    card = page.locator("#cds-card-1")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Sepsis risk")
    assert card.get_attribute("data-indicator") in ("critical", "warning")
    screenshot(page, "cds-card-in-chart")

    card.get_by_role("link", name="Open Sepsis Sentinel").click()
    app = page.frame_locator("iframe#app")
    expect(app.locator("#confirm-alert")).to_be_visible(timeout=20_000)  # the EHR shows the banner, not the app
    assert f"alert={alert_id}" in page.frame(name="app").url
    app.locator("#confirm-alert").click()
    expect(app.locator("#alert-state")).to_have_attribute("data-state", "confirmed", timeout=10_000)

    page.goto(f"{demo.ehr_url}/ehr/chart?user=provider&patient={patient}")
    expect(page.locator("iframe#app")).to_be_visible()
    expect(page.locator("#cds-cards article")).to_have_count(0)
    screenshot(page, "cds-no-card-after-confirm")

    row = board.locator(f"#board-row-{patient}")
    expect(row).to_have_attribute("data-status", "confirmed", timeout=40_000)  # the board refreshes every 30 s
    expect(row).to_contain_text("3 h bundle due")
    expect(row).to_contain_text("6 h due")
    screenshot(board_page, "cds-board-confirmed")
