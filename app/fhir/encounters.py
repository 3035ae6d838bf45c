"""The Encounter, read three ways: when the patient came to the ICU (the model's `hours_in_icu` input), the
census of encounters in progress at the units a site screens, and the care unit an alert is raised on.

In training, hours since ICU admission is the PhysioNet ICULOS column. Live, the same instant is the start
of the period the patient has spent at their current location (Encounter.location[].period.start of the
active location, FHIR R4 Encounter): the app is launched for ICU patients, so the current location is the
ICU. When the location carries no period, an Encounter whose own type or class says it is an intensive
care stay gives its period.start. Otherwise the admission time is unknown and the feature is missing: the
model then scores without it (the learner handles missing values), rather than guessing a time.

An Encounter the EHR does not have (404) or will not show (403) leaves the admission time unknown, and the score
says so. An Encounter the EHR failed to send (unavailable, junk, expired access) is a failed read like any other:
the error reaches the page, which shows no score, because a score computed without an input the EHR failed to
send is a different, silently wrong score.

The care unit: the active location's display, else the Location's name (one read, only when an alert is raised),
else its reference, else the serviceType text; "unknown" otherwise, because a missing unit must never block an alert.

The census: encounters in progress at the site's chosen locations, from one paged FHIR Encounter search.

`Encounter?status=in-progress&location=Location/a,Location/b&_count=N` (FHIR R4 Encounter search parameters
`status` (token) and `location` (reference), comma = OR). A server may ignore a parameter it does not support (R4
search.html, "Handling errors"), and one that ignored `location` or `status` would hand back the whole hospital. So
the search asks for `Prefer: handling=strict` (a server that cannot honour a parameter answers 400, and the cycle
says so), and each Encounter returned is checked against both criteria again: the others are counted, never
screened (for a server that ignores Prefer too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from .dates import parse_datetime
from .errors import FhirError, FhirForbidden, FhirNotFound
from .paging import search
from .references import relative
from .searches import FHIR_ID
from .transport import Transport

log = logging.getLogger(__name__)

# v3 ActCode "ACUTE"/"IMP" say inpatient, not ICU; these words in Encounter.type text or coding say ICU.
_ICU_WORDS = ("intensive care", "icu", "critical care")


def _start(period: object, now: datetime) -> datetime | None:
    if not isinstance(period, dict):
        return None
    parsed = parse_datetime(period.get("start"))
    if parsed.time is None or parsed.time > now:  # a start in the future is a data error, not an admission
        return None
    return parsed.time


def _says_icu(encounter: dict) -> bool:
    texts = []
    for concept in encounter.get("type") or []:
        if isinstance(concept, dict):
            texts.append(str(concept.get("text") or ""))
            texts += [str(c.get("display") or "") for c in concept.get("coding") or [] if isinstance(c, dict)]
    return any(word in text.lower() for text in texts for word in _ICU_WORDS)


def icu_admission(encounter: dict, now: datetime) -> datetime | None:
    """The ICU admission time an Encounter resource shows, or None when it does not show one."""
    if not isinstance(encounter, dict) or encounter.get("resourceType") != "Encounter":
        return None
    locations = [x for x in encounter.get("location") or [] if isinstance(x, dict)]
    active = [x for x in locations if x.get("status") == "active"] or [
        x for x in locations if isinstance(x.get("period"), dict) and not x["period"].get("end")]
    for location in active:
        start = _start(location.get("period"), now)
        if start is not None:
            return start
    if _says_icu(encounter):
        return _start(encounter.get("period"), now)
    return None


def read_encounter(transport, encounter_id: str | None) -> dict | None:
    """The launch's Encounter, or None when there is none, or the EHR has none by that id or withholds it
    (logged, codes only). Any other FhirError is raised: a failed read must not become an unknown input."""
    if not encounter_id:
        return None
    try:
        return transport.get_json(f"Encounter/{encounter_id}", expect="Encounter")
    except (FhirNotFound, FhirForbidden) as exc:
        log.info("Encounter not available (%s)", exc.code)
        return None


def read_icu_admission(transport, encounter_id: str | None, now: datetime) -> datetime | None:
    """Read the launch's Encounter and return its ICU admission time; None when unknown (a failed read raises)."""
    encounter = read_encounter(transport, encounter_id)
    return icu_admission(encounter, now) if encounter is not None else None


IN_PROGRESS = "in-progress"
STRICT = {"Prefer": "handling=strict"}  # R4 http.html#prefer and search.html: refuse what cannot be honoured


@dataclass(frozen=True)
class CensusEntry:
    """One patient to screen: the encounter in progress and where the patient is."""

    patient_id: str
    encounter_id: str
    location: str  # the active location's reference, "Location/<id>"
    location_display: str | None
    icu_admitted_at: datetime | None = None  # icu_admission of this Encounter: the model's hours in ICU


