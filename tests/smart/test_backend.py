"""The Backend Services client: the signed assertion, discovery checks, the token cache, a 401 through Transport,
and what a refused or failed token request looks like (a typed error and a log code, never the token)."""

from __future__ import annotations

import json
import logging
import threading
from urllib.parse import parse_qs

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from app.fhir.errors import FhirUnauthorized
from app.fhir.transport import Transport
from app.smart import discovery
from app.smart.backend import ASSERTION_TYPE, BackendTokens, renewal_margin, signed_assertion
from app.smart.backend_key import BackendKey, generate_key
from app.smart.errors import (
    BackendTokenRefused,
    BackendTokenUnavailable,
    BackendUnsupported,
    IssNotAllowed,
)

ISS = "https://ehr.example.org/fhir"
TOKEN_URL = "https://auth.example.org/oauth2/token"
CLIENT = "screening-client"
SCOPE = "system/Patient.rs system/Encounter.rs system/Observation.rs"


class Clock:
    def __init__(self, now: float = 1_790_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _no_cached_discovery():
    discovery._CACHE.clear()
    yield
    discovery._CACHE.clear()


@pytest.fixture(scope="module")
def key() -> BackendKey:
    return generate_key()


def smart_config(**changes) -> dict:
    doc = {"issuer": ISS, "authorization_endpoint": "https://auth.example.org/oauth2/authorize",
           "token_endpoint": TOKEN_URL, "capabilities": ["client-confidential-asymmetric"],
           "grant_types_supported": ["authorization_code", "client_credentials"],
           "token_endpoint_auth_methods_supported": ["private_key_jwt"],
           "token_endpoint_auth_signing_alg_values_supported": ["ES384", "RS384"]}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def mock_server(token_bodies: list, config: dict | None = None) -> list[dict]:
    """Discovery plus a token endpoint answering `token_bodies` in turn; returns the token request forms."""
    responses.add(responses.GET, f"{ISS}/.well-known/smart-configuration", json=config or smart_config())
    forms: list[dict] = []
    answers = iter(token_bodies)

    def token(request):
        forms.append({k: v[0] for k, v in parse_qs(request.body).items()})
        status, body = next(answers)
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    responses.add_callback(responses.POST, TOKEN_URL, callback=token)
    return forms


def ok(value: str = "tok-1", expires_in: int | None = 300, scope: str = SCOPE) -> tuple[int, dict]:
    body = {"access_token": value, "token_type": "bearer", "scope": scope}
    if expires_in is not None:
        body["expires_in"] = expires_in
    return 200, body


def tokens(key: BackendKey, clock=None, **kw) -> BackendTokens:
    return BackendTokens(ISS, CLIENT, key, requests.Session(), scope=SCOPE, iss_allowlist=(ISS,),
                         clock=clock or Clock(), **kw)


def claims_of(form: dict, key: BackendKey):
    public = KeySet.import_key_set(key.jwks())
    return jwt.decode(form["client_assertion"], public, algorithms=[key.alg])


# ---- the token request and its assertion ----------------------------------------------------------------------

@responses.activate
def test_the_token_request_is_client_credentials_with_a_signed_es384_assertion(key):
    forms = mock_server([ok()])
    clock = Clock()
    assert tokens(key, clock).access_token() == "tok-1"
    (form,) = forms
    assert form["grant_type"] == "client_credentials" and form["scope"] == SCOPE
    assert form["client_assertion_type"] == ASSERTION_TYPE == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form
    token = claims_of(form, key)
    assert token.header == {"alg": "ES384", "kid": key.kid, "typ": "JWT"}
    c = token.claims
    assert c["iss"] == c["sub"] == CLIENT and c["aud"] == TOKEN_URL
    assert 0 < c["exp"] - clock.now <= 300 and c["jti"]


def test_every_assertion_has_a_new_jti_and_at_most_five_minutes(key):
    jtis = {jwt.decode(signed_assertion(key, CLIENT, TOKEN_URL, 1000.0), KeySet.import_key_set(key.jwks()),
                       algorithms=["ES384"]).claims["jti"] for _ in range(50)}
    assert len(jtis) == 50
    with pytest.raises(ValueError, match="300"):
        signed_assertion(key, CLIENT, TOKEN_URL, 1000.0, lifetime=301)


def test_jku_is_sent_when_configured(key):
    signed = signed_assertion(key, CLIENT, TOKEN_URL, 1000.0, jku="https://app.example/.well-known/jwks.json")
    header = jwt.decode(signed, KeySet.import_key_set(key.jwks()), algorithms=["ES384"]).header
    assert header["jku"] == "https://app.example/.well-known/jwks.json"


@responses.activate
def test_an_rsa_key_signs_rs384():
    raw = RSAKey.generate_key(2048, private=True)
    rsa = BackendKey(raw, raw.thumbprint(), "RS384")
    forms = mock_server([ok()])
    tokens(rsa).access_token()
    assert claims_of(forms[0], rsa).header["alg"] == "RS384"


# ---- discovery -----------------------------------------------------------------------------------------------

@responses.activate
@pytest.mark.parametrize(("changes", "words"), [
    ({"token_endpoint_auth_methods_supported": ["client_secret_basic"]}, "private_key_jwt"),
    ({"token_endpoint_auth_signing_alg_values_supported": ["RS384"]}, "ES384"),
    ({"token_endpoint_auth_signing_alg_values_supported": None}, "ES384"),
    ({"grant_types_supported": ["authorization_code"]}, "client_credentials"),
])
def test_a_server_without_backend_services_for_our_key_is_unsupported(key, changes, words):
    forms = mock_server([ok()], smart_config(**changes))
    with pytest.raises(BackendUnsupported) as caught:
        tokens(key).access_token()
    assert words in caught.value.detail and caught.value.code == "backend_unsupported"
    assert forms == []  # no assertion was sent to a server that cannot take it


def test_the_fhir_base_must_be_on_the_allow_list(key):
    with pytest.raises(IssNotAllowed):
        BackendTokens("https://other.example/fhir", CLIENT, key, requests.Session(), iss_allowlist=(ISS,))


# ---- caching and the renewal margin ---------------------------------------------------------------------------

@pytest.mark.parametrize(("lifetime", "margin"), [(300, 60), (3600, 60), (10, 2), (1, 0.2), (0, 0)])
def test_the_renewal_margin_scales_with_the_lifetime(lifetime, margin):
    assert renewal_margin(lifetime) == pytest.approx(margin)


def test_the_margin_is_always_shorter_than_the_lifetime():
    assert all(renewal_margin(t) < t for t in [0.5, 1, 2, 5, 30, 59, 60, 61, 299, 300, 301, 7200])


@responses.activate
def test_the_token_is_cached_until_shortly_before_it_expires(key):
    forms = mock_server([ok("tok-1"), ok("tok-2")])
    clock = Clock()
    source = tokens(key, clock)
    assert source.access_token() == "tok-1"
    clock.now += 239  # a 300 s token is used for 240 s
    assert source.access_token() == "tok-1" and len(forms) == 1
    clock.now += 1
    assert source.access_token() == "tok-2" and len(forms) == 2
    assert claims_of(forms[0], key).claims["jti"] != claims_of(forms[1], key).claims["jti"]


@responses.activate
def test_a_missing_expires_in_is_taken_as_300_seconds(key):
    forms = mock_server([ok("a", expires_in=None), ok("b")])
    clock = Clock()
    source = tokens(key, clock)
    source.access_token()
    clock.now += 239
    assert source.access_token() == "a"
    clock.now += 1
    assert source.access_token() == "b" and len(forms) == 2


@responses.activate
def test_concurrent_callers_share_one_token_request(key):
    forms = mock_server([ok("shared")] + [ok("extra")] * 7)
    source = tokens(key)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(source.access_token())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["shared"] * 8 and len(forms) == 1


@responses.activate
def test_the_granted_scope_is_what_the_server_said(key):
    mock_server([ok(scope="system/Observation.rs")])
    source = tokens(key)
    assert source.granted_scope is None
    source.access_token()
    assert source.granted_scope == "system/Observation.rs"


# ---- a 401 through the real Transport -------------------------------------------------------------------------

@responses.activate
def test_a_401_gets_exactly_one_new_token_and_the_read_succeeds(key):
    forms = mock_server([ok("stale"), ok("fresh")])
    seen: list[str] = []

    def fhir(request):
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer stale":
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, ""
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps({"resourceType": "Bundle", "entry": []})

    responses.add_callback(responses.GET, f"{ISS}/Observation", callback=fhir)
    transport = Transport(ISS, tokens(key), session=requests.Session(), sleep=lambda s: None)
    assert transport.get_json("Observation", {"patient": "p1"}, expect="Bundle")["resourceType"] == "Bundle"
    assert seen == ["Bearer stale", "Bearer fresh"] and len(forms) == 2


@responses.activate
def test_a_second_401_is_not_refreshed_again(key):
    forms = mock_server([ok("one"), ok("two"), ok("three")])
    responses.add(responses.GET, f"{ISS}/Observation", status=401)
    transport = Transport(ISS, tokens(key), session=requests.Session(), sleep=lambda s: None)
    with pytest.raises(FhirUnauthorized):
        transport.get_json("Observation", expect="Bundle")
    assert len(forms) == 2  # the first token, and exactly one refresh


# ---- refusals and failures ------------------------------------------------------------------------------------

@responses.activate
def test_a_refused_token_request_raises_a_typed_error_and_logs_its_code_without_secrets(key, caplog):
    forms = mock_server([(401, {"error": "invalid_client", "error_description": "No key with this kid"})])
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendTokenRefused) as caught:
        tokens(key).access_token()
    error = caught.value
    assert error.code == "backend_token_refused" and error.temporary is False
    assert "invalid_client" in error.detail and "No key with this kid" in error.detail
    assert "backend_token_refused" in caplog.text and CLIENT in caplog.text
    assert forms[0]["client_assertion"] not in caplog.text
    assert forms[0]["client_assertion"].split(".")[2] not in caplog.text + error.detail + str(error)


