"""Fixtures for the sandbox EHR tests: one sandbox per session on a fake clock, registered apps, and helpers
that run a real SMART launch through Flask's test client (no sockets, no sleeping)."""

from __future__ import annotations

import pytest

from sandbox import create_sandbox, faults, register_client
from tests.support.sandbox_launch import (
    APP_ID,
    APP_LAUNCH,
    APP_REDIRECT,
    BASE,
    BROAD_ID,
    BROAD_REDIRECT,
    CONF_ID,
    CONF_REDIRECT,
    CONF_SECRET,
    EHR_SCOPE,
    START,
)


class FakeClock:
    """A clock tests move by hand; the sandbox reads it through the CLOCK setting."""

    def __init__(self, start: float):
        self.start = self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def reset(self) -> None:
        self.now = self.start


class SleepRecorder:
    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(scope="session")
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture(scope="session")
def sandbox_app(clock, sleeps):
    app = create_sandbox({"CLOCK": clock, "SLEEP": sleeps, "SANDBOX_BASE_URL": BASE})
    register_client(app, APP_ID, [APP_REDIRECT], APP_LAUNCH, scope=EHR_SCOPE + " launch/patient offline_access")
    register_client(app, CONF_ID, [CONF_REDIRECT], "http://conf.test/launch", client_secret=CONF_SECRET)
    register_client(app, BROAD_ID, [BROAD_REDIRECT], "http://broad.test/launch")
    return app


@pytest.fixture(autouse=True)
def _fresh_state(request, clock, sleeps):
    """Every test starts at the same time with no faults on."""
    yield
    clock.reset()
    sleeps.calls.clear()
    if "sandbox_app" in request.fixturenames:
        faults.clear(request.getfixturevalue("sandbox_app"))


@pytest.fixture
def client(sandbox_app):
    return sandbox_app.test_client()
