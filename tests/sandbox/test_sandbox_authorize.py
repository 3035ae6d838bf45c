"""The authorize endpoint refuses what a real SMART server refuses (RFC 6749 4.1.2.1, SMART App Launch 2.0)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode

import pytest

from tests.support.sandbox_launch import (
    APP_ID,
    APP_REDIRECT,
    EHR_SCOPE,
    FHIR,
    authorize,
    open_chart,
    query_of,
)

STANDALONE_SCOPE = "launch/patient openid fhirUser online_access patient/Observation.rs patient/Patient.r"


def redirect_error(auth) -> dict:
    assert auth.response.status_code == 302, auth.response.text
    assert auth.location.startswith(APP_REDIRECT + "?")
    return query_of(auth.location)


def test_ehr_launch_redirects_back_with_a_code_and_the_state(client):
    launch = open_chart(client)
    auth = authorize(client, launch=launch["launch"])
    params = redirect_error(auth)
    assert params["state"] == auth.params["state"] and params["code"]
    assert "error" not in params


@pytest.mark.parametrize("change", [{"client_id": "no-such-app"}, {"redirect_uri": "http://evil.test/callback"},
                                    {"redirect_uri": APP_REDIRECT + "/"}, {"redirect_uri": None},
                                    {"client_id": None}])
def test_unknown_client_or_redirect_uri_is_an_error_page_not_a_redirect(client, change):
    launch = open_chart(client)
    auth = authorize(client, launch=launch["launch"], **change)
    assert auth.response.status_code == 400
    assert "Location" not in auth.response.headers
    assert 'id="error-code"' in auth.response.text


@pytest.mark.parametrize("change, error", [
    ({"aud": "http://localhost/other-fhir"}, "invalid_request"),
    ({"aud": None}, "invalid_request"),
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),  # RFC 7636 defaults to plain: refused
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "patient/Condition.rs user/Claim.cruds"}, "invalid_scope"),  # nothing the app may have
])
def test_bad_requests_go_back_to_the_app_as_oauth_errors_with_state(client, change, error):
    launch = open_chart(client)
    auth = authorize(client, launch=launch["launch"], **change)
    params = redirect_error(auth)
    assert params["error"] == error
    assert params["state"] == auth.params["state"]
    assert "code" not in params


def test_a_replayed_nonce_is_refused(client):
    first = authorize(client, launch=open_chart(client)["launch"], nonce="same-nonce-twice")
    assert "code" in redirect_error(first)
    params = redirect_error(authorize(client, launch=open_chart(client)["launch"], nonce="same-nonce-twice"))
    assert params["error"] == "invalid_request"


def test_missing_state_is_refused(client):
    launch = open_chart(client)
    params = redirect_error(authorize(client, launch=launch["launch"], state=None))
    assert params["error"] == "invalid_request"


def test_aud_with_a_trailing_slash_is_the_same_server(client):
    launch = open_chart(client)
    assert "code" in redirect_error(authorize(client, launch=launch["launch"], aud=FHIR + "/"))


def test_launch_scope_without_launch_parameter_is_refused(client):
    params = redirect_error(authorize(client, launch=None))
    assert params["error"] == "invalid_request" and "launch" in params["error_description"]


def test_launch_parameter_without_launch_scope_is_refused(client):
    launch = open_chart(client)
    params = redirect_error(authorize(client, launch=launch["launch"], scope=STANDALONE_SCOPE))
    assert params["error"] == "invalid_scope"


@pytest.mark.parametrize("launch_id", ["made-up-launch", "x"])
def test_unknown_launch_is_refused(client, launch_id):
    params = redirect_error(authorize(client, launch=launch_id))
    assert params["error"] == "invalid_request"


def test_a_launch_works_once(client):
    launch = open_chart(client)
    assert "code" in redirect_error(authorize(client, launch=launch["launch"]))
    params = redirect_error(authorize(client, launch=launch["launch"]))
    assert params["error"] == "invalid_request"


def test_a_launch_expires(client, clock):
    launch = open_chart(client)
    clock.advance(301)
    params = redirect_error(authorize(client, launch=launch["launch"]))
    assert params["error"] == "invalid_request"


def test_a_launch_is_bound_to_the_app_it_was_made_for(client):
    from tests.support.sandbox_launch import CONF_ID, CONF_REDIRECT

    launch = open_chart(client)  # launched for test-app
    auth = authorize(client, launch=launch["launch"], client_id=CONF_ID, redirect_uri=CONF_REDIRECT)
    assert auth.response.status_code == 302
    assert query_of(auth.location)["error"] == "invalid_request"


def test_authorize_accepts_post(client):
    launch = open_chart(client)
    auth = authorize(client, launch=launch["launch"])
    fresh = {"launch": open_chart(client)["launch"], "nonce": "post-nonce", "state": "post-state"}
    resp = client.post("/auth/authorize", data=auth.params | fresh)
    assert resp.status_code == 302 and "code=" in resp.headers["Location"]


def _login_page(client):
    auth = authorize(client, launch=None, scope=STANDALONE_SCOPE)
    assert auth.response.status_code == 200
    page = auth.response.text
    txn = re.search(r'name="txn" value="([^"]+)"', page).group(1)
    return auth, page, unescape(txn)


def test_standalone_launch_shows_sign_in_with_user_and_patient_pickers(client):
    _auth, page, _txn = _login_page(client)
    assert '<select id="user"' in page and '<select id="patient"' in page
    assert "Sign in and allow" in page
    assert 'value="demo-102421"' in page


def test_standalone_allow_returns_a_code_bound_to_the_chosen_patient(client):
    from tests.support.sandbox_launch import exchange

    auth, _page, txn = _login_page(client)
    resp = client.post("/auth/authorize/decision",
                       data={"txn": txn, "user": "provider", "patient": "demo-108952", "decision": "allow"})
    assert resp.status_code == 302
    params = query_of(resp.headers["Location"])
    assert params["state"] == auth.params["state"]
    auth.response = resp
    token = exchange(client, auth).json
    assert token["patient"] == "demo-108952"
    assert token["encounter"] == "demo-108952-icu"
    assert token["need_patient_banner"] is True
    assert "launch/patient" in token["scope"].split()


def test_standalone_deny_is_access_denied(client):
    auth, _page, txn = _login_page(client)
    resp = client.post("/auth/authorize/decision", data={"txn": txn, "decision": "deny"})
    params = query_of(resp.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == auth.params["state"]


def test_standalone_sign_in_page_works_once(client):
    _auth, _page, txn = _login_page(client)
    form = {"txn": txn, "user": "nurse", "patient": "demo-102421", "decision": "allow"}
    assert client.post("/auth/authorize/decision", data=form).status_code == 302
    again = client.post("/auth/authorize/decision", data=form)
    assert again.status_code == 400 and "expired" in again.text


def test_ehr_launch_authorize_url_is_what_the_chart_iframe_promises(client):
    launch = open_chart(client)
    assert launch["iss"] == FHIR and len(launch["launch"]) >= 16
    assert open_chart(client)["launch"] != launch["launch"]  # a new opaque launch per chart opening


def test_prompt_none_without_a_session_is_login_required(client):
    params = redirect_error(authorize(client, launch=None, scope=STANDALONE_SCOPE, prompt="none"))
    assert params["error"] == "login_required"


def test_authorize_query_string_as_an_app_builds_it(client):
    # Authlib's client puts the parameters in this order; nothing here depends on order.
    launch = open_chart(client)
    from tests.support.sandbox_launch import pkce

    verifier, challenge = pkce()
    qs = urlencode({"response_type": "code", "client_id": APP_ID, "redirect_uri": APP_REDIRECT,
                    "scope": EHR_SCOPE, "state": "s" * 22, "code_challenge": challenge,
                    "code_challenge_method": "S256", "aud": FHIR, "nonce": "n" * 10, "launch": launch["launch"]})
    assert client.get("/auth/authorize?" + qs).status_code == 302
