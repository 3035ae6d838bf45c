"""Every FHIR request needs a bearer token whose scopes and patient context cover it: 401 or 403 otherwise,
each with an OperationOutcome (the public launcher's proxy checks none of this; ours must)."""

from __future__ import annotations

import pytest

from tests.support.sandbox_launch import (
    BROAD_ID,
    BROAD_REDIRECT,
    EHR_SCOPE,
    FHIR,
    OTHER,
    SEPTIC,
    bearer,
    ehr_launch,
)

BROAD = {"app": BROAD_ID, "redirect_uri": BROAD_REDIRECT}


def outcome(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.mimetype == "application/fhir+json"
    assert resp.json["resourceType"] == "OperationOutcome"
    return resp.json["issue"][0]


@pytest.fixture
def token(client):
    return ehr_launch(client)


@pytest.mark.parametrize("path", [f"/fhir/Patient/{SEPTIC}", f"/fhir/Observation?patient={SEPTIC}",
                                  "/fhir/PractitionerRole?practitioner=nurse"])
def test_no_token_is_401_with_a_bearer_challenge(client, path):
    resp = client.get(path)
    outcome(resp, 401)
    assert resp.headers["WWW-Authenticate"] == f'Bearer realm="{FHIR}"'


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwdw==", "Bearer"])
def test_bad_credentials_are_401(client, header):
    resp = client.get(f"/fhir/Patient/{SEPTIC}", headers={"Authorization": header})
    outcome(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer ")


def test_expired_token_is_401_invalid_token(client, clock, token):
    clock.advance(3600)
    resp = client.get(f"/fhir/Patient/{SEPTIC}", headers=bearer(token))
    outcome(resp, 401)
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_the_launched_patient_is_readable(client, token):
    resp = client.get(f"/fhir/Patient/{SEPTIC}", headers=bearer(token))
    assert resp.status_code == 200 and resp.json["id"] == SEPTIC
    assert resp.headers["ETag"] == 'W/"1"'


def test_another_patient_is_403(client, token):
    assert outcome(client.get(f"/fhir/Patient/{OTHER}", headers=bearer(token)), 403)["code"] == "forbidden"
    outcome(client.get(f"/fhir/Observation/{OTHER}-hr-0", headers=bearer(token)), 403)
    resp = client.get(f"/fhir/Observation?patient={OTHER}", headers=bearer(token))
    outcome(resp, 403)
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    outcome(client.get(f"/fhir/Observation?subject=Patient/{OTHER}", headers=bearer(token)), 403)


def test_a_resource_type_outside_the_scopes_is_403(client, token):
    outcome(client.get(f"/fhir/Condition?patient={SEPTIC}", headers=bearer(token)), 403)
    outcome(client.get("/fhir/Organization/sandbox-hospital", headers=bearer(token)), 403)


def test_patient_scopes_do_not_reach_outside_the_compartment(client):
    token = ehr_launch(client, scope="launch openid fhirUser patient/*.rs", **BROAD)
    assert client.get(f"/fhir/Observation?patient={SEPTIC}&_count=1", headers=bearer(token)).status_code == 200
    outcome(client.get("/fhir/Practitioner/nurse", headers=bearer(token)), 403)


def test_user_scopes_read_the_users_role(client, token):
    resp = client.get("/fhir/PractitionerRole?practitioner=nurse", headers=bearer(token))
    assert resp.status_code == 200
    (entry,) = resp.json["entry"]
    coding = entry["resource"]["code"][0]["coding"][0]
    assert coding == {"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "nurse",
                      "display": "Nurse"}
    assert client.get("/fhir/Practitioner/nurse", headers=bearer(token)).json["name"][0]["family"] == "Lindqvist"


def test_search_without_a_patient_stays_in_the_token_patients_compartment(client, token):
    bundle = client.get("/fhir/Observation?_count=200", headers=bearer(token)).json
    subjects = {e["resource"]["subject"]["reference"] for e in bundle["entry"]}
    assert subjects == {f"Patient/{SEPTIC}"}


def test_v1_scopes_are_understood(client):
    token = ehr_launch(client, scope="launch openid fhirUser patient/*.read", **BROAD)
    assert token["scope"].split()[-1] == "patient/*.read"  # granted back in v1 form
    assert client.get(f"/fhir/Observation?patient={SEPTIC}&_count=1", headers=bearer(token)).status_code == 200
    sr = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
          "subject": {"reference": f"Patient/{SEPTIC}"}}
    resp = client.post("/fhir/ServiceRequest", json=sr, headers=bearer(token))
    outcome(resp, 403)


def test_granular_scopes_filter_by_category(client):
    lab = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    token = ehr_launch(client, scope=f"launch openid fhirUser {lab}", **BROAD)
    bundle = client.get(f"/fhir/Observation?patient={SEPTIC}&_count=200", headers=bearer(token)).json
    categories = {e["resource"]["category"][0]["coding"][0]["code"] for e in bundle["entry"]}
    assert categories == {"laboratory"}
    outcome(client.get(f"/fhir/Observation/{SEPTIC}-hr-0", headers=bearer(token)), 403)


def test_unknown_ids_types_and_methods(client, token):
    outcome(client.get("/fhir/Patient/no-such-patient", headers=bearer(token)), 404)
    outcome(client.get("/fhir/notAType/1", headers=bearer(token)), 404)
    outcome(client.get("/fhir/Patient/bad$id", headers=bearer(token)), 400)
    outcome(client.delete(f"/fhir/Patient/{SEPTIC}", headers=bearer(token)), 405)
    outcome(client.get("/fhir/Patient/a/b/c/d", headers=bearer(token)), 404)


def test_vread_of_the_current_version(client, token):
    assert client.get(f"/fhir/Patient/{SEPTIC}/_history/1", headers=bearer(token)).status_code == 200
    outcome(client.get(f"/fhir/Patient/{SEPTIC}/_history/2", headers=bearer(token)), 404)


def test_a_token_issued_for_another_base_url_is_refused(sandbox_app, client, token):
    sandbox_app.config["SANDBOX_BASE_URL"] = "http://127.0.0.1:9"
    try:
        resp = client.get(f"/fhir/Patient/{SEPTIC}", headers=bearer(token))
    finally:
        sandbox_app.config["SANDBOX_BASE_URL"] = "http://localhost"
    outcome(resp, 401)


def test_a_wildcard_request_is_granted_as_the_registered_types(client):
    token = ehr_launch(client, scope="launch openid fhirUser patient/*.rs")
    granted = token["scope"].split()
    assert "patient/Observation.rs" in granted and "patient/ServiceRequest.rs" in granted
    assert not any(s.startswith("patient/*") for s in granted)


def test_ehr_scope_is_what_the_app_asks_for(client):
    token = ehr_launch(client, scope=EHR_SCOPE)
    assert client.get("/fhir/MedicationRequest?patient=" + SEPTIC, headers=bearer(token)).status_code == 200
