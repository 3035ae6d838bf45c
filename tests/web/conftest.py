"""Flask test-client fixtures against the sandbox EHR: `launch(role, patient)` runs a real SMART EHR launch.

The sandbox serves on a loopback port (started once per session); the app runs in the Flask test client on a
fresh database of each kind (SQLite and PostgreSQL). The launch goes the whole way: EHR chart -> /launch ->
the EHR's authorize endpoint (real HTTP) -> /callback -> the patient page.
"""

from __future__ import annotations

import pytest

from app import create_app
from app.smart import load_registration
from sandbox import register_client
from tests.support.ehr import served_sandbox
from tests.support.launch import PUBLIC_URL, SEPTIC, Launched, run_launch


@pytest.fixture(scope="session")
def ehr():
    """The sandbox EHR on a free loopback port; yields its Flask app with `.base_url`."""
    with served_sandbox(sample_patients=True) as app:
        yield app


@pytest.fixture
def faults(ehr):
    """The sandbox's fault switches, cleared after each test."""
    from sandbox import faults as switches

    yield switches
    switches.clear(ehr)


@pytest.fixture
def make_app(database_url, ehr):
    made = []

    def _make(**overrides):
        app = create_app({"database_url": database_url, "testing": True, "public_url": PUBLIC_URL,
                          "iss_allowlist": (f"{ehr.base_url}/fhir",), **overrides})
        reg = load_registration(app.extensions["sentinel"].settings.smart_launch_file)
        register_client(ehr, reg.client_id, [reg.redirect_uri(PUBLIC_URL)], reg.launch_uri(PUBLIC_URL),
                        client_secret=None, scope=f"{reg.ehr_launch_scope} {reg.standalone_launch_scope}")
        made.append(app)
        return app

    yield _make
    for app in made:
        app.extensions["sentinel"].engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def launch(app, ehr):
    """launch(role="nurse", patient=SEPTIC, client=None) -> Launched, through a real EHR launch."""

    def _launch(role: str = "nurse", patient: str = SEPTIC, client=None, **chart_args: str) -> Launched:
        return run_launch(app, ehr, role, patient, client, **chart_args)

    return _launch


@pytest.fixture
def launch_with(ehr):
    """launch_with(app, role, patient=SEPTIC): the same launch into an app made with `make_app(...)`."""

    def _launch(app, role: str = "nurse", patient: str = SEPTIC, client=None) -> Launched:
        return run_launch(app, ehr, role, patient, client)

    return _launch
