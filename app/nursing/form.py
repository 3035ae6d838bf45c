"""The nurse screening form: suspected infection source, new confusion, when the provider was notified.

Table `nurse_screenings` (migration 0003; iss since 0007): id, iss (the FHIR server), scope_key, patient_id,
encounter_id, alert_id (the alert shown at the time, if any), submitted_at, user_ref, user_name, role, infection_source (a key of INFECTION_SOURCES),
infection_other, new_confusion (yes | no), provider_notified_at, submission_id (UNIQUE: a resubmitted form is
stored once). Nurses and providers may submit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.alerts.workflow import Actor, Scope, parse_local_time
from app.db import TS, metadata
from app.roles import allowed

from .errors import SubmissionTaken

SCREENERS = allowed("submit_the_nurse_screening")
INFECTION_SOURCES: dict[str, str] = {
    "none": "No infection suspected",
    "lung": "Lungs (pneumonia)",
    "urine": "Urinary tract",
    "abdomen": "Abdomen",
    "skin": "Skin or soft tissue, wound",
    "line": "Line or device",
    "cns": "Brain or meninges",
    "unknown": "Infection suspected, source unknown",
    "other": "Other (describe)",
}
CONFUSION = {"yes": "Yes", "no": "No"}
TEXT_MAX = 500
NOTIFIED_LOOKBACK = timedelta(hours=24)

nurse_screenings = sa.Table(
    "nurse_screenings", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("scope_key", sa.String(200), nullable=False),
    sa.Column("patient_id", sa.String(128), nullable=False),
    sa.Column("encounter_id", sa.String(128)),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id")),
    sa.Column("submitted_at", TS, nullable=False),
    sa.Column("user_ref", sa.Text, nullable=False),
    sa.Column("user_name", sa.Text),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("infection_source", sa.String(32), nullable=False),
    sa.Column("infection_other", sa.Text),
    sa.Column("new_confusion", sa.String(8), nullable=False),
    sa.Column("provider_notified_at", TS),
    sa.Column("submission_id", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_nurse_screenings_iss_scope_key", "iss", "scope_key"),
)


def may_screen(role: str) -> bool:
    return role in SCREENERS


@dataclass(frozen=True)
class ScreeningInput:
    infection_source: str
    infection_other: str | None
    new_confusion: str
    provider_notified_at: datetime | None


@dataclass(frozen=True)
class Screening:
    id: int
    submitted_at: datetime
    user_name: str | None
    role: str
    infection_source: str
    infection_other: str | None
    new_confusion: str
    provider_notified_at: datetime | None

    @property
    def source_text(self) -> str:
        if self.infection_source == "other" and self.infection_other:
            return f"Other: {self.infection_other}"
        return INFECTION_SOURCES.get(self.infection_source, self.infection_source)


def validate(form: Mapping[str, str], now: datetime) -> tuple[ScreeningInput | None, dict[str, str]]:
    """The form's values, or messages per field (the form is shown again with its input kept, HTTP 422)."""
    errors: dict[str, str] = {}
    source = (form.get("infection_source") or "").strip()
    other = (form.get("infection_other") or "").strip()
    confusion = (form.get("new_confusion") or "").strip()
    notified_text = (form.get("provider_notified_at") or "").strip()
    if source not in INFECTION_SOURCES:
        errors["infection_source"] = "Choose the suspected source of infection (or 'No infection suspected')."
    elif source == "other" and not other:
        errors["infection_other"] = "Describe the suspected source."
    if len(other) > TEXT_MAX:
        errors["infection_other"] = f"Keep this under {TEXT_MAX} characters."
    if confusion not in CONFUSION:
        errors["new_confusion"] = "Say whether there is new confusion."
    notified = None
    if notified_text:
        notified = parse_local_time(notified_text, now)
        if notified is None:
            errors["provider_notified_at"] = "Give the date and time the provider was notified."
        elif notified > now + timedelta(minutes=5):
            errors["provider_notified_at"] = "The time the provider was notified cannot be in the future."
        elif notified < now - NOTIFIED_LOOKBACK:
            errors["provider_notified_at"] = "That is more than 24 hours ago; check the date."
    if errors:
        return None, errors
    return ScreeningInput(source, other or None, confusion, notified), {}


def _screening(row) -> Screening:
    return Screening(**{k: row[k] for k in Screening.__dataclass_fields__})


def save(engine: sa.Engine, scope: Scope, data: ScreeningInput, actor: Actor, submission_id: str, now: datetime,
         alert_id: int | None) -> tuple[Screening, bool]:
    """Store a screening (committed before the caller answers); a resubmission returns the stored one, True.
    SubmissionTaken when the form's id was already used for another patient or EHR (a reused or forged form)."""
    t = nurse_screenings
    try:
        with engine.begin() as conn:
            new_id = conn.execute(t.insert().values(
                iss=scope.iss, scope_key=scope.key, patient_id=scope.patient_id, encounter_id=scope.encounter_id,
                alert_id=alert_id, submitted_at=now, user_ref=actor.user_ref, user_name=actor.user_name,
                role=actor.role, infection_source=data.infection_source, infection_other=data.infection_other,
                new_confusion=data.new_confusion, provider_notified_at=data.provider_notified_at,
                submission_id=submission_id)).inserted_primary_key[0]
    except sa.exc.IntegrityError as exc:
        with engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.submission_id == submission_id)).mappings().first()
        if row is None:  # not the submission id: some other constraint
            raise
        if row["scope_key"] != scope.key or row["iss"] != scope.iss:
            raise SubmissionTaken("submission id already used for another patient's screening") from exc
        return _screening(row), True
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == new_id)).mappings().one()
    return _screening(row), False


def latest(engine: sa.Engine, scope: Scope) -> Screening | None:
    t = nurse_screenings
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.iss == scope.iss, t.c.scope_key == scope.key)
                           .order_by(t.c.id.desc()).limit(1)
                           ).mappings().first()
    return _screening(row) if row else None
