"""Creating the orders later features place: ServiceRequest and MedicationRequest, checked as a server would."""

from __future__ import annotations

import pytest

from tests.support.sandbox_launch import FHIR, OTHER, SEPTIC, bearer, ehr_launch

SEPSIS_BUNDLE = {"system": "http://snomed.info/sct", "code": "710081004", "display": "Sepsis bundle"}


def service_request(**changes) -> dict:
    resource = {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": "urgent",
        "code": {"coding": [SEPSIS_BUNDLE], "text": "Blood cultures x2 before antibiotics"},
        "subject": {"reference": f"Patient/{SEPTIC}"}, "encounter": {"reference": f"Encounter/{SEPTIC}-icu"},
        "requester": {"reference": "Practitioner/provider", "display": "Dr. Samuel Okafor"},
        "authoredOn": "2026-11-23T14:30:00Z",
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


@pytest.fixture
def token(client):
    return ehr_launch(client, user="provider")


def post(client, token, resource, rtype="ServiceRequest", headers=None):
    return client.post(f"/fhir/{rtype}", json=resource, headers={**bearer(token), **(headers or {})})


def test_create_returns_201_location_and_the_stored_resource(client, token):
    resp = post(client, token, service_request(id="client-chosen"))
    assert resp.status_code == 201
    stored = resp.json
    assert stored["id"] != "client-chosen"  # R4: the server assigns the id on create
    assert stored["meta"]["versionId"] == "1"
    assert resp.headers["Location"] == f"{FHIR}/ServiceRequest/{stored['id']}/_history/1"
    assert resp.headers["ETag"] == 'W/"1"'
    read = client.get(f"/fhir/ServiceRequest/{stored['id']}", headers=bearer(token))
    assert read.json == stored
    found = client.get(f"/fhir/ServiceRequest?patient={SEPTIC}", headers=bearer(token)).json
    assert stored["id"] in {e["resource"]["id"] for e in found["entry"]}


def test_the_order_shows_in_the_ehr(client, token):
    post(client, token, service_request(code={"text": "Lactate repeat in 2 h"}))
    page = client.get(f"/ehr/orders?patient={SEPTIC}").text
    assert "Lactate repeat in 2 h" in page and 'id="order-list"' in page


def test_medication_request(client, token):
    mr = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
          "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                    "code": "1659149", "display": "piperacillin / tazobactam"}],
                                        "text": "Piperacillin-tazobactam 4.5 g IV"},
          "subject": {"reference": f"Patient/{SEPTIC}"}, "requester": {"reference": "Practitioner/provider"},
          "dosageInstruction": [{"text": "4.5 g IV every 6 hours"}]}
    resp = post(client, token, mr, "MedicationRequest")
    assert resp.status_code == 201 and resp.json["medicationCodeableConcept"]["text"].startswith("Piperacillin")
    no_drug = {k: v for k, v in mr.items() if k != "medicationCodeableConcept"}
    assert post(client, token, no_drug, "MedicationRequest").status_code == 400


@pytest.mark.parametrize("resource, status", [
    (service_request(resourceType="MedicationRequest"), 400),
    (service_request(status=None), 400),
    (service_request(status="ordered"), 400),
    (service_request(intent="request"), 400),
    (service_request(subject=None), 400),
    (service_request(subject={"reference": "Group/1"}), 400),
    (service_request(priority="whenever"), 400),
    (service_request(authoredOn="yesterday"), 400),
    (service_request(favouriteColour="blue"), 400),
    (service_request(category={"text": "not a list"}), 400),
    (service_request(requester={"reference": "Practitioner/nobody"}), 422),
    (service_request(encounter={"reference": f"Encounter/{OTHER}-icu"}), 422),
    (service_request(requester={"reference": "https://elsewhere.example/fhir/Practitioner/1"}), 422),
    (["not", "an", "object"], 400),
])
def test_invalid_resources_are_refused_with_an_operation_outcome(client, token, resource, status):
    resp = post(client, token, resource)
    assert resp.status_code == status, resp.json
    assert resp.json["resourceType"] == "OperationOutcome"


def test_an_order_for_another_patient_is_403(client, token):
    resp = post(client, token, service_request(subject={"reference": f"Patient/{OTHER}"}, encounter=None))
    assert resp.status_code == 403


def test_creating_needs_the_c_permission(client):
    token = ehr_launch(client, scope="launch openid fhirUser patient/ServiceRequest.rs")
    assert post(client, token, service_request()).status_code == 403


def test_observations_cannot_be_created(client, token):
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    assert client.post("/fhir/Observation", json=obs, headers=bearer(token)).status_code in (403, 405)


def test_content_type_must_be_fhir_json(client, token):
    resp = client.post("/fhir/ServiceRequest", data="status=active", headers=bearer(token),
                       content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415


def test_conditional_create_does_not_duplicate(client, token):
    order = service_request(identifier=[{"system": "urn:sepsis-sentinel:order", "value": "alert-42"}])
    condition = {"If-None-Exist": "identifier=urn:sepsis-sentinel:order|alert-42"}
    first = post(client, token, order, headers=condition)
    again = post(client, token, order, headers=condition)
    assert first.status_code == 201 and again.status_code == 200 and again.json["id"] == first.json["id"]


def test_prefer_return_minimal(client, token):
    resp = post(client, token, service_request(), headers={"Prefer": "return=minimal"})
    assert resp.status_code == 201 and resp.data == b"" and resp.headers["Location"]
