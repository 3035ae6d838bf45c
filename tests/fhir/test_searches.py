"""The reads for one patient: round trips, comma-OR fallback, weight, stale and empty data, the wrong patient."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from app.fhir import FhirBadResponse, FhirForbidden, fetch_patient_record, map_record
from app.fhir.dates import BirthDate
from tests.support.fhir import BASE, NOW, PATIENT, TOKEN, bundle, obs, patient_resource

SEARCH = f"{BASE}/Observation"
PATIENT_URL = f"{BASE}/Patient/{PATIENT}"


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def searches() -> list:
    """The Observation searches sent, in order (the Patient read runs beside them, so it may come anywhere)."""
    return [c for c in responses.calls if urlsplit(c.request.url).path.endswith("/Observation")]


def vitals() -> list[dict]:
    return [obs("8867-4", 96, "/min", oid="hr"), obs("9279-1", 24, "/min", oid="rr"),
            obs("8310-5", 38.6, "Cel", oid="t"), obs("29463-7", 71.5, "kg", oid="w")]


@responses.activate
def test_one_patient_read_and_one_search_when_the_window_holds_a_weight(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    responses.add(responses.GET, SEARCH, json=bundle(vitals()))
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    assert record.round_trips == 2
    assert [o["id"] for o in record.observations] == ["hr", "rr", "t", "w"]
    assert record.weight["id"] == "w"
    assert record.complete and record.notes == ()
    assert record.patient.sex == "female" and record.patient.name == "Ada Testperson"
    assert record.patient.birth_date == BirthDate(NOW.date().replace(year=1950, month=6, day=15), "day")
    q = query(searches()[0])
    assert q == {"patient": [PATIENT], "category": ["vital-signs,laboratory"],
                 "date": ["ge2026-11-20T14:00:00Z"], "_count": ["200"], "_sort": ["-date"]}


@responses.activate
def test_latest_weight_is_searched_separately_when_not_in_the_window(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    responses.add(responses.GET, SEARCH, json=bundle(vitals()[:3]),
                  match=[responses.matchers.query_param_matcher({"category": "vital-signs,laboratory"},
                                                                strict_match=False)])
    old_weight = obs("29463-7", 70, "kg", oid="w-old", when="2024-02-01T10:00:00Z")
    responses.add(responses.GET, SEARCH, json=bundle([old_weight]))
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    assert record.round_trips == 3 and record.weight["id"] == "w-old"
    assert query(searches()[1]) == {"patient": [PATIENT], "code": ["http://loinc.org|29463-7"],
                                         "_sort": ["-date"], "_count": ["1"]}
    result = map_record(record, NOW)
    weights = [m for m in result.used if m.measurement.concept == "body_weight"]
    assert [(m.measurement.value, m.observation_id) for m in weights] == [(70.0, "w-old")]  # old is fine for weight


@responses.activate
def test_comma_or_rejected_falls_back_to_one_search_per_category(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    responses.add(responses.GET, SEARCH, status=400, json={
        "resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported"}]},
        match=[responses.matchers.query_param_matcher({"category": "vital-signs,laboratory"}, strict_match=False)])
    responses.add(responses.GET, SEARCH, json=bundle(vitals()),
                  match=[responses.matchers.query_param_matcher({"category": "vital-signs"}, strict_match=False)])
    responses.add(responses.GET, SEARCH, json=bundle([obs("32693-4", 4.2, "mmol/L", oid="lac",
                                                          category="laboratory")]),
                  match=[responses.matchers.query_param_matcher({"category": "laboratory"}, strict_match=False)])
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    assert [o["id"] for o in record.observations] == ["hr", "rr", "t", "w", "lac"]
    assert record.round_trips == 4 and record.complete
    result = map_record(record, NOW)
    assert {m.measurement.concept for m in result.used} >= {"heart_rate", "resp_rate", "temperature", "lactate"}


@responses.activate
def test_an_operation_outcome_with_200_for_the_comma_or_also_falls_back(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    responses.add(responses.GET, SEARCH, json={"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid"}]},
        match=[responses.matchers.query_param_matcher({"category": "vital-signs,laboratory"}, strict_match=False)])
    responses.add(responses.GET, SEARCH, json=bundle(vitals()))
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    assert record.round_trips == 4 and len(record.observations) == 4


@responses.activate
def test_a_server_rejecting_sort_gets_unsorted_searches(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())

    def no_sort(request):
        if "_sort" in parse_qs(urlsplit(request.url).query):
            return 400, {}, json.dumps({"resourceType": "OperationOutcome", "issue": []})
        return 200, {}, json.dumps(bundle(vitals()))

    responses.add_callback(responses.GET, SEARCH, callback=no_sort)
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    sorted_calls = ["_sort" in query(c) for c in searches()]
    # comma-OR (sorted) rejected; vital-signs sorted rejected; then unsorted for both categories.
    assert sorted_calls == [True, True, False, False]
    assert len(record.observations) == 4


@responses.activate
def test_only_stale_data_is_not_used_and_the_reason_says_so(transport):
    # A server that ignores `date` returns years-old data; none of it may feed the score.
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    stale = [obs("8867-4", 96, "/min", oid="hr", when="2021-03-31T10:00:00Z"),
             obs("6690-2", 14.2, "10*3/uL", oid="wbc", when="2021-03-31T10:00:00Z", category="laboratory")]
    responses.add(responses.GET, SEARCH, json=bundle(stale))
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    result = map_record(record, NOW)
    assert [m.measurement.concept for m in result.used] == ["age", "sex_male"]
    assert result.reason_counts() == {"older than the time window": 2}
    assert result.rejected[0].text == ("older than the time window (measured 2021-03-31T10:00+00:00, window "
                                       "starts 2026-11-20T08:00-06:00)")


@responses.activate
def test_no_recent_data_is_said_in_the_notes(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    responses.add(responses.GET, SEARCH, json=bundle([]))
    record = fetch_patient_record(transport, PATIENT, now=NOW, lookback=timedelta(hours=24))
    assert record.observations == () and record.weight is None
    assert record.notes == ("The EHR has no vital signs or laboratory results for this patient in the last "
                            "24 hours.",)


@responses.activate
def test_the_server_returning_a_different_patient_is_refused(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource(pid="someone-else"))
    responses.add(responses.GET, SEARCH, json=bundle(vitals()))
    with pytest.raises(FhirBadResponse) as exc:
        fetch_patient_record(transport, PATIENT, now=NOW)
    assert exc.value.detail == "Patient read returned a different id"  # not hidden by the search beside it


@responses.activate
def test_the_patient_read_runs_beside_the_search(transport):
    """A page waits for one round trip less: the search is sent before the Patient read has answered."""
    import threading

    search_sent = threading.Event()

    def patient(request):
        assert search_sent.wait(5), "the Observation search waited for the Patient read"
        return 200, {}, json.dumps(patient_resource())

    def search(request):
        search_sent.set()
        return 200, {}, json.dumps(bundle(vitals()))

    responses.add_callback(responses.GET, PATIENT_URL, callback=patient)
    responses.add_callback(responses.GET, SEARCH, callback=search)
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    assert record.round_trips == 2 and len(record.observations) == 4


@responses.activate
def test_parallel_reads_that_both_meet_an_expired_token_refresh_it_once(transport):
    refreshed = []

    class Tokens:
        current = "old"

        def access_token(self):
            return self.current

        def refresh(self):
            refreshed.append(1)
            self.current = f"new-{len(refreshed)}"
            return self.current

    transport.token_source = Tokens()

    def answer(body):
        def callback(request):
            if request.headers["Authorization"] != "Bearer new-1":
                return 401, {}, "{}"
            return 200, {}, json.dumps(body)
        return callback

    responses.add_callback(responses.GET, PATIENT_URL, callback=answer(patient_resource()))
    responses.add_callback(responses.GET, SEARCH, callback=answer(bundle(vitals())))
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    assert len(record.observations) == 4 and refreshed == [1]


def test_an_invalid_patient_id_is_never_put_in_a_url(transport):
    with pytest.raises(FhirBadResponse):
        fetch_patient_record(transport, "../Observation?x=1", now=NOW)
    assert transport.round_trips == 0


@responses.activate
def test_forbidden_observations_stop_with_a_permissions_message(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    responses.add(responses.GET, SEARCH, status=403)
    with pytest.raises(FhirForbidden):
        fetch_patient_record(transport, PATIENT, now=NOW)


@responses.activate
def test_partial_data_is_reported_not_hidden(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource(deceasedBoolean=True))
    responses.add(responses.GET, SEARCH, json=bundle(vitals(), next_url="https://cdn.example.net/page2"))
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    assert not record.complete
    assert record.notes == (
        "The EHR pointed to more results on another server; Sepsis Sentinel did not follow that link, so some "
        "results may be missing.",
        "The EHR records this patient as deceased.",
    )


@responses.activate
def test_a_weight_entered_in_error_does_not_hide_the_valid_one(transport):
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    responses.add(responses.GET, SEARCH, json=bundle([
        obs("29463-7", 700, "kg", oid="w-typo", status="entered-in-error"),
        obs("29463-7", 70, "kg", oid="w-ok", when="2026-11-22T07:30:00-06:00")]))
    record = fetch_patient_record(transport, PATIENT, now=NOW)
    assert record.weight["id"] == "w-ok" and record.round_trips == 2


@responses.activate
def test_logs_of_a_whole_fetch_and_mapping_hold_no_phi_values_or_token(transport, caplog):
    caplog.set_level(logging.DEBUG, logger="app.fhir")
    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    responses.add(responses.GET, SEARCH, json=bundle([*vitals(), obs("8310-5", 4.1, "Cel", oid="bad")]))
    map_record(fetch_patient_record(transport, PATIENT, now=NOW), NOW)
    assert "round trips" in caplog.text and "implausible value" in caplog.text
    for leaked in (TOKEN, PATIENT, "Ada", "Testperson", "1950", "38.6", "4.1", "71.5"):
        assert leaked not in caplog.text, leaked


@responses.activate
def test_a_page_404_after_the_patient_was_read_says_the_data_service_failed_mid_read(transport):
    from app.fhir import FhirFailedMidRead

    responses.add(responses.GET, PATIENT_URL, json=patient_resource())
    page_two = f"{BASE}?_getpages=gone&_getpagesoffset=200"
    responses.add(responses.GET, SEARCH, json=bundle(vitals(), next_url=page_two))
    responses.add(responses.GET, BASE, status=404, json={"resourceType": "OperationOutcome"})
    with pytest.raises(FhirFailedMidRead) as caught:
        fetch_patient_record(transport, PATIENT, now=NOW)
    assert "failed partway through reading" in caught.value.message
    assert "does not know this patient" not in caught.value.message
