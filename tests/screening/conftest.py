"""Screening fixtures: the sandbox EHR on loopback, the app's SMART Backend Services client registered with it
(its own key, system/ read scopes only, so every FHIR request the screening makes passes the sandbox's scope
enforcement), and a Screening for its ICU units.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.fhir import Transport
from app.fhir.transport import http_session
from app.screening.cycle import Screening, ScreeningSettings
from tests.support.ehr import served_sandbox
from tests.support.screening import LOCATIONS, backend_for


@pytest.fixture(scope="session")
def ehr():
    with served_sandbox() as app:
        yield app


@pytest.fixture
def faults(ehr):
    from sandbox import faults as switches

    yield switches
    switches.clear(ehr)


@pytest.fixture(scope="session")
def tokens(ehr):
    return backend_for(ehr)


@pytest.fixture(scope="session")
def http():
    return http_session()


class Clock:
    """The clinical clock, moved by hand (never sleep)."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def make_screening(engine, ehr, tokens, http, clock):
    def _make(**overrides) -> Screening:
        settings = ScreeningSettings(iss=f"{ehr.base_url}/fhir", locations=overrides.pop("locations", LOCATIONS),
                                     **overrides)
        return Screening(engine, settings, lambda: Transport(settings.iss, tokens, session=http, read_timeout=5,
                                                             time_budget=10, backoff=0.01, max_backoff=0.05),
                         clock=clock)
    return _make


@pytest.fixture
def fresh_ehr():
    """A sandbox of its own, for tests that change its data."""
    with served_sandbox() as app:
        yield app


@pytest.fixture
def screening_of(engine, http, clock):
    """A Screening of another sandbox: `screening_of(ehr, token_source=None, **settings)`."""
    def _make(ehr, token_source=None, **overrides) -> Screening:
        settings = ScreeningSettings(iss=f"{ehr.base_url}/fhir", locations=LOCATIONS, **overrides)
        source = token_source or backend_for(ehr)
        return Screening(engine, settings, lambda: Transport(settings.iss, source, session=http, read_timeout=1,
                                                             time_budget=10, backoff=0.01, max_backoff=0.05),
                         clock=clock)
    return _make

