"""Who is looking at which chart: the launch as one page request needs it (FHIR server, patient, encounter, user).

Named `PageContext`, not `Context`: `app.feedback` has a `Context` too (the ids a feedback message is about), and
the two meet in the web layer. This one is what every bedside use case takes first.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.alerts.workflow import Actor, Scope


@dataclass(frozen=True)
class PageContext:
    """The launch as the page needs it: FHIR server, patient, encounter and user (from app.smart's Session)."""

    iss: str
    patient_id: str
    encounter_id: str | None
    user_ref: str
    user_name: str | None
    role: str

    @classmethod
    def of(cls, session) -> PageContext:
        return cls(session.iss, session.patient_id, session.encounter_id, session.user_ref, session.user_name,
                   session.role)

    @property
    def scope(self) -> Scope:
        return Scope(iss=self.iss, patient_id=self.patient_id, encounter_id=self.encounter_id)

    @property
    def actor(self) -> Actor:
        return Actor(self.user_ref, self.user_name, self.role)
