"""Fixtures for FHIR tests: a fake clock (nothing ever really sleeps) and a transport on a test base."""

from __future__ import annotations

import pytest

from app.fhir.tokens import StaticToken
from app.fhir.transport import Transport
from tests.support.fhir import BASE, NOW, TOKEN, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_transport(clock):
    def make(token_source=None, **kw) -> Transport:
        kw.setdefault("time_budget", 20.0)
        return Transport(BASE, token_source if token_source is not None else StaticToken(TOKEN),
                         sleep=clock.sleep, clock=clock.monotonic, wallclock=lambda: NOW, **kw)
    return make


@pytest.fixture
def transport(make_transport) -> Transport:
    return make_transport()
