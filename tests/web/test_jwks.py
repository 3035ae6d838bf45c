"""`/.well-known/jwks.json`: the screening's public key for the EHR, and never anything private."""

from __future__ import annotations

from joserfc.jwk import KeySet

from app.smart.backend_key import load_key

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_the_jwks_serves_the_backend_public_key_only(make_app, ehr, tmp_path):
    key_file = tmp_path / "backend.pem"
    key = load_key(generate_into=key_file)
    app = make_app(backend_client_id="screening", backend_fhir_base=f"{ehr.base_url}/fhir",
                   backend_key_file=str(key_file))
    resp = app.test_client().get("/.well-known/jwks.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    (jwk,) = resp.json["keys"]
    assert jwk["kid"] == key.kid and jwk["alg"] == "ES384" and jwk["use"] == "sig" and jwk["crv"] == "P-384"
    assert not PRIVATE_MEMBERS & set(jwk)
    assert key.key.as_dict(private=True)["d"] not in resp.text
    assert not KeySet.import_key_set(resp.json).keys[0].is_private
    backend = app.extensions["sentinel"].backend  # the one shared token source the screening reads with
    assert backend.client_id == "screening" and backend.fhir_base == f"{ehr.base_url}/fhir"
    assert backend.scope == app.extensions["sentinel"].settings.backend_scopes


def test_without_a_backend_client_there_is_no_key_to_publish(app):
    resp = app.test_client().get("/.well-known/jwks.json")
    assert resp.status_code == 404
    assert app.extensions["sentinel"].backend is None


def test_a_broken_key_file_stops_the_app_with_the_setting_named(make_app, ehr, tmp_path):
    import pytest

    from app.config import ConfigError

    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ConfigError, match="neither a PEM private key nor a JWK"):
        make_app(backend_client_id="screening", backend_fhir_base=f"{ehr.base_url}/fhir", backend_key_file=str(bad))


def test_during_a_rotation_the_jwks_also_publishes_the_other_key(make_app, ehr, tmp_path):
    new, old = tmp_path / "new.pem", tmp_path / "old.pem"
    new_key, old_key = load_key(generate_into=new), load_key(generate_into=old)
    app = make_app(backend_client_id="screening", backend_fhir_base=f"{ehr.base_url}/fhir",
                   backend_key_file=str(new), backend_also_publish=(str(old),))
    keys = app.test_client().get("/.well-known/jwks.json").json["keys"]
    assert [k["kid"] for k in keys] == [new_key.kid, old_key.kid]
    assert all(not PRIVATE_MEMBERS & set(k) for k in keys)
    assert app.extensions["sentinel"].backend_key.kid == new_key.kid  # signs with the new key only
