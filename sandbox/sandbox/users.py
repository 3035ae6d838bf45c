"""The sandbox EHR's own people and places: three users (synthetic names), their roles, the hospital and its ICUs.

Each user is a Practitioner with a PractitionerRole whose `code` is from
http://terminology.hl7.org/CodeSystem/practitioner-role (nurse, doctor, ict), which is how the app learns
the user's role (`PractitionerRole?practitioner=<id>`).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/practitioner-role"
ORGANIZATION_ID = "sandbox-hospital"
MICU_ID = "sandbox-micu"
SICU_ID = "sandbox-sicu"


@dataclass(frozen=True)
class User:
    practitioner_id: str
    given: str
    family: str
    prefix: str | None
    suffix: str | None
    role_code: str  # practitioner-role code
    role_display: str
    label: str  # what the EHR's user picker shows

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.prefix, self.given, self.family) if p)


USERS: tuple[User, ...] = (
    User("nurse", "Nora", "Lindqvist", None, "RN", "nurse", "Nurse", "Nora Lindqvist, RN (ICU nurse)"),
    User("provider", "Samuel", "Okafor", "Dr.", "MD", "doctor", "Doctor", "Dr. Samuel Okafor (ICU physician)"),
    User("deployment", "Priya", "Raman", None, None, "ict", "ICT professional",
         "Priya Raman (deployment team)"),
)
USERS_BY_ID = {u.practitioner_id: u for u in USERS}
# Not care team: the patient themself, as a patient portal would launch an app (fhirUser is the Patient). Lets an
# app show what it does for a user who must not see a clinician's page.
PATIENT_SELF = "patient-self"


def resources() -> list[dict]:
    """Organization, ICU Locations, and a Practitioner + PractitionerRole per user."""
    out: list[dict] = [
        {"resourceType": "Organization", "id": ORGANIZATION_ID, "active": True, "name": "Sandbox General Hospital"},
        _location(MICU_ID, "Medical ICU"),
        _location(SICU_ID, "Surgical ICU"),
    ]
    for user in USERS:
        name = {"use": "official", "family": user.family, "given": [user.given]}
        if user.prefix:
            name["prefix"] = [user.prefix]
        if user.suffix:
            name["suffix"] = [user.suffix]
        out.append({
            "resourceType": "Practitioner", "id": user.practitioner_id, "active": True,
            "identifier": [{"system": "https://sandbox.sepsis-sentinel.invalid/staff", "value": user.practitioner_id}],
            "name": [name],
        })
        out.append({
            "resourceType": "PractitionerRole", "id": f"{user.practitioner_id}-role", "active": True,
            "practitioner": {"reference": f"Practitioner/{user.practitioner_id}", "display": user.name},
            "organization": {"reference": f"Organization/{ORGANIZATION_ID}"},
            "code": [{"coding": [{"system": ROLE_SYSTEM, "code": user.role_code, "display": user.role_display}]}],
            "location": [{"reference": f"Location/{MICU_ID}"}, {"reference": f"Location/{SICU_ID}"}],
        })
    return out


def _location(lid: str, name: str) -> dict:
    return {
        "resourceType": "Location", "id": lid, "status": "active", "name": name, "mode": "instance",
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "ICU",
                              "display": "Intensive care unit"}]}],
        "managingOrganization": {"reference": f"Organization/{ORGANIZATION_ID}"},
    }
