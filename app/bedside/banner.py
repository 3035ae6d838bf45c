"""The patient banner: name, age and sex in the words the page shows (FHIR administrative gender)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.fhir import Demographics


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
