"""The hook's authentication (CDS Hooks 2.0, "Trusting CDS Clients"): every way a call is refused, and the JWKS
fetch's bounds. The client's JWKS is served by `responses`, so the real requests code path runs."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
import responses

from app.cds.auth import MAX_JWKS_BYTES, CdsAuthError, JwksCache, verify
from app.smart.backend_key import generate_key
from tests.support.cds_client import CLIENT, JWKS_URL, SERVICE_URL, Client

CLIENTS = {CLIENT: JWKS_URL}


@pytest.fixture
def ehr():
    client = Client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(JWKS_URL, json=client.key.jwks())
        client.mock = mock
        yield client


@pytest.fixture
def jwks():
    return JwksCache(requests.Session(), 2.0)


def check(header, engine, jwks, **kwargs):
    return verify(header, audience=SERVICE_URL, clients=kwargs.pop("clients", CLIENTS), jwks=jwks, engine=engine,
                  **kwargs)


def refused(header, engine, jwks, **kwargs) -> CdsAuthError:
    with pytest.raises(CdsAuthError) as info:
        check(header, engine, jwks, **kwargs)
    return info.value


def test_a_signed_call_from_a_known_client_is_let_in(engine, ehr, jwks):
    caller = check(ehr.bearer(tenant="general-hospital"), engine, jwks)
    assert (caller.iss, caller.tenant) == (CLIENT, "general-hospital")


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Basic abc"])
def test_no_jwt_is_401(engine, jwks, header):
    assert (refused(header, engine, jwks).status, refused(header, engine, jwks).code) == (401, "no_jwt")


def test_a_wrong_signature_is_401(engine, ehr, jwks):
    forged = ehr.jwt(key=generate_key(), header=ehr.key.header())  # the client's kid, another key's signature
    error = refused(f"Bearer {forged}", engine, jwks)
    assert (error.status, error.code) == (401, "jwt_signature")


def test_a_key_the_client_does_not_publish_is_401(engine, ehr, jwks):
    error = refused(f"Bearer {ehr.jwt(key=generate_key())}", engine, jwks)
    assert (error.status, error.code) == (401, "jwt_signature")


def _unsigned(claims: dict) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'x'})}.{part(claims)}."


def test_an_unsigned_jwt_is_401_even_from_a_known_client(engine, ehr, jwks):
    now = int(time.time())
    token = _unsigned({"iss": CLIENT, "aud": SERVICE_URL, "iat": now, "exp": now + 60, "jti": "abcdefgh-1"})
    error = refused(f"Bearer {token}", engine, jwks)
    assert (error.status, error.code) == (401, "jwt_alg")


def test_junk_is_401(engine, jwks):
    assert refused("Bearer not.a.jwt", engine, jwks).status == 401


def test_a_wrong_audience_is_401(engine, ehr, jwks):
    error = refused(ehr.bearer(aud="https://elsewhere.example/cds-services/sepsis-sentinel"), engine, jwks)
    assert error.status == 401 and "aud" in error.code


def test_an_expired_jwt_is_401(engine, ehr, jwks):
    error = refused(ehr.bearer(now=time.time() - 3600), engine, jwks)
    assert error.status == 401 and "exp" in error.code


def test_a_jwt_valid_for_hours_is_401(engine, ehr, jwks):
    assert refused(ehr.bearer(exp_in=6 * 3600), engine, jwks).code == "jwt_lifetime"


def test_a_replayed_jti_is_401(engine, ehr, jwks):
    token = ehr.bearer(jti="0b7e4c2a-replay")
    check(token, engine, jwks)
    error = refused(token, engine, jwks)
    assert (error.status, error.code) == (401, "jwt_replayed")
    # another token with the same jti is a replay too: the id, not the token, is single-use
    assert refused(ehr.bearer(jti="0b7e4c2a-replay"), engine, jwks).code == "jwt_replayed"


def test_the_replay_store_is_the_database_so_another_worker_refuses_it_too(engine, ehr):
    token = ehr.bearer()
    check(token, engine, JwksCache(requests.Session(), 2.0))
    assert refused(token, engine, JwksCache(requests.Session(), 2.0)).code == "jwt_replayed"


def test_an_unknown_client_is_403(engine, jwks):
    stranger = Client("https://stranger.example")
    error = refused(stranger.bearer(), engine, jwks)
    assert (error.status, error.code) == (403, "unknown_client")


def test_a_known_iss_signed_by_a_stranger_is_401_not_403(engine, ehr, jwks):
    stranger = Client(CLIENT)  # claims to be the EHR, with its own key
    assert refused(stranger.bearer(), engine, jwks).status == 401


def test_jku_is_ignored_the_configured_jwks_is_used(engine, ehr, jwks):
    attacker = generate_key()
    ehr.mock.get("https://attacker.example/jwks", json=attacker.jwks())
    token = ehr.jwt(key=attacker, header={**attacker.header(), "jku": "https://attacker.example/jwks"})
    assert refused(f"Bearer {token}", engine, jwks).code == "jwt_signature"


def test_the_jwks_is_cached_and_refetched_once_on_a_rotated_key(engine, ehr, jwks):
    check(ehr.bearer(), engine, jwks)
    check(ehr.bearer(), engine, jwks)
    assert len(ehr.mock.calls) == 1
    rotated = generate_key()
    ehr.mock.replace(responses.GET, JWKS_URL, json={"keys": [ehr.key.public_jwk(), rotated.public_jwk()]})
    jwks.clock = lambda: time.monotonic() + 120  # past the refetch limit
    check(ehr.bearer(key=rotated), engine, jwks)
    assert len(ehr.mock.calls) == 2


def test_an_unknown_kid_does_not_refetch_more_than_once_a_minute(engine, ehr, jwks):
    check(ehr.bearer(), engine, jwks)
    for _ in range(3):
        refused(ehr.bearer(key=generate_key()), engine, jwks)
    assert len(ehr.mock.calls) == 1


def test_the_jwks_must_be_https_except_on_loopback(engine, ehr, jwks):
    error = refused(ehr.bearer(), engine, jwks, clients={CLIENT: "http://ehr.example/jwks"})
    assert error.code == "jwks_not_https"


def test_a_redirecting_or_huge_or_junk_jwks_is_refused(engine, ehr, jwks):
    ehr.mock.get("https://ehr.example/moved", status=302, headers={"Location": "https://attacker.example/jwks"})
    assert refused(ehr.bearer(), engine, jwks, clients={CLIENT: "https://ehr.example/moved"}).code == \
        "jwks_unavailable"
    ehr.mock.get("https://ehr.example/huge", body=b"{" + b" " * (MAX_JWKS_BYTES + 10) + b"}")
    assert refused(ehr.bearer(), engine, jwks, clients={CLIENT: "https://ehr.example/huge"}).code == \
        "jwks_too_large"
    ehr.mock.get("https://ehr.example/junk", body=b"<html>")
    assert refused(ehr.bearer(), engine, jwks, clients={CLIENT: "https://ehr.example/junk"}).code == \
        "jwks_malformed"
