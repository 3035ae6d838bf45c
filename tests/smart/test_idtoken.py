import time

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from app.smart import idtoken
from app.smart.errors import IdTokenInvalid

JWKS = "https://ehr.example.org/auth/jwks"
ISSUER = "https://ehr.example.org/fhir"


@pytest.fixture(scope="module")
def keys():
    good = RSAKey.generate_key(2048, parameters={"kid": "good"}, private=True)
    evil = RSAKey.generate_key(2048, parameters={"kid": "good"}, private=True)  # same kid, different key
    return good, evil


@pytest.fixture(autouse=True)
def _jwks(keys):
    idtoken._JWKS_CACHE.clear()
    with responses.RequestsMock() as mock:
        mock.get(JWKS, json=KeySet([keys[0]]).as_dict(private=False))
        yield mock


def make(key, **claims):
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "u1", "aud": "sepsis-sentinel", "exp": now + 300, "iat": now, "nonce": "n1",
            "fhirUser": "Practitioner/123", **claims}
    return jwt.encode({"alg": "RS256", "kid": "good"}, body, key)


def verify(token, **kw):
    args = dict(jwks_uri=JWKS, issuer=ISSUER, client_id="sepsis-sentinel", nonce="n1", http=requests.Session(),
                timeout=(1, 1))
    return idtoken.verify_id_token(token, **{**args, **kw})


def test_valid_token_gives_the_user(keys):
    identity = verify(make(keys[0]))
    assert identity.fhir_user == "Practitioner/123"


@pytest.mark.parametrize("claims, why", [
    ({"aud": "another-app"}, "aud"),
    ({"iss": "https://attacker.example"}, "iss"),
    ({"exp": int(time.time()) - 3600}, "exp"),
    ({"nonce": "replayed"}, "nonce"),
])
def test_wrong_claims_are_refused(keys, claims, why):
    with pytest.raises(IdTokenInvalid) as err:
        verify(make(keys[0], **claims))
    assert why in err.value.detail
    assert "could not be verified" in err.value.message


def test_bad_signature_is_refused(keys):
    with pytest.raises(IdTokenInvalid, match="could not be verified"):
        verify(make(keys[1]))


def test_missing_token_or_fhiruser_is_refused(keys):
    with pytest.raises(IdTokenInvalid):
        verify(None)
    with pytest.raises(IdTokenInvalid, match="who you are"):
        verify(make(keys[0], fhirUser=None))


def test_unsigned_token_is_refused(keys):
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    body = make(keys[0]).split(".")[1]
    with pytest.raises(IdTokenInvalid):
        verify(f"{header}.{body}.")


def test_key_rotation_refetches_the_jwks_once(keys, _jwks):
    verify(make(keys[0]))  # caches the JWKS
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rotated"}, private=True)
    _jwks.replace(responses.GET, JWKS, json=KeySet([rotated]).as_dict(private=False))
    token = jwt.encode({"alg": "RS256", "kid": "rotated"},
                       {"iss": ISSUER, "sub": "u", "aud": "sepsis-sentinel", "exp": int(time.time()) + 60,
                        "nonce": "n1", "fhirUser": "Practitioner/1"}, rotated)
    assert verify(token).subject == "u"


def test_without_an_issuer_in_discovery_the_token_must_come_from_the_launchs_fhir_base(keys):
    with pytest.raises(IdTokenInvalid) as err:
        verify(make(keys[0], iss="https://attacker.example"), issuer=None, iss=ISSUER)
    assert "iss" in err.value.detail
    assert verify(make(keys[0]), issuer=None, iss=ISSUER).subject == "u1"


def _later(monkeypatch, seconds):
    start = time.monotonic()
    monkeypatch.setattr(idtoken.time, "monotonic", lambda: start + seconds)


def test_a_key_replaced_under_the_same_kid_is_picked_up_by_a_refetch(keys, _jwks, monkeypatch):
    verify(make(keys[0]))  # caches the JWKS with the old key "good"
    _jwks.replace(responses.GET, JWKS, json=KeySet([keys[1]]).as_dict(private=False))  # new key, same kid
    _later(monkeypatch, idtoken.JWKS_REFETCH_SECONDS + 1)
    assert verify(make(keys[1])).subject == "u1"  # before: refused, "bad_signature", until the cache expired


def test_bad_signatures_refetch_the_jwks_at_most_once_a_minute(keys, _jwks, monkeypatch):
    verify(make(keys[0]))
    fetched = len(_jwks.calls)
    for _ in range(3):  # forged tokens in a burst: the cache is fresh, the EHR is not asked again
        with pytest.raises(IdTokenInvalid, match="could not be verified"):
            verify(make(keys[1]))
    assert len(_jwks.calls) == fetched
    _later(monkeypatch, idtoken.JWKS_REFETCH_SECONDS + 1)
    for _ in range(3):
        with pytest.raises(IdTokenInvalid):
            verify(make(keys[1]))
    assert len(_jwks.calls) == fetched + 1
