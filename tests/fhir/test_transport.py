"""The hardened transport: what a clinician (message) and IT (detail) see when the FHIR server misbehaves."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from app.fhir.errors import (
    FhirBadResponse,
    FhirForbidden,
    FhirNotFound,
    FhirRequestRejected,
    FhirUnauthorized,
    FhirUnavailable,
)
from app.fhir.transport import on_base, retry_after_seconds
from tests.support.fhir import BASE, NOW, PATIENT, TOKEN, RefreshingToken, patient_resource

PATIENT_URL = f"{BASE}/Patient/{PATIENT}"


def add_patient(status=200, **kw):
    if status == 200 and "json" not in kw and "body" not in kw:
        kw["json"] = patient_resource()
    return responses.add(responses.GET, PATIENT_URL, status=status, **kw)


@responses.activate
def test_success_sends_bearer_token_and_fhir_accept_and_counts_round_trips(transport):
    add_patient()
    assert transport.get_json(f"Patient/{PATIENT}", expect="Patient")["id"] == PATIENT
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/fhir+json"
    assert transport.round_trips == 1


@responses.activate
def test_timeout_is_unavailable_with_a_message_saying_so(transport, clock):
    add_patient(body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(FhirUnavailable) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "did not answer in time" in exc.value.message
    assert "read timeout" in exc.value.detail
    assert len(responses.calls) == 1  # a slow server is not asked again within the page load
    assert clock.sleeps == []


@responses.activate
def test_refused_connection_retries_with_backoff_then_says_unreachable(transport, clock):
    add_patient(body=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(FhirUnavailable) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "could not reach the EHR's data service" in exc.value.message
    assert "after 4 attempt(s)" in exc.value.detail
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert transport.round_trips == 4


@responses.activate
def test_500_is_not_retried(transport, clock):
    add_patient(status=500, body="Internal Server Error")
    with pytest.raises(FhirUnavailable) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "not responding" in exc.value.message
    assert exc.value.detail == "HTTP 500 on Patient"
    assert len(responses.calls) == 1 and clock.sleeps == []


@pytest.mark.parametrize("status", [502, 503, 504])
@responses.activate
def test_502_503_504_are_retried_then_succeed(transport, clock, status):
    add_patient(status=status, body="Bad Gateway")
    add_patient()
    assert transport.get_json(f"Patient/{PATIENT}", expect="Patient")["id"] == PATIENT
    assert clock.sleeps == [0.5]
    assert transport.round_trips == 2


@pytest.mark.parametrize("status", [502, 503])
@responses.activate
def test_502_503_that_never_recover_are_unavailable(transport, clock, status):
    add_patient(status=status)
    with pytest.raises(FhirUnavailable) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert exc.value.detail == f"HTTP {status} on Patient after 4 attempts"
    assert clock.sleeps == [0.5, 1.0, 2.0]


@responses.activate
def test_429_honours_retry_after_seconds(transport, clock):
    add_patient(status=429, headers={"Retry-After": "3"})
    add_patient()
    assert transport.get_json(f"Patient/{PATIENT}", expect="Patient")["id"] == PATIENT
    assert clock.sleeps == [3.0]


@responses.activate
def test_429_honours_retry_after_http_date(transport, clock):
    # NOW is 14:00:00 UTC; the server asks us to come back at 14:00:07 GMT.
    add_patient(status=429, headers={"Retry-After": "Mon, 23 Nov 2026 14:00:07 GMT"})
    add_patient()
    transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert clock.sleeps == [7.0]


@responses.activate
def test_retry_after_beyond_the_budget_fails_fast_without_sleeping(transport, clock):
    add_patient(status=503, headers={"Retry-After": "120"})
    with pytest.raises(FhirUnavailable) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "busy" in exc.value.message
    assert "Retry-After 120 s" in exc.value.detail
    assert clock.sleeps == [] and len(responses.calls) == 1


@responses.activate
def test_retries_stop_when_the_time_budget_would_be_overrun(make_transport, clock):
    transport = make_transport(time_budget=10.0)
    add_patient(status=429, headers={"Retry-After": "6"})
    add_patient(status=429, headers={"Retry-After": "6"})
    with pytest.raises(FhirUnavailable) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "overrun" in exc.value.detail
    assert clock.sleeps == [6.0]


@responses.activate
def test_junk_json_is_a_bad_response(transport):
    add_patient(body='{"resourceType": "Patient", "id": ', content_type="application/fhir+json")
    with pytest.raises(FhirBadResponse) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "could not read" in exc.value.message
    assert "not a FHIR JSON resource" in exc.value.detail


@responses.activate
def test_html_error_page_served_with_200_is_a_bad_response(transport):
    add_patient(body="<html><body><h1>Service temporarily down for maintenance</h1></body></html>",
                content_type="text/html")
    with pytest.raises(FhirBadResponse) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "web page" in exc.value.detail and "text/html" in exc.value.detail


@responses.activate
def test_operation_outcome_instead_of_a_resource_is_a_bad_response_without_its_diagnostics(transport):
    add_patient(json={"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "processing", "diagnostics": "Patient Ada Testperson is locked"}]})
    with pytest.raises(FhirBadResponse) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "error/processing" in exc.value.detail
    assert "Ada" not in exc.value.detail and "Ada" not in exc.value.message


@responses.activate
def test_wrong_resource_type_is_a_bad_response(transport):
    add_patient(json={"resourceType": "Practitioner", "id": PATIENT})
    with pytest.raises(FhirBadResponse) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert exc.value.detail == "Practitioner instead of Patient on Patient"


@responses.activate
def test_401_then_refresh_then_success(transport, make_transport):
    tokens = RefreshingToken()
    transport = make_transport(tokens)
    add_patient(status=401)
    add_patient()
    assert transport.get_json(f"Patient/{PATIENT}", expect="Patient")["id"] == PATIENT
    assert tokens.refreshes == 1
    assert [c.request.headers["Authorization"] for c in responses.calls] == ["Bearer old-token",
                                                                            "Bearer new-token"]


@responses.activate
def test_401_when_refresh_is_impossible_asks_the_user_to_relaunch(make_transport):
    tokens = RefreshingToken(new=None)
    transport = make_transport(tokens)
    add_patient(status=401)
    with pytest.raises(FhirUnauthorized) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "open Sepsis Sentinel again" in exc.value.message
    assert tokens.refreshes == 1 and len(responses.calls) == 1


@responses.activate
def test_401_when_refresh_raises_is_unauthorized(make_transport):
    transport = make_transport(RefreshingToken(error=RuntimeError("refresh token revoked")))
    add_patient(status=401)
    with pytest.raises(FhirUnauthorized) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "refresh failed" in exc.value.detail


@responses.activate
def test_401_again_after_refresh_is_unauthorized_and_not_retried_forever(make_transport):
    tokens = RefreshingToken()
    transport = make_transport(tokens)
    add_patient(status=401)
    add_patient(status=401)
    with pytest.raises(FhirUnauthorized) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert exc.value.detail == "HTTP 401 on Patient after refresh"
    assert tokens.refreshes == 1 and len(responses.calls) == 2


@responses.activate
def test_403_is_forbidden_with_a_permissions_message(transport):
    add_patient(status=403)
    with pytest.raises(FhirForbidden) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "permissions" in exc.value.message


@responses.activate
def test_404_is_not_found(transport):
    add_patient(status=404, json={"resourceType": "OperationOutcome"})
    with pytest.raises(FhirNotFound):
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")


@responses.activate
def test_400_is_a_rejected_request_carrying_the_status(transport):
    responses.add(responses.GET, f"{BASE}/Observation", status=400,
                  json={"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]})
    with pytest.raises(FhirRequestRejected) as exc:
        transport.get_json("Observation", {"category": "a,b"}, expect="Bundle")
    assert exc.value.http_status == 400 and "error/invalid" in exc.value.detail


@responses.activate
def test_redirects_are_not_followed(transport):
    add_patient(status=302, headers={"Location": "https://elsewhere.example.com/login"})
    with pytest.raises(FhirBadResponse) as exc:
        transport.get_json(f"Patient/{PATIENT}", expect="Patient")
    assert "redirect" in exc.value.detail
    assert len(responses.calls) == 1


def test_absolute_urls_off_the_base_are_never_requested(transport):
    with pytest.raises(FhirBadResponse):
        transport.get_json("https://evil.example.com/fhir/r4/Observation", expect="Bundle")
    assert transport.round_trips == 0


@responses.activate
def test_logs_carry_type_status_and_timing_but_no_token_ids_or_query_values(transport, caplog):
    caplog.set_level(logging.DEBUG, logger="app.fhir")
    responses.add(responses.GET, f"{BASE}/Observation", status=503)
    responses.add(responses.GET, f"{BASE}/Observation", json={"resourceType": "Bundle", "type": "searchset"})
    transport.get_json("Observation", {"patient": PATIENT, "code": "secret-code"}, expect="Bundle")
    text = caplog.text
    assert "Observation -> 503" in text and "Observation -> 200" in text and " ms" in text
    for leaked in (TOKEN, PATIENT, "secret-code"):
        assert leaked not in text


@pytest.mark.parametrize(("url", "ok"), [
    (f"{BASE}/Observation?page=2", True),
    (f"{BASE}?_getpages=abc", True),
    ("https://EHR.example.org:443/fhir/r4/Observation", True),
    ("https://ehr.example.org/fhir/r4-other/Observation", False),  # path prefix, not string prefix
    ("https://ehr.example.org/fhir/Observation", False),  # outside the base path
    ("https://ehr.example.org/fhir/r4/../admin", False),
    ("https://ehr.example.org/fhir/r4/%2e%2e/admin", False),
    ("http://ehr.example.org/fhir/r4/Observation", False),  # scheme downgrade
    ("https://ehr.example.org:8443/fhir/r4/Observation", False),
    ("https://ehr.example.org.evil.com/fhir/r4/Observation", False),
    ("https://ehr.example.org@evil.com/fhir/r4/Observation", False),
    ("https://user@ehr.example.org/fhir/r4/Observation", False),
    ("javascript:alert(1)", False),
    ("https://ehr.example.org:99999/fhir/r4/", False),
])
def test_on_base(url, ok):
    assert on_base(url, BASE) is ok


@pytest.mark.parametrize(("value", "seconds"), [
    ("5", 5.0), ("0", 0.0), ("1.5", 1.5), (" 10 ", 10.0),
    ("Mon, 23 Nov 2026 14:01:00 GMT", 60.0), ("Mon, 23 Nov 2026 13:00:00 GMT", 0.0),
    ("soon", None), ("-3", None), ("", None), (None, None),
])
def test_retry_after_parsing(value, seconds):
    assert retry_after_seconds(value, NOW) == seconds
