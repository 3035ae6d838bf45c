"""The FHIR reads for one launched patient: the Patient, recent vitals and labs, the latest body weight.

Round trips in the usual case: 1 Patient read + 1 Observation search per page (comma-OR of the two categories,
newest first) + at most 1 weight search (skipped when the window already holds a weight). The Patient read runs
beside the search, so a page waits for one round trip less. A server that
rejects the comma-OR gets one search per category; one that rejects `_sort` gets the same without it.
"""

from __future__ import annotations

import contextvars
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .codes import BODY_WEIGHT, LOINC, loinc_codings
from .dates import BirthDate, fhir_instant, parse_birth_date, parse_datetime
from .errors import FhirBadResponse, FhirFailedMidRead, FhirNotFound, FhirRequestRejected
from .paging import SearchResult, search
from .transport import Transport

log = logging.getLogger(__name__)

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 datatypes, "id"
CATEGORIES = ("vital-signs", "laboratory")
# Threads start on first use (in each worker, after a pre-forking server forks); a read ends within its timeouts.
_BESIDE = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fhir-read")


@dataclass(frozen=True)
class Demographics:
    """What the model and the banner need from the Patient. Name and birth date are for the banner only."""

    patient_id: str
    name: str | None
    birth_date: BirthDate | None
    sex: str | None  # FHIR administrative gender: male | female | other | unknown; None when absent
    deceased: bool = False

    def age_years(self, at: datetime) -> float | None:
        return self.birth_date.age_years(at) if self.birth_date else None


@dataclass(frozen=True)
class PatientRecord:
    """The raw FHIR data for one patient, as fetched. `notes` say what may be missing (clinician-readable)."""

    patient: Demographics
    observations: tuple[dict, ...]
    weight: dict | None
    round_trips: int
    notes: tuple[str, ...]
    window_start: datetime
    fetched_at: datetime
    complete: bool = True
    patient_resource: dict = field(default_factory=dict, compare=False, repr=False)  # for the banner
    server_time: str | None = None  # the Observation search's Bundle.meta.lastUpdated: the server's clock


def _name(patient: dict) -> str | None:
    names = patient.get("name") if isinstance(patient.get("name"), list) else []
    names = [n for n in names if isinstance(n, dict)]
    chosen = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if not chosen:
        return None
    if isinstance(chosen.get("text"), str) and chosen["text"].strip():
        return chosen["text"].strip()
    given = chosen.get("given") if isinstance(chosen.get("given"), list) else []
    parts = [g for g in given if isinstance(g, str)]
    if isinstance(chosen.get("family"), str):
        parts.append(chosen["family"])
    return " ".join(parts).strip() or None


def demographics(patient: dict, patient_id: str) -> Demographics:
    """Demographics from a Patient resource; unreadable fields become unknown, never guessed."""
    gender = patient.get("gender")
    deceased = patient.get("deceasedBoolean") is True or isinstance(patient.get("deceasedDateTime"), str)
    return Demographics(
        patient_id=patient_id, name=_name(patient), birth_date=parse_birth_date(patient.get("birthDate")),
        sex=gender if gender in ("male", "female", "other", "unknown") else None, deceased=deceased,
    )


def check_patient_id(patient_id: str) -> None:
    """The EHR's patient id goes into URLs and search parameters only when it is a FHIR id."""
    if not FHIR_ID.fullmatch(patient_id or ""):
        raise FhirBadResponse("The patient given by the EHR is not valid, so no data was read. "
                              "Please open Sepsis Sentinel again from the patient's chart.",
                              detail="patient id is not a FHIR id")


def read_patient(transport: Transport, patient_id: str) -> dict:
    """GET Patient/{id}; the server must return that very patient."""
    check_patient_id(patient_id)
    patient = transport.get_json(f"Patient/{patient_id}", expect="Patient")
    if patient.get("id") != patient_id:
        raise FhirBadResponse(detail="Patient read returned a different id")
    return patient


def _search_sorted(transport: Transport, params: dict, max_pages: int, notes: list[str],
                   state: dict) -> SearchResult:
    """Observation search newest first; once the server rejects `_sort`, the same searches unsorted."""
    if state.get("sort", True):
        try:
            return search(transport, "Observation", params, max_pages=max_pages)
        except FhirRequestRejected as exc:
            log.info("Observation search rejected (%s); retrying without _sort", exc.detail)
            state["sort"] = False
    result = search(transport, "Observation", {k: v for k, v in params.items() if k != "_sort"},
                    max_pages=max_pages)
    if not result.complete and not any("cannot sort" in n for n in notes):
        notes.append("The EHR cannot sort results by date, so the results read may not be the newest.")
    return result


def recent_observations(transport: Transport, patient_id: str, since: datetime, *, page_size: int = 200,
                        max_pages: int = 20, notes: list[str] | None = None) -> SearchResult:
    """Vital signs and laboratory results since `since`: one comma-OR search, else one per category."""
    notes = [] if notes is None else notes
    base = {"patient": patient_id, "date": f"ge{fhir_instant(since)}", "_count": str(page_size),
            "_sort": "-date"}
    try:
        return search(transport, "Observation", {**base, "category": ",".join(CATEGORIES)}, max_pages=max_pages)
    except FhirRequestRejected as exc:
        log.info("comma-OR category search rejected (%s); one search per category", exc.detail)
    resources: list[dict] = []
    ids: set[str] = set()
    result_notes: list[str] = []
    complete, pages, state, server_time = True, 0, {"sort": True}, None
    for category in CATEGORIES:
        part = _search_sorted(transport, {**base, "category": category}, max_pages, result_notes, state)
        for r in part.resources:
            rid = r.get("id")
            if isinstance(rid, str) and rid in ids:
                continue
            if isinstance(rid, str):
                ids.add(rid)
            resources.append(r)
        result_notes.extend(n for n in part.notes if n not in result_notes)
        complete, pages = complete and part.complete, pages + part.pages
        server_time = server_time or part.server_time
    return SearchResult(tuple(resources), tuple(result_notes), complete, pages, server_time)


