"""Playwright journeys in Debian's Chromium against the live demo stack (sandbox EHR + app, SQLite) on loopback.

`open_chart(page, user, patient)` does what a clinician does: pick a user and a patient on the EHR's front
page, press "Open Sepsis Sentinel", and returns the app's frame inside the chart.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from app.demo import start_stack
from app.ops.logs import JsonFormatter

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


RUN_LOG = ARTIFACTS / "run.log"  # every log line of the e2e session, in JSON; test_zz_logs.py searches it for PHI


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(RUN_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())  # what SENTINEL_LOG_FORMAT=json writes
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    db = tmp_path_factory.mktemp("e2e") / "e2e.db"
    stack = start_stack(app_overrides={"database_url": f"sqlite:///{db}", "log_format": "json"})
    yield stack
    stack.shutdown()
    root.removeHandler(handler)
    handler.close()


@pytest.fixture(scope="session")
def base_url(stack):  # required with pytest 9.2 + pytest-playwright 0.10 (see shared/toolchain.md)
    return stack.ehr_url


def open_chart(page: Page, user: str, patient: str) -> FrameLocator:
    page.goto("/")
    page.select_option("select#user", user)
    page.select_option("select#patient", patient)
    page.get_by_role("button", name="Open Sepsis Sentinel").click()
    app = page.frame_locator("iframe#app")
    expect(app.locator("#headline")).to_be_visible(timeout=15_000)
    return app


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
