"""Medications and blood cultures read as plain values: what counts by status, when, and by which resource."""

from __future__ import annotations

from datetime import UTC, datetime

from app.fhir.cultures import culture_order, culture_results
from app.fhir.medications import administration, request

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
CULTURE = frozenset({"600-7"})


def test_an_administration_counts_when_given_and_keeps_its_codings_period_and_reference():
    res = {"resourceType": "MedicationAdministration", "id": "ma1", "status": "completed",
           "medicationCodeableConcept": {"coding": [{"system": RX, "code": "1665021"}, "junk"]},
           "effectivePeriod": {"start": "2026-11-23T13:00:00Z", "end": "2026-11-23T13:30:00Z"}}
    med = administration(res)
    assert med.codings == ((RX, "1665021"),)
    assert (med.start, med.end) == (datetime(2026, 11, 23, 13, 0, tzinfo=UTC), datetime(2026, 11, 23, 13, 30, tzinfo=UTC))
    assert med.administered and med.reference == "MedicationAdministration/ma1" and not med.by_reference
    assert administration({**res, "status": "not-done"}) is None
    assert administration({**res, "status": "in-progress"}) is not None


def test_a_request_is_timed_by_authored_on_and_a_drug_named_by_reference_only_is_said_to_be():
    res = {"resourceType": "MedicationRequest", "id": "mr1", "status": "draft",
           "medicationReference": {"reference": "Medication/m1"}, "authoredOn": "2026-11-23T12:00:00Z"}
    med = request(res)
    assert med.codings == () and med.by_reference and not med.administered
    assert med.start == datetime(2026, 11, 23, 12, 0, tzinfo=UTC) and med.end is None
    assert request({**res, "status": "cancelled"}) is None
    assert request({**res, "authoredOn": "not a time"}).start is None  # kept: the reader decides what no time means


def test_culture_results_and_orders_need_one_of_the_callers_codes_a_live_status_and_a_time():
    obs = {"resourceType": "Observation", "id": "o1", "status": "final",
           "code": {"coding": [{"system": LOINC, "code": "600-7"}]}, "effectiveDateTime": "2026-11-23T11:00:00Z"}
    other = {**obs, "id": "o2", "code": {"coding": [{"system": LOINC, "code": "2524-7"}]}}
    withdrawn = {**obs, "id": "o3", "status": "entered-in-error"}
    [result] = culture_results([obs, other, withdrawn, "junk"], CULTURE)
    assert result.reference == "Observation/o1" and result.collected
    order = {"resourceType": "ServiceRequest", "id": "s1", "status": "active", "code": obs["code"],
             "authoredOn": "2026-11-23T10:00:00Z"}
    assert culture_order(order, CULTURE).collected is False
    assert culture_order({**order, "status": "completed"}, CULTURE).collected is True
    assert culture_order({**order, "status": "revoked"}, CULTURE) is None
    assert culture_order({**order, "authoredOn": None}, CULTURE) is None
    assert culture_order(order, frozenset({"2524-7"})) is None
