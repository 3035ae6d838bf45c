"""One browser, one clinician at a time: on a shared ward workstation, the next user's launch ends the previous
user's sessions, nothing is ever served under the previous user's session, and Sign out ends the session."""

from __future__ import annotations

import pytest

from app.alerts import store
from app.audit import entries
from app.web.guards import SESSION_COOKIE
from tests.support.builders import stub_model
from tests.support.launch import SEPTIC
from tests.support.web import alert_id_of, csrf_of, sid

OTHER = "demo-108952"  # the second septic demo patient


@pytest.fixture
def app(make_app):
    app = make_app()
    app.extensions["sentinel"].model = stub_model()
    return app


def test_a_nurse_launching_in_the_providers_browser_ends_the_providers_session(app, launch):
    engine = app.extensions["sentinel"].engine
    provider = launch("provider", SEPTIC)
    alert_id = alert_id_of(provider.page.get_data(as_text=True))
    provider_token = csrf_of(provider.page.get_data(as_text=True))
    nurse = launch("nurse", OTHER, client=provider.client)  # the same browser
    assert "Nora Lindqvist" in nurse.page.get_data(as_text=True)
    back = provider.client.get(f"/patients/{SEPTIC}")  # before: the provider's page, as the provider
    assert back.status_code in (401, 403) and "Okafor" not in back.get_data(as_text=True)
    confirm = provider.client.post(f"/patients/{SEPTIC}/alerts/{alert_id}/confirm",
                                   data={"csrf_token": provider_token, "submission_id": sid()})
    assert confirm.status_code in (401, 403)
    assert store.get(engine, alert_id).state == "active"  # nobody confirmed it in the provider's name
    [ended] = entries(engine, action="session_ended")
    assert (ended["user_ref"], ended["role"], ended["detail"]) == (
        "Practitioner/provider", "provider", {"reason": "another_user_launched"})


def test_a_session_id_of_an_earlier_user_left_in_the_cookie_is_never_chosen(app, launch):
    provider = launch("provider", SEPTIC)
    old_cookie = provider.client.get_cookie(SESSION_COOKIE).value
    nurse = launch("nurse", OTHER)  # another browser, so the provider's session is still live
    mixed = f"{nurse.client.get_cookie(SESSION_COOKIE).value}.{old_cookie}"
    nurse.client.set_cookie(SESSION_COOKIE, mixed, domain="localhost")
    assert nurse.client.get(f"/patients/{SEPTIC}").status_code in (401, 403)  # not served as the provider
    assert nurse.client.get(f"/patients/{OTHER}").status_code == 200


def test_the_same_user_keeps_several_charts_open(app, launch):
    first = launch("provider", SEPTIC)
    launch("provider", OTHER, client=first.client)
    assert first.client.get(f"/patients/{SEPTIC}").status_code == 200
    assert first.client.get(f"/patients/{OTHER}").status_code == 200
    assert entries(app.extensions["sentinel"].engine, action="session_ended") == []


def test_sign_out_is_on_the_page_and_ends_every_session_of_the_browser_on_the_server(app, launch):
    engine = app.extensions["sentinel"].engine
    nurse = launch("nurse", SEPTIC)
    launch("nurse", OTHER, client=nurse.client)
    page = nurse.client.get(f"/patients/{SEPTIC}").get_data(as_text=True)
    assert 'id="sign-out"' in page and 'action="/signout"' in page and "Sign out" in page
    copied = nurse.client.get_cookie(SESSION_COOKIE).value
    out = nurse.client.post("/signout", data={"csrf_token": csrf_of(page)})
    assert out.status_code == 200 and "You are signed out" in out.get_data(as_text=True)
    assert "Nora Lindqvist" not in out.get_data(as_text=True)
    assert nurse.client.get(f"/patients/{SEPTIC}").status_code == 401
    thief = app.test_client()  # the cookie copied before sign-out opens nothing: it ended on the server
    thief.set_cookie(SESSION_COOKIE, copied, domain="localhost")
    assert thief.get(f"/patients/{OTHER}").status_code == 401
    ended = entries(engine, action="session_ended")
    assert sorted(e["patient_id"] for e in ended) == sorted([SEPTIC, OTHER])
    assert {e["detail"]["reason"] for e in ended} == {"signed_out"}


def test_sign_out_needs_the_sessions_csrf_token(app, launch):
    nurse = launch("nurse", SEPTIC)
    assert nurse.client.post("/signout", data={}).status_code == 403
    assert nurse.client.get(f"/patients/{SEPTIC}").status_code == 200
