"""The token endpoint: what it returns, what it refuses (RFC 6749 5.2), id_token, code reuse, refresh."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.sandbox_launch import (
    APP_ID,
    CONF_ID,
    CONF_REDIRECT,
    CONF_SECRET,
    EHR_SCOPE,
    FHIR,
    SEPTIC,
    authorize,
    basic,
    bearer,
    ehr_launch,
    exchange,
    open_chart,
)


def _code(client, **kw):
    auth = authorize(client, launch=open_chart(client)["launch"], **kw)
    assert auth.response.status_code == 302, auth.response.text
    return auth


def test_token_response_carries_tokens_scope_and_launch_context(client):
    auth = _code(client)
    resp = exchange(client, auth)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
    token = resp.json
    assert token["token_type"] == "Bearer"
    assert token["access_token"] and token["refresh_token"] and token["id_token"]
    assert token["expires_in"] == 3600
    assert set(token["scope"].split()) == set(EHR_SCOPE.split())
    assert token["patient"] == SEPTIC
    assert token["encounter"] == f"{SEPTIC}-icu"
    assert token["need_patient_banner"] is False  # the EHR shows its own banner around the iframe
    assert token["smart_style_url"].endswith("/ehr/smart-style.json")


def test_the_chart_can_ask_the_app_for_its_own_banner(client):
    auth = authorize(client, launch=open_chart(client, app_banner="1")["launch"])
    assert exchange(client, auth).json["need_patient_banner"] is True


def test_only_registered_scopes_are_granted(client):
    token = ehr_launch(client, scope=EHR_SCOPE + " patient/Condition.rs user/Observation.cruds")
    granted = token["scope"].split()
    assert "patient/Condition.rs" not in granted
    assert "user/Observation.cruds" not in granted
    assert "patient/Observation.rs" in granted


def test_no_refresh_token_without_online_or_offline_access(client):
    token = ehr_launch(client, scope=EHR_SCOPE.replace(" online_access", ""))
    assert "refresh_token" not in token


def test_id_token_verifies_against_the_published_jwks(client, clock):
    auth = _code(client)
    token = exchange(client, auth).json
    keys = KeySet.import_key_set(client.get("/auth/jwks").json)
    decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"]
    claims = decoded.claims
    assert claims["iss"] == FHIR
    assert claims["aud"] == APP_ID
    assert claims["nonce"] == auth.params["nonce"]
    assert claims["sub"] == "nurse"
    assert claims["fhirUser"] == f"{FHIR}/Practitioner/nurse"
    assert claims["iat"] == int(clock()) and claims["exp"] > claims["iat"]
    assert claims["name"] == "Nora Lindqvist"  # "profile" was granted
    jwt.JWTClaimsRegistry(now=int(clock()), aud={"essential": True, "value": APP_ID},
                          iss={"essential": True, "value": FHIR}).validate(claims)


def test_fhir_user_can_be_relative_like_the_public_sandbox(sandbox_app, client):
    sandbox_app.config["FHIR_USER"] = "relative"
    try:
        token = ehr_launch(client, user="provider")
    finally:
        sandbox_app.config["FHIR_USER"] = "absolute"
    keys = KeySet.import_key_set(client.get("/auth/jwks").json)
    assert jwt.decode(token["id_token"], keys).claims["fhirUser"] == "Practitioner/provider"


def test_a_code_works_once_and_its_reuse_revokes_what_it_gave(client):
    auth = _code(client)
    first = exchange(client, auth)
    assert first.status_code == 200
    second = exchange(client, auth)
    assert second.status_code == 400 and second.json["error"] == "invalid_grant"
    # RFC 6749 10.5: the tokens issued from the replayed code are revoked.
    assert client.get(f"/fhir/Patient/{SEPTIC}", headers=bearer(first.json)).status_code == 401
    refreshed = client.post("/auth/token", data={"grant_type": "refresh_token", "client_id": APP_ID,
                                                 "refresh_token": first.json["refresh_token"]})
    assert refreshed.json["error"] == "invalid_grant"


def test_codes_expire_after_a_minute(client, clock):
    auth = _code(client)
    clock.advance(61)
    resp = exchange(client, auth)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_grant"


@pytest.mark.parametrize("verifier, error", [("x" * 43, "invalid_grant"), ("", "invalid_request")])
def test_pkce_verifier_must_match(client, verifier, error):
    auth = _code(client)
    resp = client.post("/auth/token", data={"grant_type": "authorization_code", "code": auth.code,
                                            "redirect_uri": auth.params["redirect_uri"], "client_id": APP_ID,
                                            **({"code_verifier": verifier} if verifier else {})})
    assert resp.status_code in (400, 401) and resp.json["error"] == error


def test_redirect_uri_must_match_the_authorization_request(client):
    auth = _code(client)
    resp = exchange(client, auth, redirect_uri="http://app.test/other")
    assert resp.json["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(client):
    auth = _code(client)
    resp = exchange(client, auth, client_id=None, headers=basic(CONF_ID, CONF_SECRET))
    assert resp.json["error"] == "invalid_grant"


def test_unknown_grant_type_and_get_are_refused(client):
    resp = client.post("/auth/token", data={"grant_type": "password", "client_id": APP_ID})
    assert resp.json["error"] == "unsupported_grant_type"
    assert client.get("/auth/token").status_code == 405


def test_public_client_must_not_send_a_secret(client):
    auth = _code(client)
    resp = exchange(client, auth, client_secret="anything")
    assert resp.json["error"] == "invalid_client"


def _confidential_code(client):
    auth = authorize(client, launch=open_chart(client, app=CONF_ID)["launch"], client_id=CONF_ID,
                     redirect_uri=CONF_REDIRECT)
    assert auth.response.status_code == 302
    return auth


def test_confidential_client_authenticates_with_http_basic(client):
    auth = _confidential_code(client)
    resp = exchange(client, auth, client_id=None, redirect_uri=CONF_REDIRECT, headers=basic(CONF_ID, CONF_SECRET))
    assert resp.status_code == 200 and resp.json["patient"] == SEPTIC


@pytest.mark.parametrize("headers", [{}, basic(CONF_ID, "wrong")])
def test_confidential_client_without_its_secret_is_invalid_client(client, headers):
    auth = _confidential_code(client)
    resp = exchange(client, auth, client_id=CONF_ID, redirect_uri=CONF_REDIRECT, headers=headers)
    assert resp.status_code == 401 and resp.json["error"] == "invalid_client"


def _refresh(client, refresh_token, **extra):
    return client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                            "client_id": APP_ID, **extra})


def test_refresh_gives_a_working_token_and_rotates_the_refresh_token(client, clock):
    token = ehr_launch(client)
    clock.advance(3601)  # the access token has expired
    assert client.get(f"/fhir/Patient/{SEPTIC}", headers=bearer(token)).status_code == 401
    resp = _refresh(client, token["refresh_token"])
    assert resp.status_code == 200
    new = resp.json
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] != token["refresh_token"]
    assert new["scope"] == token["scope"] and new["patient"] == SEPTIC and new["expires_in"] == 3600
    assert client.get(f"/fhir/Patient/{SEPTIC}", headers=bearer(new)).status_code == 200


def test_a_retired_refresh_token_is_refused_and_revokes_the_chain(client):
    token = ehr_launch(client)
    new = _refresh(client, token["refresh_token"]).json
    replay = _refresh(client, token["refresh_token"])
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant"
    assert _refresh(client, new["refresh_token"]).json["error"] == "invalid_grant"


def test_refresh_may_narrow_the_scope_but_not_widen_it(client):
    token = ehr_launch(client)
    narrower = _refresh(client, token["refresh_token"], scope="patient/Observation.rs online_access")
    assert narrower.status_code == 200 and narrower.json["scope"] == "patient/Observation.rs online_access"
    wider = _refresh(client, narrower.json["refresh_token"], scope="patient/Observation.rs user/Patient.r")
    assert wider.json["error"] == "invalid_scope"


def test_refresh_tokens_expire(client, clock):
    token = ehr_launch(client)
    clock.advance(12 * 3600 + 1)
    assert _refresh(client, token["refresh_token"]).json["error"] == "invalid_grant"


def test_introspection_for_a_confidential_client(client, clock):
    auth = _confidential_code(client)
    token = exchange(client, auth, client_id=None, redirect_uri=CONF_REDIRECT,
                     headers=basic(CONF_ID, CONF_SECRET)).json
    info = client.post("/auth/introspect", data={"token": token["access_token"]},
                       headers=basic(CONF_ID, CONF_SECRET)).json
    assert info["active"] is True and info["patient"] == SEPTIC and info["client_id"] == CONF_ID
    clock.advance(3601)
    info = client.post("/auth/introspect", data={"token": token["access_token"]},
                       headers=basic(CONF_ID, CONF_SECRET)).json
    assert info == {"active": False}
