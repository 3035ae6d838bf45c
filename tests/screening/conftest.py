"""Screening fixtures: the sandbox EHR on loopback, the app's SMART Backend Services client registered with it
(its own key, system/ read scopes only, so every FHIR request the screening makes passes the sandbox's scope
enforcement), and a Screening for its ICU units.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server

from app.fhir import Transport
from app.fhir.transport import http_session
from app.screening.cycle import Screening, ScreeningSettings
from app.smart.backend import BackendTokens
from app.smart.backend_key import generate_key
from sandbox import create_sandbox, register_backend_client
from sandbox.users import MICU_ID, SICU_ID

LOCATIONS = (f"Location/{MICU_ID}", f"Location/{SICU_ID}")
BACKEND_ID = "screening-test"
BACKEND_SCOPE = "system/Patient.rs system/Encounter.rs system/Observation.rs"


def backend_for(ehr, *, registered: bool = True) -> BackendTokens:
    """The app's backend client for this sandbox, its key registered there by value (`registered=False`: a key
    the sandbox never saw, so every token request is refused)."""
    key = generate_key()
    if registered:
        register_backend_client(ehr, BACKEND_ID, jwks=key.jwks(), scope=BACKEND_SCOPE)
    base = f"{ehr.base_url}/fhir"
    return BackendTokens(base, BACKEND_ID, key, http_session(), scope=BACKEND_SCOPE, iss_allowlist=(base,),
                         require_https=False)


@contextlib.contextmanager
def served_sandbox(settings: dict | None = None):
    """The sandbox EHR (demo patients only) on a free loopback port, for as long as the block runs."""
    app = create_sandbox({"LOAD_SAMPLE_PATIENTS": False, **(settings or {})})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["SANDBOX_BASE_URL"] = app.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        thread.join(timeout=5)


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


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
