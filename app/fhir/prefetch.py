"""A CDS Hooks prefetch (the Patient and a searchset Bundle of recent Observations the EHR sends with the hook call)
read into the same PatientRecord a chart open fetches, so it is mapped and scored the same way.

The templates we ask for are `PREFETCH`. The prefetch is untrusted input: it must be the context's patient (a
different Patient, or Observations of another subject, are refused or rejected by the mapping's subject check), and
a key the EHR could not fill (CDS Hooks 2.0: absent or null) means "fetch it yourself", which the hook does not
do: it answers from the stored state instead. So does a prefetch that is only the first page of the search.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .encounters import icu_admission
from .errors import FhirBadResponse
from .paging import _entries
from .searches import CATEGORIES, PatientRecord, check_patient_id, demographics

MAX_OBSERVATIONS = 2000  # the page size times the pages a chart open reads at most, roughly

PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "encounter": "Encounter/{{context.encounterId}}",  # when the patient came to the ICU: a model input
    "observations": "Observation?patient={{context.patientId}}&category=" + ",".join(CATEGORIES) + "&_sort=-date",
}


def prefetched_icu_admission(prefetch: object, patient_id: str, encounter_id: str | None, now: datetime):
    """When the prefetched Encounter (the context's, of this patient) shows the ICU admission; None otherwise."""
    encounter = prefetch.get("encounter") if isinstance(prefetch, dict) else None
    if not isinstance(encounter, dict) or encounter.get("id") != encounter_id:
        return None
    if (encounter.get("subject") or {}).get("reference") != f"Patient/{patient_id}":
        return None
    return icu_admission(encounter, now)


def prefetched_record(prefetch: object, patient_id: str, *, now: datetime, lookback: timedelta) -> PatientRecord | None:
    """The record from a prefetch, or None when the EHR did not send both keys. FhirBadResponse when what it sent
    is not what was asked for (another patient, not a Bundle, too many entries)."""
    if not isinstance(prefetch, dict):
        return None
    patient, bundle = prefetch.get("patient"), prefetch.get("observations")
    if not isinstance(patient, dict) or not isinstance(bundle, dict):
        return None
    check_patient_id(patient_id)
    if patient.get("resourceType") != "Patient" or patient.get("id") != patient_id:
        raise FhirBadResponse(detail="prefetch.patient is not the context's Patient")
    if bundle.get("resourceType") != "Bundle":
        raise FhirBadResponse(detail="prefetch.observations is not a Bundle")
    resources, notes = _entries(bundle, "prefetch Observation", MAX_OBSERVATIONS)  # more is refused
    if any(isinstance(link, dict) and link.get("relation") == "next" for link in bundle.get("link") or []):
        # Only a first page: the older values the model's windows need are missing, and a score on part of the
        # record would be lower than the patient's. Not scored; the stored state answers instead.
        raise FhirBadResponse(detail="prefetch.observations is one page of several")
    observations = tuple(r for r in resources if r.get("resourceType") == "Observation")
    return PatientRecord(patient=demographics(patient, patient_id), observations=observations, weight=None,
                         round_trips=0, notes=tuple(notes), window_start=now - lookback, fetched_at=now,
                         patient_resource=patient)
