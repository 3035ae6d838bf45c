"""What FHIR shows for the SEP-1 bundle, as the bundle's Facts: lactates, pressures and the body weight from the
record the page already read; blood cultures and medications from three more searches, read by `app.fhir`'s
cultures and medications modules and classified here by the bundle's own definitions.

A search that fails (other than expired access) does not fail the page: the elements that depend on it show
"unknown", and a note says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from app.bundle import (
    BLOOD_CULTURE_CODES,
    CULTURE_LOOKBACK,
    MEDICATION_LOOKBACK,
    Culture,
    Facts,
    Given,
    medication_kind,
)
from app.fhir import FhirError, FhirUnauthorized, MappingResult, PatientRecord, Transport
from app.fhir.cultures import culture_orders_since, culture_results
from app.fhir.medications import MedicationRecord, administrations_since, requests_since
from app.fhir.paging import Found

log = logging.getLogger(__name__)


def _read_or_note(read: Callable[[], Found], rtype: str, what: str, notes: list[str]) -> tuple | None:
    """The records of one search, or None with a note when the EHR could not answer it (expired access raises)."""
    try:
        found = read()
    except FhirUnauthorized:
        raise
    except FhirError as exc:
        log.warning("bundle: %s search failed (%s)", rtype, exc.code)
        notes.append(f"{what} could not be read from the EHR, so the elements that depend on them show "
                     "'unknown'.")
        return None
    notes.extend(n for n in found.notes if n not in notes)
    return found.records


def _given(records: tuple[MedicationRecord, ...]) -> tuple[list[Given], int]:
    """The bundle's medications among `records`, and how many name their drug by reference only (unmatched)."""
    given, unclassified = [], 0
    for med in records:
        kind = medication_kind(list(med.codings))
        if kind is None:
            unclassified += med.by_reference
            continue
        if med.start is not None:
            given.append(Given(kind[0], kind[2], med.start, med.end, med.administered, med.reference))
    return given, unclassified


def bundle_facts(transport: Transport, record: PatientRecord, mapping: MappingResult, time_zero: datetime,
                 *, max_pages: int = 5) -> tuple[Facts, tuple[str, ...]]:
    """What FHIR shows for the bundle: results from the record already read, plus three searches
    (MedicationAdministration, MedicationRequest, ServiceRequest) since the look-backs before time zero."""
    notes: list[str] = []
    pid = record.patient.patient_id
    used = [m.measurement for m in mapping.used]
    weights = sorted((m for m in used if m.concept == "body_weight"), key=lambda m: m.time)
    since_meds = time_zero - MEDICATION_LOOKBACK
    administrations = _read_or_note(lambda: administrations_since(transport, pid, since_meds, max_pages=max_pages),
                                    "MedicationAdministration", "Medication administrations", notes)
    requests = _read_or_note(lambda: requests_since(transport, pid, since_meds, max_pages=max_pages),
                             "MedicationRequest", "Medication orders", notes)
    orders = _read_or_note(lambda: culture_orders_since(transport, pid, time_zero - CULTURE_LOOKBACK,
                                                        BLOOD_CULTURE_CODES, max_pages=max_pages),
                           "ServiceRequest", "Blood culture orders", notes)
    given_a, unmatched_a = _given(administrations or ())
    given_r, unmatched_r = _given(requests or ())
    if unmatched_a + unmatched_r:
        notes.append(f"{unmatched_a + unmatched_r} medication record(s) name the drug by reference only, so they "
                     "could not be matched to the bundle.")
    cultures = [Culture(c.time, c.collected, c.reference)
                for c in culture_results(record.observations, BLOOD_CULTURE_CODES) + (orders or ())]
    facts = Facts(
        lactates=tuple(m for m in used if m.concept == "lactate"),
        pressures=tuple(m for m in used if m.concept in ("sbp", "map")),
        weight_kg=weights[-1].value if weights else None, weight_time=weights[-1].time if weights else None,
        cultures=tuple(cultures), medications=tuple(given_a + given_r),
        cultures_known=orders is not None, medications_known=administrations is not None and requests is not None)
    return facts, tuple(notes)
