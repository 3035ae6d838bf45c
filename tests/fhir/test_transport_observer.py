"""Every FHIR round trip, answered or not, is reported once to the observer (the app registers its metrics)."""

from __future__ import annotations

import pytest
import requests
import responses

from app.fhir.errors import FhirUnavailable
from app.fhir.transport import observe_round_trips
from tests.support.fhir import BASE, PATIENT, patient_resource


@pytest.fixture
def seen():
    calls: list[tuple] = []
    observe_round_trips(lambda *args: calls.append(args))
    yield calls
    observe_round_trips(None)


@responses.activate
def test_each_attempt_is_reported_with_type_method_status_and_seconds(transport, seen):
    responses.add(responses.GET, f"{BASE}/Patient/{PATIENT}", status=503, headers={"Retry-After": "1"})
    responses.add(responses.GET, f"{BASE}/Patient/{PATIENT}", json=patient_resource())
    transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert [c[:3] for c in seen] == [("Patient", "GET", "503"), ("Patient", "GET", "200")]
    assert all(c[3] >= 0 for c in seen)


@responses.activate
def test_a_refused_connection_is_reported_as_a_connection_error(make_transport, seen):
    transport = make_transport(max_attempts=2)
    responses.add(responses.GET, f"{BASE}/Observation", body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(FhirUnavailable):
        transport.get_json("Observation", {"patient": PATIENT}, expect="Bundle")
    assert [c[:3] for c in seen] == [("Observation", "GET", "connection_error")] * 2


@responses.activate
def test_a_read_timeout_is_reported_as_a_timeout(transport, seen):
    responses.add(responses.GET, f"{BASE}/Observation", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(FhirUnavailable):
        transport.get_json("Observation", {"patient": PATIENT}, expect="Bundle")
    assert [c[:3] for c in seen] == [("Observation", "GET", "timeout")]
