"""Discovery: what an app reads before it launches (SMART App Launch 2.0 "Conformance", OIDC, FHIR metadata)."""

from __future__ import annotations

from joserfc.jwk import KeySet

from tests.support.sandbox_launch import BASE, FHIR

REQUIRED_CAPABILITIES = {"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
                         "context-ehr-patient", "context-standalone-patient", "sso-openid-connect", "permission-v2"}


def test_smart_configuration_advertises_the_issue_capabilities_and_s256_only(client):
    resp = client.get("/fhir/.well-known/smart-configuration")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.json
    assert REQUIRED_CAPABILITIES <= set(doc["capabilities"])
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["issuer"] == FHIR
    assert doc["authorization_endpoint"] == f"{BASE}/auth/authorize"
    assert doc["token_endpoint"] == f"{BASE}/auth/token"
    assert doc["jwks_uri"] == f"{BASE}/auth/jwks"
    assert {"authorization_code", "refresh_token"} <= set(doc["grant_types_supported"])
    assert doc["response_types_supported"] == ["code"]
    assert "launch" in doc["scopes_supported"] and "openid" in doc["scopes_supported"]


def test_discovery_needs_no_token_and_follows_the_base_url_setting(sandbox_app, client):
    sandbox_app.config["SANDBOX_BASE_URL"] = "http://127.0.0.1:5999"
    try:
        doc = client.get("/fhir/.well-known/smart-configuration").json
    finally:
        sandbox_app.config["SANDBOX_BASE_URL"] = BASE
    assert doc["issuer"] == "http://127.0.0.1:5999/fhir"
    assert doc["token_endpoint"] == "http://127.0.0.1:5999/auth/token"


def test_openid_configuration_names_the_same_issuer_and_rs256(client):
    doc = client.get("/fhir/.well-known/openid-configuration").json
    assert doc["issuer"] == FHIR
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_publishes_a_bare_public_rsa_key(client):
    jwks = client.get("/auth/jwks").json
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    assert "d" not in key and "p" not in key  # never the private parts
    KeySet.import_key_set(jwks)


def test_capability_statement_is_public_r4_with_smart_security(client):
    resp = client.get("/fhir/metadata")
    assert resp.status_code == 200
    assert resp.mimetype == "application/fhir+json"
    cs = resp.json
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    rest = cs["rest"][0]
    assert rest["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in rest["security"]["extension"][0]["extension"]}
    assert uris["authorize"] == f"{BASE}/auth/authorize" and uris["token"] == f"{BASE}/auth/token"
    by_type = {r["type"]: r for r in rest["resource"]}
    observation_params = {p["name"] for p in by_type["Observation"]["searchParam"]}
    assert {"patient", "category", "code", "date"} <= observation_params
    assert {"code": "create"} in by_type["ServiceRequest"]["interaction"]
    assert {"code": "create"} not in by_type["Observation"]["interaction"]
