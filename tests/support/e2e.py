"""What the Playwright journeys share: where screenshots and the run's log go, and how a clinician opens a chart in
the sandbox EHR (pick a user and a patient, press "Open Sepsis Sentinel")."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import FrameLocator, Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
RUN_LOG = ARTIFACTS / "run.log"  # every log line of the e2e session, in JSON; test_zz_logs.py searches it for PHI
SEPTIC = "demo-102421"  # alerts with the trained model (sandbox/sandbox/demo_patients/README.md)


def open_chart(page: Page, user: str, patient: str) -> FrameLocator:
    """The chart opened from the EHR's front page at the session's base URL; returns the app's frame in it."""
    page.goto("/")
    return _choose_and_open(page, user, patient)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def open_at(page: Page, stack, user: str, patient: str = SEPTIC) -> FrameLocator:
    """What a clinician does on the front page of `stack`'s EHR; returns the app's frame in the chart."""
    page.goto(f"{stack.ehr_url}/")
    return _choose_and_open(page, user, patient)


def _choose_and_open(page: Page, user: str, patient: str) -> FrameLocator:
    page.select_option("select#user", user)
    page.select_option("select#patient", patient)
    page.get_by_role("button", name="Open Sepsis Sentinel").click()
    app = page.frame_locator("iframe#app")
    expect(app.locator("#headline")).to_be_visible(timeout=15_000)
    return app

