"""The page's "Data used and not used": the measurements read inside the time window, what else was read (age
and sex, an older body weight), and each value not used with the reason."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from app.fhir import MappingResult, PatientRecord, Rejected
from app.model import CONCEPTS, Measurement

from .nursing_assessment import demographics_text, value_text
from .timewords import date_text

MAX_REJECTED_SHOWN = 200


@dataclass(frozen=True)
class DataLists:
    """The data used, and the data not used with the reason."""

    used: tuple[tuple[str, int, datetime, datetime], ...]  # label, count, first, last (measurements only)
    rejected: tuple[Rejected, ...]
    rejected_total: int
    reason_counts: dict
    not_relevant: int
    window_start: datetime
    notes: tuple[str, ...]
    complete: bool
    also: tuple[str, ...] = ()  # read but not "in the time window": demographics, an older body weight


def data_lists(record: PatientRecord, mapping: MappingResult, now: datetime) -> DataLists:
    """What was read: the measurements inside the time window, and apart from them what is not a measurement
    of the window (age and sex from the patient record; a body weight, often older, for fluid volumes)."""
    by_concept: dict[str, list[Measurement]] = defaultdict(list)
    for mapped in mapping.used:
        by_concept[mapped.measurement.concept].append(mapped.measurement)
    window = {c: ms for c, ms in by_concept.items()
              if CONCEPTS[c].kind != "demographic" and CONCEPTS[c].model_input
              and any(m.time >= record.window_start for m in ms)}
    used = tuple(sorted(((CONCEPTS[c].label, len(ms), min(m.time for m in ms), max(m.time for m in ms))
                         for c, ms in window.items()), key=lambda u: u[0]))
    also = []
    demographics = demographics_text(mapping.used)
    if demographics:
        also.append(f"From the patient record: {demographics}.")
    weights = sorted(by_concept.get("body_weight", []), key=lambda m: m.time)
    if weights:
        also.append(f"Body weight {value_text('body_weight', weights[-1].value)} kg, recorded "
                    f"{date_text(weights[-1].time, now)}: used for fluid volumes only, not by the model.")
    rejected = tuple(sorted(mapping.rejected, key=lambda r: (r.reason, r.label, r.time or record.fetched_at)))
    return DataLists(used=used, rejected=rejected[:MAX_REJECTED_SHOWN], rejected_total=len(rejected),
                     reason_counts=mapping.reason_counts(), not_relevant=mapping.not_relevant,
                     window_start=record.window_start, notes=record.notes, complete=record.complete,
                     also=tuple(also))