@responses.activate
def test_a_granted_token_is_never_logged(key, caplog):
    mock_server([ok("very-secret-access-token")])
    caplog.set_level(logging.DEBUG)
    source = tokens(key)
    source.access_token()
    assert "very-secret-access-token" not in caplog.text + repr(source)
    assert "backend_token_issued" in caplog.text


@responses.activate
@pytest.mark.parametrize("answer", [(503, {}), (429, {}), (200, {"token_type": "bearer"}),
                                    (200, {"access_token": "x", "token_type": "mac"})])
def test_an_unavailable_or_unusable_token_endpoint_is_temporary(key, answer):
    mock_server([answer])
    with pytest.raises(BackendTokenUnavailable) as caught:
        tokens(key).access_token()
    assert caught.value.temporary is True and caught.value.code == "backend_token_unavailable"


@responses.activate
def test_a_network_failure_is_temporary(key):
    responses.add(responses.GET, f"{ISS}/.well-known/smart-configuration", json=smart_config())
    responses.add(responses.POST, TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(BackendTokenUnavailable):
        tokens(key).access_token()


@responses.activate
def test_after_a_refusal_the_next_call_tries_again(key):
    forms = mock_server([(400, {"error": "invalid_scope"}), ok("later")])
    source = tokens(key)
    with pytest.raises(BackendTokenRefused):
        source.access_token()
    assert source.access_token() == "later" and len(forms) == 2
