"""The medications a patient was given or has ordered: MedicationAdministration and MedicationRequest, read as
plain values (the drug's codings, when, and the resource it came from), for the bundle's antibiotics and fluids.

What counts (FHIR R4 value sets): an administration that is `completed` or `in-progress` (MedicationAdministration
Status Codes), a request that is `active`, `completed`, `draft` or `on-hold` (medicationrequest-status); the others
were never given nor are they meant to be. A record that names its drug only by `medicationReference` carries no
coding to classify; `by_reference` says so, so the reader can count what it could not match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .dates import fhir_instant, parse_datetime
from .paging import Found, search
from .transport import Transport

GIVEN_STATUSES = ("completed", "in-progress")
ORDERED_STATUSES = ("active", "completed", "draft", "on-hold")


@dataclass(frozen=True)
class MedicationRecord:
    """One administration or order: the drug's codings (system, code), and when (None when the record has no
    usable time). `administered`: given (MedicationAdministration) rather than ordered (MedicationRequest)."""

    codings: tuple[tuple[str | None, str | None], ...]
    start: datetime | None
    end: datetime | None
    administered: bool
    reference: str  # "MedicationAdministration/<id>" or "MedicationRequest/<id>"
    by_reference: bool  # the drug is named by medicationReference only


def codings(concept: object) -> tuple[tuple[str | None, str | None], ...]:
    """The (system, code) pairs of a CodeableConcept; () for anything that is not one."""
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return ()
    return tuple((c.get("system"), c.get("code")) for c in concept["coding"] if isinstance(c, dict))


def administration(res: dict) -> MedicationRecord | None:
    """A MedicationAdministration as a record; None when its status says it was not given."""
    if res.get("status") not in GIVEN_STATUSES:
        return None
    period = res.get("effectivePeriod") or {}
    return MedicationRecord(
        codings(res.get("medicationCodeableConcept")),
        parse_datetime(res.get("effectiveDateTime") or period.get("start")).time,
        parse_datetime(period.get("end")).time if period.get("end") else None,
        True, f"MedicationAdministration/{res.get('id')}", "medicationReference" in res)


def request(res: dict) -> MedicationRecord | None:
    """A MedicationRequest as a record (when it was authored); None when its status says it is not meant."""
    if res.get("status") not in ORDERED_STATUSES:
        return None
    return MedicationRecord(codings(res.get("medicationCodeableConcept")), parse_datetime(res.get("authoredOn")).time,
                            None, False, f"MedicationRequest/{res.get('id')}", "medicationReference" in res)


def _found(resources, parse) -> tuple:
    return tuple(r for r in (parse(res) for res in resources) if r is not None)


def administrations_since(transport: Transport, patient_id: str, since: datetime, *, max_pages: int) -> Found:
    """The patient's MedicationAdministrations effective since `since` (one paged search; FhirError raises)."""
    result = search(transport, "MedicationAdministration",
                    {"patient": patient_id, "effective-time": f"ge{fhir_instant(since)}", "_count": "100"},
                    max_pages=max_pages)
    return Found(_found(result.resources, administration), tuple(result.notes))


def requests_since(transport: Transport, patient_id: str, since: datetime, *, max_pages: int) -> Found:
    """The patient's MedicationRequests authored since `since` (one paged search; FhirError raises)."""
    result = search(transport, "MedicationRequest",
                    {"patient": patient_id, "authoredon": f"ge{fhir_instant(since)}", "_count": "100"},
                    max_pages=max_pages)
    return Found(_found(result.resources, request), tuple(result.notes))
