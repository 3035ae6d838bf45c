"""What the bedside page shows for one patient, assembled from FHIR (and, later, the model and alert workflow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Banner:
    name: str | None
    birth_date: date | None
    sex: str | None  # FHIR administrative gender
    age_years: int | None

    @property
    def age_text(self) -> str:
        return f"{self.age_years} y" if self.age_years is not None else "age unknown"

    @property
    def sex_text(self) -> str:
        return {"male": "male", "female": "female", "other": "other"}.get(self.sex or "", "sex unknown")


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def banner_from_patient(patient: dict, now: datetime) -> Banner:
    from app.smart.context import human_name

    birth = None
    raw = patient.get("birthDate")
    if isinstance(raw, str):
        try:
            birth = date.fromisoformat(raw[:10]) if len(raw) >= 10 else None
        except ValueError:
            birth = None
    age = age_on(birth, now.date()) if birth and birth <= now.date() else None
    sex = patient.get("gender") if isinstance(patient.get("gender"), str) else None
    return Banner(name=human_name(patient), birth_date=birth, sex=sex, age_years=age)