@dataclass(frozen=True)
class Census:
    entries: tuple[CensusEntry, ...]
    complete: bool  # every page was read
    pages: int
    not_matching: int  # returned by the server but not in progress at one of our locations (not screened)
    unreadable: int  # an Encounter without a usable patient or id (not screened)
    notes: tuple[str, ...] = ()


def _patient_id(encounter: dict) -> str | None:
    ref = (encounter.get("subject") or {}).get("reference") if isinstance(encounter.get("subject"), dict) else None
    if not isinstance(ref, str):
        return None
    parts = ref.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != "Patient" or not FHIR_ID.fullmatch(parts[-1]):
        return None
    return parts[-1]


def _locations(encounter: dict) -> list[tuple[str, str | None, str | None]]:
    """(reference as "Location/<id>", display, status) of each location of the encounter."""
    out = []
    for item in encounter.get("location") or []:
        if not isinstance(item, dict) or not isinstance(item.get("location"), dict):
            continue
        ref = item["location"].get("reference")
        if not isinstance(ref, str):
            continue
        parts = ref.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == "Location":
            display = item["location"].get("display")
            out.append((f"Location/{parts[-1]}", display if isinstance(display, str) else None, item.get("status")))
    return out


def entry_of(encounter: dict, locations: frozenset[str]) -> CensusEntry | None | bool:
    """The census entry for one Encounter; False when it is not in progress at one of `locations` (the
    encounter's current location: status active, else any not completed); None when it cannot be read."""
    eid = encounter.get("id")
    pid = _patient_id(encounter)
    if not isinstance(eid, str) or not FHIR_ID.fullmatch(eid) or pid is None:
        return None
    if encounter.get("status") != IN_PROGRESS:
        return False
    here = [x for x in _locations(encounter) if x[2] in (None, "active")]
    here.sort(key=lambda x: x[2] != "active")
    for ref, display, _status in here:
        if ref in locations:
            return CensusEntry(pid, eid, ref, display)
    return False


def read_census(transport: Transport, locations: tuple[str, ...], *, now: datetime, page_size: int = 200,
                max_pages: int = 50) -> Census:
    """Every encounter in progress at `locations` ("Location/<id>" each), with its ICU admission time as of `now`.
    One patient with two encounters in progress there is screened once per encounter (alerts are kept per
    encounter)."""
    wanted = frozenset(f"Location/{loc.split('/')[-1]}" for loc in locations)
    params = {"status": IN_PROGRESS, "location": ",".join(sorted(wanted)), "_count": str(page_size)}
    result = search(transport, "Encounter", params, max_pages=max_pages, headers=STRICT)
    entries: dict[str, CensusEntry] = {}
    not_matching = unreadable = 0
    for resource in result.resources:
        if resource.get("resourceType") != "Encounter":
            continue
        entry = entry_of(resource, wanted)
        if entry is None:
            unreadable += 1
        elif entry is False:
            not_matching += 1
        else:
            entries.setdefault(entry.encounter_id, replace(entry, icu_admitted_at=icu_admission(resource, now)))
    if not_matching:
        log.warning("census: %d Encounter(s) returned that are not in progress at the screened locations "
                    "(does the server honour status and location?)", not_matching)
    log.info("census: %d encounters at %d locations, %d pages, complete=%s", len(entries), len(wanted),
             result.pages, result.complete)
    return Census(tuple(entries.values()), result.complete, result.pages, not_matching, unreadable, result.notes)


# -- the care unit: where the patient is, in words, for the alert's record and the adoption pages ------------

def _location_name(transport: Transport, reference: str) -> str | None:
    """The Location's name, read once when an alert is raised, so the adoption pages never show a raw id."""
    parts = relative(reference, transport.base).split("/")
    if len(parts) != 2 or parts[0] != "Location":
        return None
    try:
        name = transport.get_json("/".join(parts), expect="Location").get("name")
    except FhirError as exc:
        log.info("care unit: Location read failed (%s)", exc.code)
        return None
    return name.strip() if isinstance(name, str) and name.strip() else None


def unit_of(enc: dict | None, transport: Transport | None = None) -> str:
    """The care unit an Encounter resource names: its active location (display, else the Location's name, else
    the reference), else the serviceType text; "unknown" when it names none (it must never block an alert). With a
    `transport`, a location given only by reference is named by reading the Location (once, at raise)."""
    if not isinstance(enc, dict):
        return "unknown"
    locations = [x for x in enc.get("location") or [] if isinstance(x, dict) and isinstance(x.get("location"), dict)]
    locations.sort(key=lambda x: x.get("status") != "active")
    for loc in locations:
        ref = loc["location"]
        if isinstance(ref.get("display"), str) and ref["display"].strip():
            return ref["display"].strip()
        if isinstance(ref.get("reference"), str) and ref["reference"].strip():
            named = _location_name(transport, ref["reference"].strip()) if transport is not None else None
            return named or ref["reference"].strip()
    concept = enc.get("serviceType")
    if isinstance(concept, dict):
        text = concept.get("text") or next((c.get("display") for c in concept.get("coding") or []
                                            if isinstance(c, dict) and c.get("display")), None)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return "unknown"
