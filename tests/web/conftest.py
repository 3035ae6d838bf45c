"""Flask test-client fixtures against the sandbox EHR: `launch(role, patient)` runs a real SMART EHR launch.

The sandbox serves on a loopback port (started once per session); the app runs in the Flask test client on a
fresh database of each kind (SQLite and PostgreSQL). The launch goes the whole way: EHR chart -> /launch ->
the EHR's authorize endpoint (real HTTP) -> /callback -> the patient page.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.serving import make_server

from app import create_app
from app.smart import load_registration
from sandbox import create_sandbox, register_client

PUBLIC_URL = "http://sentinel.test"
SEPTIC = "demo-102421"  # see sandbox/demo_patients/README.md
USERS = {"nurse": "nurse", "provider": "provider", "deployment": "deployment"}


@pytest.fixture(scope="session")
def ehr():
    """The sandbox EHR on a free loopback port; yields its Flask app with `.base_url`."""
    app = create_sandbox({})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["SANDBOX_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.base_url = app.config["SANDBOX_BASE_URL"]
    yield app
    server.shutdown()
    thread.join(timeout=5)


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


@dataclass
class Launched:
    client: object  # Flask test client holding the session cookie
    patient_id: str
    role: str
    page: object  # the response of the patient page the launch landed on
    callback: object = None  # the /callback response (its Set-Cookie header)

    def csrf(self) -> str:
        text = self.client.get(f"/patients/{self.patient_id}").get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', text)
        assert match, "the page carries no CSRF token"
        return match.group(1)


def ehr_launch_url(ehr, user: str, patient: str, **chart_args: str) -> str:
    """What the EHR puts in the chart's iframe: the app's launch URL with iss and a fresh launch id.
    `chart_args` are the EHR front page's other choices (app_banner="1": need_patient_banner true)."""
    chart = requests.get(f"{ehr.base_url}/ehr/chart", params={"user": user, "patient": patient, **chart_args},
                         timeout=10)
    chart.raise_for_status()
    src = re.search(r'<iframe[^>]*id="app"[^>]*src="([^"]+)"', chart.text) or re.search(
        r'<iframe[^>]*src="([^"]+)"[^>]*id="app"', chart.text)
    return html.unescape(src.group(1))


def follow_authorize(client, launch_response, ehr_session: requests.Session | None = None):
    """From the app's redirect to the EHR, through the EHR, back to the app's callback; returns that response."""
    assert launch_response.status_code == 302, launch_response.get_data(as_text=True)[:500]
    authorize = launch_response.headers["Location"]
    ehr_reply = (ehr_session or requests).get(authorize, allow_redirects=False, timeout=10)
    assert ehr_reply.status_code in (302, 303), ehr_reply.text[:500]
    callback = urlsplit(ehr_reply.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def run_launch(app, ehr, role: str, patient: str, client=None, **chart_args: str) -> Launched:
    client = client or app.test_client()
    url = urlsplit(ehr_launch_url(ehr, USERS[role], patient, **chart_args))
    callback = follow_authorize(client, client.get(f"{url.path}?{url.query}"))
    assert callback.status_code == 303, callback.get_data(as_text=True)[:800]
    page = client.get(callback.headers["Location"])
    return Launched(client=client, patient_id=patient, role=role, page=page, callback=callback)


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
