"""Builders for FHIR tests: a test base and patient, a fake clock (nothing ever really sleeps), token sources, and
Observations, Patients and search Bundles as a FHIR server returns them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

BASE = "https://ehr.example.org/fhir/r4"
PATIENT = "pat-1"
TOKEN = "secret-access-token-123"
# Frozen in a non-UTC zone (design.md "Tests"): 2026-11-23 08:00 in Chicago is 14:00 UTC.
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("America/Chicago"))


class FakeClock:
    """Monotonic time that moves only when the code under test sleeps."""

    def __init__(self):
        self.t = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class RefreshingToken:
    """A token source whose refresh gives `new` (or None, or raises `error`)."""

    def __init__(self, old="old-token", new: str | None = "new-token", error: Exception | None = None):
        self.token, self.new, self.error, self.refreshes = old, new, error, 0

    def access_token(self) -> str:
        return self.token

    def refresh(self) -> str | None:
        self.refreshes += 1
        if self.error:
            raise self.error
        if self.new:
            self.token = self.new
        return self.new


def loinc(code: str, display: str | None = None) -> dict:
    coding = {"system": "http://loinc.org", "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def obs(code: str | list[str], value: float | None = None, unit: str | None = None, *, oid: str = "o1",
        when: str = "2026-11-23T07:30:00-06:00", patient: str = PATIENT, status: str = "final",
        category: str = "vital-signs", **extra) -> dict:
    """An Observation as a FHIR server returns it; `unit` is used as both UCUM code and text (None: no unit)."""
    codes = [code] if isinstance(code, str) else code
    o = {"resourceType": "Observation", "id": oid, "status": status,
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                   "code": category}]}],
         "code": {"coding": [{"system": "http://loinc.org", "code": c} for c in codes]},
         "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": when}
    if value is not None:
        q: dict = {"value": value}
        if unit is not None:
            q.update(unit=unit, system="http://unitsofmeasure.org", code=unit)
        o["valueQuantity"] = q
    o.update(extra)
    return o


def bundle(resources: list[dict], next_url: str | None = None, self_url: str | None = None) -> dict:
    b = {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
         "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r.get('id')}", "resource": r,
                    "search": {"mode": "match"}} for r in resources]}
    links = []
    if self_url:
        links.append({"relation": "self", "url": self_url})
    if next_url:
        links.append({"relation": "next", "url": next_url})
    if links:
        b["link"] = links
    return b


def patient_resource(pid: str = PATIENT, **extra) -> dict:
    p = {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1950-06-15",
         "name": [{"use": "official", "given": ["Ada"], "family": "Testperson"}]}
    p.update(extra)
    return p
