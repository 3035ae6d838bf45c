"""The backend signing key: from PEM or JWK, by file or setting; the demo's generated key; only public members out."""

from __future__ import annotations

import json
import stat

import pytest
from joserfc.jwk import ECKey, RSAKey

from app.config import ConfigError, load_settings
from app.smart.backend_key import generate_key, load_key, parse_key
from app.smart.errors import BackendKeyInvalid

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def _small_rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the key being refused
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_an_ec_p384_pem_signs_es384_with_its_thumbprint_as_kid():
    raw = ECKey.generate_key("P-384", private=True)
    key = parse_key(raw.as_pem(private=True))
    assert key.alg == "ES384" and key.kid == raw.thumbprint()


def test_an_rsa_pem_signs_rs384():
    assert parse_key(RSAKey.generate_key(2048, private=True).as_pem(private=True).decode()).alg == "RS384"


def test_a_private_jwk_keeps_its_own_kid():
    raw = ECKey.generate_key("P-384", private=True)
    key = parse_key(json.dumps({**raw.as_dict(private=True), "kid": "2026-11"}))
    assert key.kid == "2026-11" and key.alg == "ES384"


@pytest.mark.parametrize(("text", "words"), [
    (ECKey.generate_key("P-384", private=True).as_pem(private=False), "public key"),
    (ECKey.generate_key("P-256", private=True).as_pem(private=True), "P-384"),
    (_small_rsa_pem(), "2048"),
    ("not a key", "neither"),
    ('{"kty": "oct", "k": "c2VjcmV0"}', "kty"),
    ("{broken", "does not parse"),
])
def test_unusable_keys_are_refused_with_a_reason(text, words):
    with pytest.raises(BackendKeyInvalid) as caught:
        parse_key(text)
    assert words in caught.value.detail


def test_the_published_jwk_has_no_private_member():
    for key in (generate_key(), parse_key(RSAKey.generate_key(2048, private=True).as_pem(private=True))):
        (jwk,) = key.jwks()["keys"]
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["kid"] == key.kid and jwk["alg"] == key.alg and jwk["use"] == "sig"
        assert "PRIVATE" not in repr(key) and key.kid in repr(key)


def test_the_demo_key_is_generated_once_owner_only_and_reused(tmp_path):
    path = tmp_path / "instance" / "backend_key.pem"
    first = load_key(generate_into=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(generate_into=path).kid == first.kid
    assert load_key(key_file=str(path)).kid == first.kid


def test_a_setting_wins_over_a_file_and_a_missing_file_says_so(tmp_path):
    text = ECKey.generate_key("P-384", private=True).as_pem(private=True).decode()
    assert load_key(key_file=str(tmp_path / "absent.pem"), key_text=text).alg == "ES384"
    with pytest.raises(BackendKeyInvalid) as caught:
        load_key(key_file=str(tmp_path / "absent.pem"))
    assert "cannot be read" in caught.value.detail
    with pytest.raises(BackendKeyInvalid):
        load_key()


BASE = "https://ehr.example.org/fhir"


def test_backend_settings_are_checked_at_start():
    good = {"backend_client_id": "c", "backend_fhir_base": BASE, "iss_allowlist": (BASE,), "backend_key": "x"}
    assert load_settings(good, environ={}).backend_client_id == "c"
    with pytest.raises(ConfigError, match="ALLOWLIST"):
        load_settings({**good, "iss_allowlist": ("https://other/fhir",)}, environ={})
    with pytest.raises(ConfigError, match="needs a key"):
        load_settings({**good, "backend_key": ""}, environ={})
    with pytest.raises(ConfigError, match="system/"):
        load_settings({**good, "backend_scopes": "user/Observation.rs"}, environ={})
    with pytest.raises(ConfigError, match="FHIR_BASE"):
        load_settings({**good, "backend_fhir_base": ""}, environ={})


def test_the_key_setting_is_never_in_the_settings_repr():
    settings = load_settings({"backend_key": "-----BEGIN PRIVATE KEY-----MIIBvQIBADANBg"}, environ={})
    assert "MIIBvQIBADANBg" not in repr(settings)
