"""FHIR Observations (and the Patient) to `Measurement`s, or to `Rejected` with a reason a clinician can read.

Nothing is guessed: an Observation is used only when its code, patient, status, time, value and unit are all
clear, and its value is plausible. Everything else is listed with a reason, so a score is never computed
silently from wrong data. Observations of codes the model does not use are only counted ("not relevant").
Reasons and details may carry values (they are shown to the clinician); logs carry only counts.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from app.model.measurement import CONCEPTS, Measurement, is_plausible

from .codes import Resolution, categories, resolve
from .conformance import structure_problem
from .dates import parse_datetime
from .units import display_unit, to_canonical

if TYPE_CHECKING:
    from .searches import Demographics, PatientRecord

log = logging.getLogger(__name__)

# Observation.status (FHIR R4 valueset observation-status). "preliminary" is used: it is what the clinician
# sees on the ward (a first lactate, a vital sign not yet validated), and waiting for "final" would make the
# score stale; Mapped.status keeps it visible. "registered" has no result yet; "unknown" cannot be trusted.
USABLE_STATUSES = frozenset({"final", "amended", "corrected", "preliminary"})
STATUS_REASONS = {
    "entered-in-error": "entered in error",
    "cancelled": "cancelled",
    "registered": "no result yet (registered)",
    "unknown": "status unknown",
}
CLOCK_SKEW = timedelta(minutes=5)  # a device clock slightly ahead is not "in the future"


@dataclass(frozen=True)
class Mapped:
    """A Measurement the model may use, and where it came from (shown in the page's "data used" list)."""

    measurement: Measurement
    observation_id: str | None
    source_code: str  # the LOINC code (or Patient element) it was read from
    original_value: float
    original_unit: str | None
    status: str = "final"


@dataclass(frozen=True)
class Rejected:
    """An Observation (or one component of it) not used, and why. `text` is what the page shows."""

    observation_id: str | None
    code: str | None
    display: str | None
    reason: str  # short and countable: "unit missing", "implausible value", "duplicate", ...
    detail: str = ""  # the specifics, e.g. "Temperature 4.1 °C"
    concept: str | None = None
    time: datetime | None = None

    @property
    def text(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason

    @property
    def label(self) -> str:
        """What the data was, for the list: the concept's name, else the display text, else the code."""
        if self.concept in CONCEPTS:
            return CONCEPTS[self.concept].label
        return self.display or self.code or "Observation"


@dataclass(frozen=True)
class MappingResult:
    used: tuple[Mapped, ...]
    rejected: tuple[Rejected, ...]
    not_relevant: int = 0

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        return tuple(m.measurement for m in self.used)

    def reason_counts(self) -> dict[str, int]:
        """How many were rejected for each reason, most frequent first."""
        return dict(Counter(r.reason for r in self.rejected).most_common())


def _subject_problem(obs: dict, patient_id: str, base: str | None) -> str | None:
    subject = obs.get("subject")
    ref = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(ref, str) or not ref.strip():
        return "patient not stated"
    ref = ref.strip().split("/_history/", 1)[0]
    if ref == f"Patient/{patient_id}":
        return None
    if base and ref == f"{base.rstrip('/')}/Patient/{patient_id}":
        return None
    if not base and "://" in ref and ref.endswith(f"/Patient/{patient_id}"):
        return None
    return "about another patient"


def _effective(obs: dict):
    if "effectiveDateTime" in obs:
        return parse_datetime(obs.get("effectiveDateTime"))
    if "effectiveInstant" in obs:
        return parse_datetime(obs.get("effectiveInstant"))
    period = obs.get("effectivePeriod")
    if isinstance(period, dict):  # a measurement over a period: when it ended is when it was known
        return parse_datetime(period.get("end") if period.get("end") is not None else period.get("start"))
    return parse_datetime(None)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _dar_text(dar: object) -> str:
    if isinstance(dar, dict):
        if isinstance(dar.get("text"), str):
            return dar["text"][:60]
        codings = dar.get("coding") if isinstance(dar.get("coding"), list) else []
        for coding in codings:
            if isinstance(coding, dict):
                text = coding.get("display") or coding.get("code")
                if isinstance(text, str):
                    return text[:60]
    return ""


def _map_value(holder: dict, res: Resolution, obs_id: str | None, when: datetime,
               status: str) -> Mapped | Rejected:
    """One value (of the Observation or of a component) for one resolved concept."""
    concept = res.concept or ""  # callers pass resolved concepts only

    def reject(reason: str, detail: str = "") -> Rejected:
        return Rejected(obs_id, res.code, res.display, reason, detail, concept, when)

    if holder.get("dataAbsentReason") is not None:
        return reject("value absent", _dar_text(holder.get("dataAbsentReason")))
    quantity = holder.get("valueQuantity")
    if quantity is None:
        if "valueInteger" in holder:
            quantity = {"value": holder.get("valueInteger")}
        elif any(k.startswith("value") for k in holder):
            kinds = sorted(k[5:] for k in holder if k.startswith("value"))
            return reject("value not a number", f"recorded as {kinds[0][:20]}")
        else:
            return reject("no value")
    if not isinstance(quantity, dict):
        return reject("value not a number")
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return reject("value not a number")
    value = float(value)
    comparator = quantity.get("comparator")
    if comparator is not None:
        return reject("value is a limit, not a measurement", f"{str(comparator)[:2]}{_fmt(value)}")
    code, unit = quantity.get("code"), quantity.get("unit")
    conv = to_canonical(concept, value, code, unit)
    shown_unit = code if isinstance(code, str) and code.strip() else unit if isinstance(unit, str) else None
    if conv.problem or conv.value is None:
        return reject(conv.problem or "unit not recognised", conv.detail)
    label = CONCEPTS[concept].label
    if not is_plausible(concept, conv.value):
        detail = f"{label} {_fmt(conv.value)} {display_unit(concept)}".strip()
        if conv.converted:
            detail += f", recorded as {_fmt(value)} {str(shown_unit)[:20]}"
        return reject("implausible value", detail)
    return Mapped(Measurement(concept, conv.value, when), obs_id, res.code or "", value,
                  shown_unit[:40] if isinstance(shown_unit, str) else None, status)


def map_observation(obs: object, *, patient_id: str, now: datetime, not_before: datetime | None = None,
                    base: str | None = None) -> list[Mapped | Rejected]:
    """One Observation to Measurements and rejections; an empty list means "not relevant to the model".

    A blood-pressure panel gives one result per component. Never raises, whatever the input.
    """
    try:
        return _map_observation(obs, patient_id, now, not_before, base)
    except Exception as exc:  # a safety net; the property tests assert it is never reached
        log.error("mapping failed unexpectedly (%s)", type(exc).__name__)
        oid = obs.get("id") if isinstance(obs, dict) and isinstance(obs.get("id"), str) else None
        return [Rejected(oid, None, None, "could not be read", "internal error")]


def _map_observation(obs: object, patient_id: str, now: datetime, not_before: datetime | None,
                     base: str | None) -> list[Mapped | Rejected]:
    if not isinstance(obs, dict) or obs.get("resourceType") != "Observation":
        return []
    examined = _examined(obs, patient_id, base)
    if examined is None:
        return []
    early, when, first, later = examined
    if early is not None:
        return list(early)
    obs_id, code, display, concept = first
    if when > now + CLOCK_SKEW:
        return [Rejected(obs_id, code, display, "time in the future",
                         f"recorded for {when.isoformat(timespec='minutes')}", concept, when)]
    if not_before is not None and when < not_before:
        return [Rejected(obs_id, code, display, "older than the time window",
                         f"measured {when.isoformat(timespec='minutes')}, window starts "
                         f"{not_before.isoformat(timespec='minutes')}", concept, when)]
    return list(later)


def map_unclocked(obs: object, *, patient_id: str, base: str | None = None) -> tuple[datetime | None, list]:
    """(effective time, Mapped and Rejected results) of one Observation without the two checks against the clock
    (in the future, before the window): a stored window applies those at each scoring, when `now` is known.
    Never raises; a non-Observation or an Observation of no relevant code gives (None, [])."""
    if not isinstance(obs, dict) or obs.get("resourceType") != "Observation":
        return None, []
    try:
        examined = _examined(obs, patient_id, base)
    except Exception as exc:  # the same safety net as map_observation
        log.error("mapping failed unexpectedly (%s)", type(exc).__name__)
        return None, [Rejected(obs.get("id") if isinstance(obs.get("id"), str) else None, None, None,
                               "could not be read", "internal error")]
    if examined is None:
        return None, []
    early, when, _first, later = examined
    return when, list(early if early is not None else later)


# What one Observation maps to apart from the two checks against the clock (future, time window), memoized by
# its content: a chart reloaded, or opened by a colleague, brings back the same few hundred Observations, and
# only the new ones are examined again. The key is a digest of the JSON values' repr (JSON values only: repr
# tells them apart exactly), with the patient and FHIR base the subject is checked against. Bounded, per process.
MEMO_SIZE = 20_000
_memo: OrderedDict[bytes, tuple] = OrderedDict()
_memo_lock = threading.Lock()
_NOT_RELEVANT = ("not relevant",)


def _examined(obs: dict, patient_id: str, base: str | None):
    key = hashlib.blake2b(repr((patient_id, base, obs)).encode(), digest_size=16).digest()
    with _memo_lock:
        found = _memo.get(key)
        if found is not None:
            _memo.move_to_end(key)
    if found is None:
        found = _examine(obs, patient_id, base) or _NOT_RELEVANT
        with _memo_lock:
            _memo[key] = found
            while len(_memo) > MEMO_SIZE:
                _memo.popitem(last=False)
    return None if found is _NOT_RELEVANT else found


def _examine(obs: dict, patient_id: str, base: str | None):
    """(early rejection, time, (id, code, display, concept) for later rejections, results after the clock
    checks), or None when the Observation is not relevant to the model. Independent of the clock."""
    obs_id = obs.get("id") if isinstance(obs.get("id"), str) else None
    cats = categories(obs)
    top = resolve(obs.get("code"), cats)
    comps = obs.get("component") if isinstance(obs.get("component"), list) else []
    parts = [(c, resolve(c.get("code"), cats)) for c in comps if isinstance(c, dict)]
    parts = [(c, r) for c, r in parts if r.concept or r.conflict]
    if not (top.relevant or parts):
        return None
    first = top if top.code else parts[0][1]

    def reject(reason: str, detail: str = "", when: datetime | None = None) -> tuple:
        return (Rejected(obs_id, first.code, first.display, reason, detail, first.concept, when),), None, None, ()

    subject_problem = _subject_problem(obs, patient_id, base)
    if subject_problem:
        return reject(subject_problem)
    status = obs.get("status")
    if status not in USABLE_STATUSES:
        return reject(STATUS_REASONS.get(str(status), "status not recognised"),
                      "" if status in STATUS_REASONS else str(status)[:30])
    parsed = _effective(obs)
    if parsed.time is None:
        return reject(parsed.problem or "no time recorded")
    when = parsed.time
    # The clock checks (future, time window) come here, in _map_observation: their reasons are more specific.
    out: list[Mapped | Rejected] = []
    problem = structure_problem(obs)
    if problem:
        out.append(Rejected(obs_id, first.code, first.display, "not a valid FHIR Observation", problem,
                            first.concept, when))
        return None, when, (obs_id, first.code, first.display, first.concept), tuple(out)
    if top.conflict:
        out.append(Rejected(obs_id, top.code, top.display, "codes disagree", ", ".join(top.conflict), None, when))
    elif top.concept:
        out.append(_map_value(obs, top, obs_id, when, status))
    for comp, res in parts:
        if res.conflict:
            out.append(Rejected(obs_id, res.code, res.display, "codes disagree", ", ".join(res.conflict), None,
                                when))
        else:
            out.append(_map_value(comp, res, obs_id, when, status))
    if not out:  # a BP panel with no blood-pressure component
        out.append(Rejected(obs_id, top.code, top.display, "no value", "panel without blood-pressure values",
                            None, when))
    return None, when, (obs_id, first.code, first.display, first.concept), tuple(out)


def _dedup_key(m: Measurement) -> tuple[str, datetime, float]:
    return (m.concept, m.time.astimezone(UTC), round(m.value, 4))


def map_observations(observations: Iterable[object], *, patient_id: str, now: datetime,
                     not_before: datetime | None = None, base: str | None = None,
                     seen_ids: set[str] | None = None) -> MappingResult:
    """Map many Observations; a measurement repeating one already used (same concept, time and value) is
    rejected as a duplicate (README shape 5: one panel recorded under two encounters)."""
    used: list[Mapped] = []
    rejected: list[Rejected] = []
    not_relevant = 0
    seen_ids = set() if seen_ids is None else seen_ids
    first_by_key: dict[tuple, str | None] = {}
    for obs in observations:
        oid = obs.get("id") if isinstance(obs, dict) else None
        if isinstance(oid, str):
            if oid in seen_ids:
                continue  # the very same resource fetched twice (e.g. weight in both searches)
            seen_ids.add(oid)
        results = map_observation(obs, patient_id=patient_id, now=now, not_before=not_before, base=base)
        if not results:
            not_relevant += 1
        for r in results:
            if isinstance(r, Rejected):
                rejected.append(r)
                continue
            key = _dedup_key(r.measurement)
            if key in first_by_key:
                other = first_by_key[key]
                rejected.append(Rejected(r.observation_id, r.source_code, None, "duplicate",
                                         f"same time and value as Observation {other}" if other else
                                         "same time and value as another Observation",
                                         r.measurement.concept, r.measurement.time))
                continue
            first_by_key[key] = r.observation_id
            used.append(r)
    result = MappingResult(tuple(used), tuple(rejected), not_relevant)
    log.info("mapped Observations: %d used, %d rejected %s, %d not relevant", len(used), len(rejected),
             result.reason_counts(), not_relevant)
    return result


def demographic_measurements(patient: Demographics, now: datetime) -> list[Mapped | Rejected]:
    """Age (years) and sex (male = 1) as Measurements at `now`; unknown sex or birth date gives none."""
    out: list[Mapped | Rejected] = []
    ref = f"Patient/{patient.patient_id}"
    if patient.birth_date is not None:
        age = patient.birth_date.age_years(now)
        if is_plausible("age", age):
            out.append(Mapped(Measurement("age", age, now), ref, "Patient.birthDate", age, "a"))
        else:
            out.append(Rejected(ref, "Patient.birthDate", "Age", "implausible value",
                                f"Age {_fmt(age)} years", "age", now))
    if patient.sex in ("male", "female"):
        value = 1.0 if patient.sex == "male" else 0.0
        out.append(Mapped(Measurement("sex_male", value, now), ref, "Patient.gender", value, None))
    return out


def map_record(record: PatientRecord, now: datetime, base: str | None = None) -> MappingResult:
    """Everything the model gets for one patient: demographics, recent Observations, the latest weight."""
    seen: set[str] = set()
    demo = demographic_measurements(record.patient, now)
    recent = map_observations(record.observations, patient_id=record.patient.patient_id, now=now,
                              not_before=record.window_start, base=base, seen_ids=seen)
    weight = map_observations([record.weight] if record.weight else [], patient_id=record.patient.patient_id,
                              now=now, base=base, seen_ids=seen)
    used = tuple(m for m in demo if isinstance(m, Mapped)) + recent.used + weight.used
    rejected = tuple(m for m in demo if isinstance(m, Rejected)) + recent.rejected + weight.rejected
    return MappingResult(used, rejected, recent.not_relevant + weight.not_relevant)
