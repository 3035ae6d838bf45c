"""The bedside web tests' app and their moves on it: an app with the stub model (high risk when the latest SBP is
under 100; the real score() runs) on a clock tests can move, and a launched clinician opening, deciding and
ordering on an alert through the page's htmx forms."""

from __future__ import annotations

import pytest

from tests.support.builders import stub_model
from tests.support.launch import SEPTIC
from tests.support.web import Clock, alert_id_of, csrf_of, hx, sid


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(make_app, clock):
    app = make_app(clock=clock, session_idle_minutes=24 * 60)
    app.extensions["sentinel"].model = stub_model()
    return app


@pytest.fixture
def engine(app):
    return app.extensions["sentinel"].engine


def opened(launch, role, patient=SEPTIC):
    launched = launch(role, patient)
    html = launched.page.get_data(as_text=True)
    return launched, csrf_of(html), (alert_id_of(html) if 'data-alert-id="' in html else None)


def decide(launched, token, alert_id, kind, htmx=True, patient=SEPTIC, **form):
    data = {"submission_id": sid(), **form}
    headers = hx(token) if htmx else {}
    if not htmx:
        data["csrf_token"] = token
    return launched.client.post(f"/patients/{patient}/alerts/{alert_id}/{kind}", headers=headers, data=data)


def confirmed(launch):
    provider, token, alert_id = opened(launch, "provider")
    decide(provider, token, alert_id, "confirm")
    return provider, token, alert_id


def order(launched, token, alert_id, element, submission=None, **form):
    return launched.client.post(f"/patients/{SEPTIC}/alerts/{alert_id}/orders/{element}", headers=hx(token),
                                data={"submission_id": submission or sid(), **form})

