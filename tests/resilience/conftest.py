"""Fixtures for the resilience tests: one sandbox EHR per session (ours to break; the throwaway PostgreSQL is the
shared `postgres` fixture), and the app under gunicorn as `sentinel serve` runs it. Longer load runs with the same
faults: `python -m bench.faults`."""

from __future__ import annotations

import pytest

from sandbox.stack import AppProcess as App
from sandbox.stack import EhrServer
from tests.support.live import FHIR_TIME_BUDGET


@pytest.fixture(scope="session")
def sandbox():
    ehr = EhrServer({"LOAD_SAMPLE_PATIENTS": False})
    yield ehr
    ehr.close()


@pytest.fixture
def faults(sandbox):
    """The sandbox's fault switches; cleared, and the EHR back up, after each test."""
    from sandbox import faults as switches

    yield switches
    switches.clear(sandbox.app)
    if not sandbox.is_up:
        sandbox.up()


@pytest.fixture(scope="session")
def apps(postgres, sandbox, tmp_path_factory):
    """Two instances of the app on fresh databases, booted side by side:
    - "shipped": as `sentinel serve` runs it (its default workers and threads), FHIR time budget FHIR_TIME_BUDGET s,
      for the tests that break the EHR or the database under it;
    - "sync": 2 workers of 1 thread, so that a test knows which worker holds which request (a killed worker)."""
    logs = tmp_path_factory.mktemp("apps")
    started = {
        "shipped": App(sandbox, postgres.database(), logs / "shipped.log", wait=False,
                       env={"SENTINEL_FHIR_TIME_BUDGET": str(FHIR_TIME_BUDGET)}),
        "sync": App(sandbox, postgres.database(), logs / "sync.log", threads=1, wait=False),
    }
    try:
        for app in started.values():
            app.wait_ready()
        yield started
    finally:
        for app in started.values():
            app.stop()


@pytest.fixture(scope="session")
def shipped(apps):
    return apps["shipped"]


@pytest.fixture(scope="session")
def sync_app(apps):
    return apps["sync"]
