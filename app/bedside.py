"""What the bedside page shows for one patient, assembled from FHIR, the model and the alert workflow.

No Flask here: the web layer hands in a FHIR transport and renders what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.fhir import Demographics, PatientRecord, Transport, fetch_patient_record


@dataclass(frozen=True)
class Banner:
    name: str | None
    age_years: int | None
    sex: str | None  # FHIR administrative gender

    @property
    def age_text(self) -> str:
        return f"{self.age_years} y" if self.age_years is not None else "age unknown"

    @property
    def sex_text(self) -> str:
        return {"male": "male", "female": "female", "other": "other"}.get(self.sex or "", "sex unknown")


def banner(patient: Demographics, now: datetime) -> Banner:
    age = patient.age_years(now)
    return Banner(name=patient.name, age_years=int(age) if age is not None and age >= 0 else None, sex=patient.sex)


@dataclass(frozen=True)
class Snapshot:
    record: PatientRecord
    banner: Banner


def take_snapshot(transport: Transport, patient_id: str, now: datetime, *, lookback_hours: int, page_size: int,
                  max_pages: int) -> Snapshot:
    """Fetch the patient's recent data once for a page."""
    record = fetch_patient_record(transport, patient_id, now=now, lookback=timedelta(hours=lookback_hours),
                                  page_size=page_size, max_pages=max_pages)
    return Snapshot(record=record, banner=banner(record.patient, now))
