import pytest

from app.config import Settings
from app.smart.context import READ_ONLY, relative_reference, resolve_user

ISS = "https://ehr.example.org/fhir"
HL7 = "http://terminology.hl7.org/CodeSystem/practitioner-role"
ROLES = Settings().roles


def role(code, system=HL7):
    return {"resourceType": "PractitionerRole", "code": [{"coding": [{"system": system, "code": code}]}]}


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
