"""When the patient came to the ICU, from the FHIR Encounter: the model's `hours_in_icu` input, live.

In training, hours since ICU admission is the PhysioNet ICULOS column. Live, the same instant is the start
of the period the patient has spent at their current location (Encounter.location[].period.start of the
active location, FHIR R4 Encounter): the app is launched for ICU patients, so the current location is the
ICU. When the location carries no period, an Encounter whose own type or class says it is an intensive
care stay gives its period.start. Otherwise the admission time is unknown and the feature is missing: the
model then scores without it (the learner handles missing values), rather than guessing a time.

Reading it must never block a score or an alert: any failure gives None, and says why in the log (codes only).
"""

from __future__ import annotations

import logging
from datetime import datetime

from .dates import parse_datetime
from .errors import FhirError

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
    """The launch's Encounter, or None when there is none or it cannot be read (logged, codes only)."""
    if not encounter_id:
        return None
    try:
        return transport.get_json(f"Encounter/{encounter_id}", expect="Encounter")
    except FhirError as exc:
        log.info("Encounter read failed (%s)", exc.code)
        return None


def read_icu_admission(transport, encounter_id: str | None, now: datetime) -> datetime | None:
    """Read the launch's Encounter and return its ICU admission time; None when unknown or unreadable."""
    encounter = read_encounter(transport, encounter_id)
    return icu_admission(encounter, now) if encounter is not None else None
