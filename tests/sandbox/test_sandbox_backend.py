"""SMART Backend Services on the sandbox: private_key_jwt client authentication and the client_credentials grant.

Each refusal is one check of the SMART "Client Authentication: Asymmetric" server obligations; the assertion in
each test is otherwise valid, so the test fails if that check were removed.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from app.smart.backend_key import BackendKey, generate_key
from sandbox import register_backend_client
from tests.support.sandbox_launch import BASE, OTHER, SEPTIC

TOKEN_URL = f"{BASE}/auth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
BACKEND_ID = "test-backend"
RSA_ID = "test-backend-rsa"
URL_ID = "test-backend-url"
JWKS_URL = "https://screening.example/.well-known/jwks.json"
SCOPE = "system/Patient.rs system/Encounter.rs system/Observation.rs"


@pytest.fixture(scope="module")
def ec_key() -> BackendKey:
    return generate_key()


@pytest.fixture(scope="module")
def rsa_key() -> BackendKey:
    key = RSAKey.generate_key(2048, private=True)
    return BackendKey(key=key, kid=key.thumbprint(), alg="RS384")


@pytest.fixture(autouse=True)
def backends(sandbox_app, ec_key, rsa_key):
    register_backend_client(sandbox_app, BACKEND_ID, jwks=ec_key.jwks(), scope=SCOPE)
    register_backend_client(sandbox_app, RSA_ID, jwks=rsa_key.jwks(), scope=SCOPE)


def assertion(key: BackendKey, clock, *, client_id: str = BACKEND_ID, header: dict | None = None,
              drop: tuple[str, ...] = (), **claims) -> str:
    body = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": int(clock.now) + 240,
            "jti": secrets.token_urlsafe(16), **claims}
    for name in drop:
        body.pop(name)
    return jwt.encode({**key.header(), **(header or {})}, body, key.key, algorithms=[key.alg])


def request_token(client, signed: str, scope: str = "system/Observation.rs", **extra):
    data = {"grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed, **extra}
    return client.post("/auth/token", data={k: v for k, v in data.items() if v is not None})


def assert_invalid_client(resp, words: str) -> None:
    assert resp.status_code == 401, resp.json
    assert resp.json["error"] == "invalid_client"
    assert words in resp.json["error_description"]
    assert "access_token" not in resp.json


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# ---- what a good request gets -------------------------------------------------------------------------------

def test_es384_assertion_gets_a_short_system_token_without_refresh_or_patient(client, clock, ec_key):
    resp = request_token(client, assertion(ec_key, clock), scope=SCOPE)
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["token_type"] == "Bearer" and body["scope"] == SCOPE and body["expires_in"] == 300
    assert "refresh_token" not in body and "patient" not in body and "id_token" not in body
    assert resp.headers["Cache-Control"] == "no-store"


def test_rs384_assertion_is_accepted_too(client, clock, rsa_key):
    resp = request_token(client, assertion(rsa_key, clock, client_id=RSA_ID))
    assert resp.status_code == 200, resp.json


def test_exp_exactly_five_minutes_ahead_is_accepted(client, clock, ec_key):
    resp = request_token(client, assertion(ec_key, clock, exp=int(clock.now) + 300))
    assert resp.status_code == 200, resp.json


# ---- refusals: invalid_client (401) ---------------------------------------------------------------------------

def test_a_reused_jti_is_refused(client, clock, ec_key):
    signed = assertion(ec_key, clock)
    assert request_token(client, signed).status_code == 200
    assert_invalid_client(request_token(client, signed), "jti was already used")


def test_the_same_jti_in_a_new_assertion_is_refused(client, clock, ec_key):
    assert request_token(client, assertion(ec_key, clock, jti="once-only")).status_code == 200
    assert_invalid_client(request_token(client, assertion(ec_key, clock, jti="once-only", exp=int(clock.now) + 200)),
                          "jti was already used")


def test_jtis_are_forgotten_once_their_assertion_expired(sandbox_app, client, clock, ec_key):
    assert request_token(client, assertion(ec_key, clock, jti="short-lived", exp=int(clock.now) + 60)).status_code \
        == 200
    assert (BACKEND_ID, "short-lived") in sandbox_app.extensions["sandbox"].auth.used_jtis
    clock.advance(61)
    assert request_token(client, assertion(ec_key, clock)).status_code == 200
    assert (BACKEND_ID, "short-lived") not in sandbox_app.extensions["sandbox"].auth.used_jtis


def test_a_wrong_aud_is_refused(client, clock, ec_key):
    assert_invalid_client(request_token(client, assertion(ec_key, clock, aud=f"{BASE}/fhir")), "aud")


def test_an_exp_more_than_five_minutes_ahead_is_refused(client, clock, ec_key):
    assert_invalid_client(request_token(client, assertion(ec_key, clock, exp=int(clock.now) + 301)),
                          "more than five minutes ahead")


def test_an_expired_assertion_is_refused(client, clock, ec_key):
    signed = assertion(ec_key, clock, exp=int(clock.now) + 30)
    clock.advance(31)
    assert_invalid_client(request_token(client, signed), "expired")


@pytest.mark.parametrize(("claim", "words"), [("exp", "needs an exp"), ("jti", "needs a jti")])
def test_an_assertion_without_exp_or_jti_is_refused(client, clock, ec_key, claim, words):
    assert_invalid_client(request_token(client, assertion(ec_key, clock, drop=(claim,))), words)


def test_an_unknown_kid_is_refused(client, clock, ec_key):
    assert_invalid_client(request_token(client, assertion(ec_key, clock, header={"kid": "not-registered"})),
                          "No key with this kid")


def test_a_bad_signature_is_refused(client, clock, ec_key):
    impostor = generate_key()  # a different key claiming the registered kid
    forged = assertion(BackendKey(impostor.key, ec_key.kid, "ES384"), clock)
    assert_invalid_client(request_token(client, forged), "signature does not verify")


def test_alg_none_is_refused(client, clock):
    claims = {"iss": BACKEND_ID, "sub": BACKEND_ID, "aud": TOKEN_URL, "exp": int(clock.now) + 60, "jti": "n1"}
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert_invalid_client(request_token(client, unsigned), "alg must be one of")


def test_hs256_signed_with_the_public_key_is_refused(client, clock, ec_key):
    """The classic key-confusion attack: the public JWK used as an HMAC secret."""
    secret = OctKey.import_key(json.dumps(ec_key.public_jwk()).encode())
    claims = {"iss": BACKEND_ID, "sub": BACKEND_ID, "aud": TOKEN_URL, "exp": int(clock.now) + 60, "jti": "h1"}
    forged = jwt.encode({"alg": "HS256", "kid": ec_key.kid}, claims, secret, algorithms=["HS256"])
    assert_invalid_client(request_token(client, forged), "alg must be one of")


def test_rs256_is_refused_even_with_the_registered_rsa_key(client, clock, rsa_key):
    signed = assertion(BackendKey(rsa_key.key, rsa_key.kid, "RS256"), clock, client_id=RSA_ID)
    assert_invalid_client(request_token(client, signed), "alg must be one of")


def test_an_es384_header_on_the_rsa_clients_key_finds_no_key(client, clock, rsa_key, ec_key):
    signed = assertion(BackendKey(ec_key.key, rsa_key.kid, "ES384"), clock, client_id=RSA_ID)
    assert_invalid_client(request_token(client, signed), "No key with this kid for ES384")


def test_an_unknown_client_is_refused(client, clock, ec_key):
    assert_invalid_client(request_token(client, assertion(ec_key, clock, client_id="nobody")), "Unknown backend client")


def test_a_launch_client_cannot_use_client_credentials(client, clock, ec_key):
    from tests.support.sandbox_launch import APP_ID

    assert_invalid_client(request_token(client, assertion(ec_key, clock, client_id=APP_ID)), "Unknown backend client")


def test_iss_and_sub_must_both_be_the_client(client, clock, ec_key):
    assert_invalid_client(request_token(client, assertion(ec_key, clock, sub="someone-else")), "iss and sub")


def test_a_client_id_parameter_must_match_the_assertion(client, clock, ec_key):
    assert_invalid_client(request_token(client, assertion(ec_key, clock), client_id=RSA_ID), "does not match")


def test_the_assertion_type_must_be_jwt_bearer(client, clock, ec_key):
    resp = request_token(client, assertion(ec_key, clock), client_assertion_type="urn:example:other")
    assert_invalid_client(resp, "client_assertion_type")


def test_no_assertion_at_all_is_refused(client):
    assert_invalid_client(request_token(client, None), "client_assertion")


def test_a_jku_other_than_the_registered_jwks_url_is_refused(client, clock, ec_key):
    signed = assertion(ec_key, clock, header={"jku": "https://attacker.example/jwks.json"})
    assert_invalid_client(request_token(client, signed), "jku")


# ---- refusals: scopes (400) -----------------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["system/Condition.rs", "system/Observation.cruds", "system/*.rs",
                                   "user/Observation.rs", "patient/Observation.rs", "openid"])
def test_a_scope_not_granted_to_the_client_is_invalid_scope(client, clock, ec_key, scope):
    resp = request_token(client, assertion(ec_key, clock), scope=f"system/Observation.rs {scope}")
    assert resp.status_code == 400 and resp.json["error"] == "invalid_scope"
    assert scope in resp.json["error_description"]


def test_a_scope_is_required(client, clock, ec_key):
    resp = request_token(client, assertion(ec_key, clock), scope=None)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_request"


# ---- what the token reaches on the FHIR server ----------------------------------------------------------------

@pytest.fixture
def system_token(client, clock, ec_key) -> str:
    resp = request_token(client, assertion(ec_key, clock), scope=SCOPE)
    return resp.json["access_token"]


def test_a_system_token_searches_any_patients_observations(client, system_token):
    auth = {"Authorization": f"Bearer {system_token}"}
    for patient in (SEPTIC, OTHER):  # no patient compartment: every patient's data
        resp = client.get(f"/fhir/Observation?patient={patient}&_count=5", headers=auth)
        assert resp.status_code == 200 and resp.json["entry"], resp.json
    assert client.get(f"/fhir/Patient/{OTHER}", headers=auth).status_code == 200
    assert client.get("/fhir/Encounter?status=in-progress", headers=auth).json["entry"]


def test_a_system_token_is_refused_for_types_and_interactions_not_granted(client, system_token):
    auth = {"Authorization": f"Bearer {system_token}"}
    resp = client.get(f"/fhir/Condition?patient={SEPTIC}", headers=auth)
    assert resp.status_code == 403 and resp.json["resourceType"] == "OperationOutcome"
    assert 'scope="system/Condition.s"' in resp.headers["WWW-Authenticate"]
    order = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
             "subject": {"reference": f"Patient/{SEPTIC}"}, "code": {"text": "Lactate"}}
    created = client.post("/fhir/ServiceRequest", json=order,
                          headers={**auth, "Content-Type": "application/fhir+json"})
    assert created.status_code == 403


def test_a_system_token_expires_after_its_lifetime(client, clock, system_token):
    clock.advance(301)
    assert client.get(f"/fhir/Patient/{SEPTIC}", headers={"Authorization": f"Bearer {system_token}"}).status_code \
        == 401


# ---- registration by JWKS URL ---------------------------------------------------------------------------------

@responses.activate
def test_a_jwks_url_is_fetched_with_a_timeout_cached_and_refetched_for_a_new_kid(sandbox_app, client, clock,
                                                                                   monkeypatch):
    old, new = generate_key(), generate_key()
    served = {"jwks": old.jwks()}
    responses.add_callback(responses.GET, JWKS_URL,
                           callback=lambda request: (200, {}, json.dumps(served["jwks"])))
    timeouts = []
    real_get = requests.get
    monkeypatch.setattr(requests, "get", lambda *a, **kw: timeouts.append(kw.get("timeout")) or real_get(*a, **kw))
    register_backend_client(sandbox_app, URL_ID, jwks_url=JWKS_URL, scope=SCOPE)
    for _ in range(2):
        assert request_token(client, assertion(old, clock, client_id=URL_ID)).status_code == 200
    assert len(responses.calls) == 1 and timeouts == [5]  # cached, and never fetched without a timeout
    served["jwks"] = new.jwks()  # the app rotated its key
    signed = assertion(new, clock, client_id=URL_ID, header={"jku": JWKS_URL})
    assert request_token(client, signed).status_code == 200
    assert len(responses.calls) == 2


@responses.activate
def test_an_unreachable_jwks_url_is_invalid_client(sandbox_app, client, clock):
    responses.add(responses.GET, JWKS_URL, status=503)
    register_backend_client(sandbox_app, URL_ID, jwks_url=JWKS_URL, scope=SCOPE)
    assert_invalid_client(request_token(client, assertion(generate_key(), clock, client_id=URL_ID)), "JWKS URL")


def test_registration_refuses_a_jwks_with_private_members(sandbox_app, ec_key):
    private = {"keys": [{**ec_key.key.as_dict(private=True), "kid": ec_key.kid}]}
    with pytest.raises(ValueError, match="public keys only"):
        register_backend_client(sandbox_app, "leaky", jwks=private)
    with pytest.raises(ValueError, match="system/"):
        register_backend_client(sandbox_app, "wide", jwks=ec_key.jwks(), scope="user/*.rs")


def test_discovery_advertises_backend_services(client):
    doc = client.get("/fhir/.well-known/smart-configuration").json
    assert "client-confidential-asymmetric" in doc["capabilities"]
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    assert set(doc["token_endpoint_auth_signing_alg_values_supported"]) == {"ES384", "RS384"}
    assert "client_credentials" in doc["grant_types_supported"]
