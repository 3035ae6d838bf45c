from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.config import Settings
from app.smart.context import READ_ONLY, relative_reference, resolve_user

ISS = "https://ehr.example.org/fhir"
HL7 = "http://terminology.hl7.org/CodeSystem/practitioner-role"
ROLES = Settings().roles


def role(code, system=HL7, practitioner="Practitioner/123", **extra):
    """A PractitionerRole of Practitioner/123 (only the user's own roles count, so each names its practitioner)."""
    return {"resourceType": "PractitionerRole", "practitioner": {"reference": practitioner},
            "code": [{"coding": [{"system": system, "code": code}]}], **extra}


def reader(resources: dict):
    def read(path, params):
        if path == "PractitionerRole":
            found = resources.get(f"PractitionerRole?practitioner={params['practitioner']}", [])
            return {"resourceType": "Bundle", "entry": [{"resource": r} for r in found]}
        return resources.get(path)
    return read


@pytest.mark.parametrize("fhir_user, expected", [
    ("Practitioner/123", "Practitioner/123"),  # the public SMART sandbox sends relative references
    (f"{ISS}/Practitioner/123", "Practitioner/123"),  # SMART 2.0 says absolute
    ("https://elsewhere.example/fhir/Practitioner/123", None),  # never follow to another server
    ("Practitioner/../../etc", None),
    ("Observation/1", None),
])
def test_fhir_user_reference(fhir_user, expected):
    assert relative_reference(fhir_user, ISS) == expected


@pytest.mark.parametrize("codes, expected", [
    ([role("nurse")], "nurse"),
    ([role("doctor")], "provider"),
    ([role("ict")], "deployment"),
    ([role("nurse"), role("doctor")], "provider"),
    ([role("309343006", "http://snomed.info/sct")], "provider"),
    ([role("pharmacist")], READ_ONLY),
    ([], READ_ONLY),
])
def test_role_comes_from_practitioner_role_code(codes, expected):
    resources = {"Practitioner/123": {"resourceType": "Practitioner", "name": [{"given": ["Ada"], "family": "Ng"}]},
                 "PractitionerRole?practitioner=123": codes}
    user = resolve_user("Practitioner/123", ISS, reader(resources), ROLES)
    assert user.role == expected
    assert user.name == "Ada Ng"


def test_patient_users_are_read_only():
    assert resolve_user("Patient/9", ISS, reader({}), ROLES).role == READ_ONLY


def test_the_practitioner_and_its_roles_are_read_by_the_reader_for_two(monkeypatch):
    resources = {"Practitioner/123": {"resourceType": "Practitioner", "name": [{"text": "Ada Ng"}]},
                 "PractitionerRole?practitioner=123": [role("doctor")]}
    calls = []

    def read_both(first, second):
        calls.append((first, second))
        return reader(resources)(*first), reader(resources)(*second)

    user = resolve_user("Practitioner/123", ISS, lambda *a: pytest.fail("read one by one"), ROLES,
                        read_both=read_both)
    assert (user.role, user.name) == ("provider", "Ada Ng")
    assert calls == [(("Practitioner/123", None), ("PractitionerRole", {"practitioner": "123"}))]


NOW = datetime(2026, 11, 23, 14, 0, tzinfo=ZoneInfo("America/New_York"))


def _role_of(roles_found, fhir_user="Practitioner/123"):
    resources = {"Practitioner/123": {"resourceType": "Practitioner", "name": [{"text": "Ada Ng"}]},
                 "PractitionerRole?practitioner=123": roles_found}
    return resolve_user(fhir_user, ISS, reader(resources), ROLES, now=NOW).role


@pytest.mark.parametrize("why, found", [
    ("another practitioner's role", [role("doctor", practitioner="Practitioner/999")]),
    ("a role naming no practitioner", [{"resourceType": "PractitionerRole",
                                        "code": [{"coding": [{"system": HL7, "code": "doctor"}]}]}]),
    ("another server's practitioner", [role("doctor", practitioner="https://other.example/fhir/Practitioner/123")]),
    ("an inactive role", [role("doctor", active=False)]),
    ("a role that ended in 2015", [role("doctor", period={"start": "2010-01-01", "end": "2015-06-30"})]),
    ("a role that starts next year", [role("doctor", period={"start": "2027-01-01T00:00:00Z"})]),
    ("a period that cannot be read", [role("doctor", period={"end": "soon"})]),
])
def test_only_this_users_active_current_role_counts(why, found):
    assert _role_of(found + [role("pharmacist")]) == READ_ONLY, why


@pytest.mark.parametrize("found, expected", [
    ([role("doctor", practitioner=f"{ISS}/Practitioner/123")], "provider"),  # absolute on this base
    ([role("doctor", active=True, period={"start": "2020-01-01", "end": "2030-12-31"})], "provider"),
    ([role("doctor", period={"end": "2026-11-23"})], "provider"),  # a date-only end covers its whole day
    ([role("doctor", active=False), role("nurse")], "nurse"),  # the ended role is dropped, the current one kept
])
def test_the_users_own_current_role_counts(found, expected):
    assert _role_of(found) == expected


def test_fhir_user_naming_a_role_needs_that_role_active_and_the_users():
    def read_for(role_res):
        return reader({"PractitionerRole/r1": role_res,
                       "Practitioner/123": {"resourceType": "Practitioner", "name": [{"text": "Ada Ng"}]}})

    good = {**role("doctor"), "id": "r1"}
    assert resolve_user("PractitionerRole/r1", ISS, read_for(good), ROLES, now=NOW).role == "provider"
    ended = {**good, "period": {"end": "2015-01-01T00:00:00Z"}}
    assert resolve_user("PractitionerRole/r1", ISS, read_for(ended), ROLES, now=NOW).role == READ_ONLY
    assert resolve_user("PractitionerRole/r1", ISS, read_for({**good, "active": False}), ROLES,
                        now=NOW).role == READ_ONLY
