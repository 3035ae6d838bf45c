"""The FHIR resources in memory: by type and id, indexed by Patient compartment and by identifier.

Patient compartment membership follows the R4 CompartmentDefinition "patient" for the resource types the
sample data holds (hl7.org/fhir/R4/compartmentdefinition-patient.html). Reads need no lock (dict reads are
atomic in CPython); writes and multi-step reads take it, since the server is threaded.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

# type -> paths whose Reference to Patient/x puts a resource in x's compartment ("a.b" walks nested elements).
COMPARTMENT_PATHS: dict[str, tuple[str, ...]] = {
    "AllergyIntolerance": ("patient", "recorder", "asserter"),
    "CarePlan": ("subject", "activity.detail.performer"),
    "CareTeam": ("subject", "participant.member"),
    "Claim": ("patient", "payee.party"),
    "Condition": ("subject", "asserter"),
    "Coverage": ("policyHolder", "subscriber", "beneficiary", "payor"),
    "Device": ("patient",),
    "DiagnosticReport": ("subject",),
    "DocumentReference": ("subject", "author"),
    "Encounter": ("subject",),
    "ExplanationOfBenefit": ("patient", "payee.party"),
    "Goal": ("subject",),
    "ImagingStudy": ("subject",),
    "Immunization": ("patient",),
    "MedicationAdministration": ("subject", "performer.actor"),
    "MedicationDispense": ("subject", "performer.actor", "receiver"),
    "MedicationRequest": ("subject",),
    "MedicationStatement": ("subject",),
    "Observation": ("subject", "performer"),
    "Procedure": ("subject", "performer.actor"),
    "Provenance": ("target",),
    "RiskAssessment": ("subject",),
    "Flag": ("subject",),
    "ServiceRequest": ("subject", "performer"),
    "SupplyDelivery": ("patient",),
}


def values_at(resource: dict, path: str) -> list:
    """Every value at a dotted path, flattening lists along the way."""
    current: list = [resource]
    for part in path.split("."):
        nxt: list = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                nxt.extend(value if isinstance(value, list) else [value])
        current = nxt
    return current


def reference_target(ref: object) -> tuple[str, str] | None:
    """("Patient", "123") from a Reference (relative, or absolute ending in Type/id); None otherwise."""
    text = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(text, str):
        return None
    parts = text.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    return parts[-2], parts[-1]


def compartment_patients(resource: dict) -> set[str]:
    """Ids of the patients whose compartment holds this resource."""
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        return {resource["id"]} if resource.get("id") else set()
    found = set()
    for path in COMPARTMENT_PATHS.get(rtype, ()):
        for ref in values_at(resource, path):
            target = reference_target(ref)
            if target and target[0] == "Patient":
                found.add(target[1])
    return found


class ResourceStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._by_type: dict[str, dict[str, dict]] = {}
        self._compartments: dict[str, dict[str, list[str]]] = {}  # patient id -> type -> ids
        self._identifiers: dict[tuple[str, str, str], str] = {}  # (type, system, value) -> id

    def add(self, resource: dict) -> bool:
        """Store a resource as is (loading). False when one of that type and id is already there."""
        rtype, rid = resource["resourceType"], resource["id"]
        with self.lock:
            bucket = self._by_type.setdefault(rtype, {})
            if rid in bucket:
                return False
            bucket[rid] = resource
            for patient_id in compartment_patients(resource):
                self._compartments.setdefault(patient_id, {}).setdefault(rtype, []).append(rid)
            for ident in resource.get("identifier") or []:
                if isinstance(ident, dict) and ident.get("system") and ident.get("value"):
                    self._identifiers.setdefault((rtype, ident["system"], ident["value"]), rid)
        return True

    def create(self, resource: dict, now_iso: str) -> dict:
        """Store a new resource under a server-assigned id, version 1 (FHIR create ignores any given id)."""
        stored = dict(resource)
        stored["id"] = str(uuid.uuid4())
        stored["meta"] = {**(resource.get("meta") or {}), "versionId": "1", "lastUpdated": now_iso}
        self.add(stored)
        return stored

    def put(self, resource: dict, now_iso: str) -> dict:
        """Store a resource under its own id as a new version (a FHIR update): versionId + 1, meta.lastUpdated now.
        What the replay and the tests use to make data appear or change as time passes."""
        rtype, rid = resource["resourceType"], resource["id"]
        with self.lock:
            old = self.get(rtype, rid)
            version = int((old or {}).get("meta", {}).get("versionId", "0")) + 1
            stored = {**resource, "meta": {**(resource.get("meta") or {}), "versionId": str(version),
                                           "lastUpdated": now_iso}}
            if old is None:
                self.add(stored)
            else:
                self._by_type[rtype][rid] = stored  # the compartments are kept: the subject does not change here
        return stored

    def get(self, rtype: str, rid: str) -> dict | None:
        return self._by_type.get(rtype, {}).get(rid)

    def types(self) -> list[str]:
        return sorted(self._by_type)

    def all_of(self, rtype: str) -> list[dict]:
        with self.lock:
            return list(self._by_type.get(rtype, {}).values())

    def in_compartment(self, patient_id: str, rtype: str) -> list[dict]:
        with self.lock:
            ids = list(self._compartments.get(patient_id, {}).get(rtype, ()))
            bucket = self._by_type.get(rtype, {})
            return [bucket[i] for i in ids if i in bucket]

    def by_identifier(self, rtype: str, system: str, value: str) -> str | None:
        return self._identifiers.get((rtype, system, value))

    def count(self) -> int:
        return sum(len(b) for b in self._by_type.values())

    def __iter__(self) -> Iterator[dict]:
        for bucket in list(self._by_type.values()):
            yield from list(bucket.values())
