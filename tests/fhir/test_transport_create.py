"""Transport.create: a conditional create is safe to retry; a plain one is sent exactly once."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from app.fhir.errors import FhirRequestRejected, FhirUnauthorized, FhirUnavailable
from tests.support.fhir import BASE, PATIENT, RefreshingToken

URL = f"{BASE}/ServiceRequest"
ORDER = {"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
         "subject": {"reference": f"Patient/{PATIENT}"}, "identifier": [{"system": "urn:x", "value": "o-1"}]}
CONDITION = "identifier=urn:x|o-1"


def stored(rid="sr-9"):
    return {**ORDER, "id": rid, "meta": {"versionId": "1"}}


@responses.activate
def test_create_posts_fhir_json_with_if_none_exist_and_returns_the_stored_resource(transport):
    responses.add(responses.POST, URL, status=201, json=stored(), headers={"Location": f"{URL}/sr-9/_history/1"})
    created = transport.create("ServiceRequest", ORDER, if_none_exist=CONDITION)
    assert created["id"] == "sr-9"
    sent = responses.calls[0].request
    assert sent.headers["Content-Type"] == "application/fhir+json"
    assert sent.headers["If-None-Exist"] == CONDITION
    assert sent.headers["Prefer"] == "return=representation"
    assert json.loads(sent.body)["identifier"][0]["value"] == "o-1"
    assert transport.round_trips == 1


@responses.activate
def test_a_match_already_on_the_server_is_returned_not_duplicated(transport):
    responses.add(responses.POST, URL, status=200, json=stored("existing-1"))
    assert transport.create("ServiceRequest", ORDER, if_none_exist=CONDITION)["id"] == "existing-1"


@responses.activate
def test_an_empty_answer_gives_the_id_from_location(transport):
    responses.add(responses.POST, URL, status=201, body="", headers={"Location": f"{URL}/sr-77/_history/1"})
    assert transport.create("ServiceRequest", ORDER, if_none_exist=CONDITION) == {
        "resourceType": "ServiceRequest", "id": "sr-77"}


@responses.activate
def test_conditional_create_is_retried_after_503_honouring_retry_after(transport, clock):
    responses.add(responses.POST, URL, status=503, headers={"Retry-After": "2"})
    responses.add(responses.POST, URL, status=201, json=stored())
    assert transport.create("ServiceRequest", ORDER, if_none_exist=CONDITION)["id"] == "sr-9"
    assert clock.sleeps == [2.0] and len(responses.calls) == 2


@responses.activate
def test_conditional_create_is_retried_after_a_refused_connection(transport, clock):
    responses.add(responses.POST, URL, body=requests.exceptions.ConnectionError("refused"))
    responses.add(responses.POST, URL, status=201, json=stored())
    assert transport.create("ServiceRequest", ORDER, if_none_exist=CONDITION)["id"] == "sr-9"
    assert len(responses.calls) == 2


@responses.activate
def test_plain_create_is_never_resent(transport, clock):
    responses.add(responses.POST, URL, status=503)
    with pytest.raises(FhirUnavailable):
        transport.create("ServiceRequest", ORDER)
    responses.add(responses.POST, URL, body=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(FhirUnavailable):
        transport.create("ServiceRequest", ORDER)
    assert len(responses.calls) == 2 and clock.sleeps == []


@responses.activate
def test_read_timeout_is_not_retried_even_when_conditional(transport):
    responses.add(responses.POST, URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(FhirUnavailable):
        transport.create("ServiceRequest", ORDER, if_none_exist=CONDITION)
    assert len(responses.calls) == 1


@responses.activate
def test_401_refreshes_once_and_resends(make_transport):
    token = RefreshingToken()
    transport = make_transport(token)
    responses.add(responses.POST, URL, status=401)
    responses.add(responses.POST, URL, status=201, json=stored())
    assert transport.create("ServiceRequest", ORDER)["id"] == "sr-9"
    assert token.refreshes == 1
    assert responses.calls[1].request.headers["Authorization"] == "Bearer new-token"
    responses.add(responses.POST, URL, status=401)
    responses.add(responses.POST, URL, status=401)
    with pytest.raises(FhirUnauthorized):
        make_transport(RefreshingToken()).create("ServiceRequest", ORDER)


@responses.activate
@pytest.mark.parametrize("status", [400, 412, 422])
def test_refusals_are_request_rejected_with_the_status(transport, status):
    responses.add(responses.POST, URL, status=status, json={
        "resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing",
                                                       "diagnostics": "Patient Jane Doe not found"}]})
    with pytest.raises(FhirRequestRejected) as exc:
        transport.create("ServiceRequest", ORDER, if_none_exist=CONDITION)
    assert exc.value.http_status == status
    assert "error/processing" in exc.value.detail and "Jane" not in exc.value.detail


def test_resource_type_must_match():
    from app.fhir.transport import Transport

    with pytest.raises(ValueError):
        Transport(BASE).create("MedicationRequest", ORDER)