def updated_observations(transport: Transport, patient_id: str, since: str, *, page_size: int = 200,
                         max_pages: int = 20) -> SearchResult:
    """Vital signs and laboratory results created or changed after the FHIR instant `since` (`_lastUpdated=gt`),
    whatever their effective time: a corrected old value comes back too. One comma-OR search, else one per category.
    Raises FhirRequestRejected when the server refuses `_lastUpdated` (the caller then reads the whole window)."""
    check_patient_id(patient_id)
    base = {"patient": patient_id, "_lastUpdated": f"gt{since}", "_count": str(page_size)}
    try:
        return search(transport, "Observation", {**base, "category": ",".join(CATEGORIES)}, max_pages=max_pages)
    except FhirRequestRejected as exc:
        log.info("comma-OR category search rejected (%s); one search per category", exc.detail)
    parts = [search(transport, "Observation", {**base, "category": c}, max_pages=max_pages) for c in CATEGORIES]
    return SearchResult(tuple(r for part in parts for r in part.resources),
                        tuple(dict.fromkeys(n for part in parts for n in part.notes)),
                        all(part.complete for part in parts), sum(part.pages for part in parts),
                        parts[0].server_time)


def _newest(observations, code: str) -> dict | None:
    best, best_time = None, None
    for obs in observations:
        if not isinstance(obs, dict) or code not in [c for c, _ in loinc_codings(obs.get("code"))]:
            continue
        if obs.get("status") in ("entered-in-error", "cancelled"):
            continue  # a corrected-away weight must not hide the valid one before it
        t = parse_datetime(obs.get("effectiveDateTime") or obs.get("effectiveInstant")).time
        if t is not None and (best_time is None or t > best_time):
            best, best_time = obs, t
    return best


def latest_weight(transport: Transport, patient_id: str, *, max_pages: int = 20,
                  notes: list[str] | None = None) -> dict | None:
    """The newest body weight (LOINC 29463-7), however old: dosing needs it even when it is not recent."""
    notes = [] if notes is None else notes
    params = {"patient": patient_id, "code": f"{LOINC}|{BODY_WEIGHT}", "_sort": "-date", "_count": "1"}
    try:
        result = search(transport, "Observation", params, follow=False)
    except FhirRequestRejected as exc:
        log.info("weight search rejected (%s); retrying without _sort", exc.detail)
        params = {k: v for k, v in params.items() if k != "_sort"} | {"_count": "100"}
        try:
            result = search(transport, "Observation", params, max_pages=max_pages)
        except FhirRequestRejected:
            notes.append("The EHR refused the search for body weight, so weight is not shown.")
            return None
    return _newest(result.resources, BODY_WEIGHT)


def fetch_patient_record(transport: Transport, patient_id: str, *, now: datetime,
                         lookback: timedelta = timedelta(hours=72), page_size: int = 200,
                         max_pages: int = 20) -> PatientRecord:
    """All FHIR data the app needs for one patient, in as few round trips as the server allows.

    Raises FhirError subclasses (unavailable, unauthorized, forbidden, bad response); partial data is not an
    error but is reported in `notes` with `complete=False`.
    """
    start = transport.round_trips
    since = now - lookback
    check_patient_id(patient_id)  # before either read puts it in a URL
    # in a copy of this context, so the pool thread's log lines carry this request's id (app/ops/logs.py)
    patient_read = _BESIDE.submit(contextvars.copy_context().run, read_patient, transport, patient_id)
    notes: list[str] = []
    try:
        obs = recent_observations(transport, patient_id, since, page_size=page_size, max_pages=max_pages,
                                  notes=notes)
    except FhirNotFound as exc:
        patient_read.result()  # the Patient was read: the search failed partway, the patient is known
        raise FhirFailedMidRead(detail=exc.detail) from exc
    except BaseException:
        patient_read.result()  # the Patient's error, if it has one, is the one to report (as when read first)
        raise
    patient = patient_read.result()
    notes.extend(n for n in obs.notes if n not in notes)
    weight = _newest(obs.resources, BODY_WEIGHT)
    if weight is None:
        weight = latest_weight(transport, patient_id, max_pages=max_pages, notes=notes)
    demo = demographics(patient, patient_id)
    if demo.deceased:
        notes.append("The EHR records this patient as deceased.")
    if not obs.resources:
        hours = lookback.total_seconds() / 3600
        notes.append(f"The EHR has no vital signs or laboratory results for this patient in the last {hours:g} "
                     "hours.")
    record = PatientRecord(
        patient=demo, observations=obs.resources, weight=weight, round_trips=transport.round_trips - start,
        notes=tuple(notes), window_start=since, fetched_at=now, complete=obs.complete, patient_resource=patient,
        server_time=obs.server_time,
    )
    log.info("FHIR patient record: %d Observations, weight %s, %d round trips, complete=%s",
             len(record.observations), "found" if weight else "none", record.round_trips, record.complete)
    return record
