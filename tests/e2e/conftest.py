"""Playwright journeys in Debian's Chromium against the live demo stack (sandbox EHR + app, SQLite) on loopback.

`tests.support.e2e.open_chart(page, user, patient)` does what a clinician does: pick a user and a patient on the
EHR's front page, press "Open Sepsis Sentinel", and returns the app's frame inside the chart.
"""

from __future__ import annotations

import logging

import pytest

from app.ops.logs import JsonFormatter
from sandbox.stack import start_stack
from tests.support.e2e import ARTIFACTS, RUN_LOG


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


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

