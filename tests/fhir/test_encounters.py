"""The ICU admission time from the launch's Encounter: the hours-in-ICU input live, missing when not shown."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.fhir.encounters import icu_admission, read_icu_admission
from app.fhir.errors import FhirForbidden, FhirNotFound, FhirUnavailable

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=ZoneInfo("America/Chicago"))


def encounter(**fields) -> dict:
    return {"resourceType": "Encounter", "id": "e1", "status": "in-progress", **fields}


def test_the_active_locations_period_start_is_the_icu_admission():
    enc = encounter(period={"start": "2026-11-20T08:00:00Z"}, location=[
        {"location": {"reference": "Location/ward"}, "status": "completed",
         "period": {"start": "2026-11-20T08:00:00Z", "end": "2026-11-21T10:00:00Z"}},
        {"location": {"reference": "Location/micu"}, "status": "active", "period": {"start": "2026-11-21T10:00:00Z"}},
    ])
    assert icu_admission(enc, NOW) == datetime(2026, 11, 21, 10, 0, tzinfo=ZoneInfo("UTC"))


def test_a_location_without_status_but_open_period_counts_and_an_icu_encounter_falls_back_to_its_period():
    open_period = encounter(location=[{"location": {"reference": "Location/micu"},
                                       "period": {"start": "2026-11-22T01:00:00+01:00"}}])
    assert icu_admission(open_period, NOW) == datetime(2026, 11, 22, 0, 0, tzinfo=ZoneInfo("UTC"))
    icu = encounter(type=[{"text": "Intensive care unit stay"}], period={"start": "2026-11-22T06:00:00Z"},
                    location=[{"location": {"reference": "Location/micu"}, "status": "active"}])
    assert icu_admission(icu, NOW) == datetime(2026, 11, 22, 6, 0, tzinfo=ZoneInfo("UTC"))


def test_unknown_when_the_encounter_does_not_say_and_never_a_guess():
    assert icu_admission(encounter(period={"start": "2026-11-22T06:00:00Z"}), NOW) is None  # not said to be ICU
    future = encounter(location=[{"status": "active", "period": {"start": (NOW + timedelta(hours=2)).isoformat()}}])
    assert icu_admission(future, NOW) is None
    date_only = encounter(location=[{"status": "active", "period": {"start": "2026-11-22"}}])
    assert icu_admission(date_only, NOW) is None
    assert icu_admission({"resourceType": "Patient"}, NOW) is None


class _Transport:
    def __init__(self, result):
        self.result, self.asked = result, []

    def get_json(self, path, expect=None):
        self.asked.append((path, expect))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_an_encounter_the_ehr_lacks_is_unknown_but_a_failed_read_is_an_error():
    ok = _Transport(encounter(location=[{"status": "active", "period": {"start": "2026-11-22T06:00:00Z"}}]))
    assert read_icu_admission(ok, "e1", NOW) == datetime(2026, 11, 22, 6, 0, tzinfo=ZoneInfo("UTC"))
    assert ok.asked == [("Encounter/e1", "Encounter")]
    assert read_icu_admission(_Transport(FhirNotFound("gone")), "e1", NOW) is None
    assert read_icu_admission(_Transport(FhirForbidden("withheld")), "e1", NOW) is None
    with pytest.raises(FhirUnavailable):  # a score without the input the EHR failed to send would be another score
        read_icu_admission(_Transport(FhirUnavailable("down")), "e1", NOW)
    assert read_icu_admission(ok, None, NOW) is None


def test_the_care_unit_is_the_active_locations_display_else_its_name_else_the_reference():
    from app.fhir.encounters import unit_of

    class _Named(_Transport):
        base = "https://ehr.example.org/fhir"

    named = _Named({"resourceType": "Location", "name": " MICU "})
    by_ref = encounter(location=[{"location": {"display": "Ward 3"}, "status": "completed"},
                                 {"location": {"reference": "https://ehr.example.org/fhir/Location/l1"},
                                  "status": "active"}])
    assert unit_of(by_ref, named) == "MICU" and named.asked == [("Location/l1", "Location")]
    assert unit_of(by_ref) == "https://ehr.example.org/fhir/Location/l1"  # no transport: the reference
    assert unit_of(by_ref, _Named(FhirUnavailable("down"))) == "https://ehr.example.org/fhir/Location/l1"
    assert unit_of(encounter(location=[{"location": {"display": "SICU"}, "status": "active"}])) == "SICU"
    assert unit_of(encounter(serviceType={"coding": [{"display": "Cardiology"}]})) == "Cardiology"
    assert unit_of(encounter()) == unit_of(None) == "unknown"
