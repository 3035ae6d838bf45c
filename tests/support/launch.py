"""A real SMART EHR launch into the app under Flask's test client: the chart's iframe URL from the sandbox EHR,
the EHR's authorize endpoint over real HTTP, the callback, the patient page (tests/web/conftest.py's `launch`)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from tests.support.web import csrf_of

PUBLIC_URL = "http://sentinel.test"
SEPTIC = "demo-102421"  # see sandbox/sandbox/demo_patients/README.md
SPARSE = "demo-100402"  # one set of vital signs in its record
USERS = {"nurse": "nurse", "provider": "provider", "deployment": "deployment"}


@dataclass
class Launched:
    client: object  # Flask test client holding the session cookie
    patient_id: str
    role: str
    page: object  # the response of the patient page the launch landed on
    callback: object = None  # the /callback response (its Set-Cookie header)

    def csrf(self) -> str:
        return csrf_of(self.client.get(f"/patients/{self.patient_id}").get_data(as_text=True))


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


def feedback_form_token(launched) -> str:
    """This session's CSRF token, from the feedback form (every launched user can open it)."""
    body = launched.client.get("/feedback/new").get_data(as_text=True)
    return csrf_of(body)


def launch_on(app, ehr, role: str = "nurse") -> Launched:
    """A real EHR launch into a given app instance (the `launch` fixture launches into `app`)."""
    client = app.test_client()
    url = urlsplit(ehr_launch_url(ehr, role, SEPTIC))
    callback = follow_authorize(client, client.get(f"{url.path}?{url.query}"))
    return Launched(client=client, patient_id=SEPTIC, role=role, page=client.get(callback.headers["Location"]))
