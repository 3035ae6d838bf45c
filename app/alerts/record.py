"""One alert as it stands: what it was raised on, who decided what and when. A frozen row of `store.alerts`.

Its own module so that the errors that carry an alert (`errors.AlreadyDecided`) need not import the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .workflow import CONFIRMED, PAUSED


@dataclass(frozen=True)
class AlertRecord:
    id: int
    iss: str
    scope_key: str
    seq: int
    patient_id: str
    encounter_id: str | None
    care_unit: str
    raised_at: datetime
    state: str
    state_at: datetime
    probability: float
    threshold: float
    threshold_version: int
    model_version: str
    signs: list
    measurements: list
    latest: dict | None
    first_action_at: datetime | None
    decision: str | None
    decided_at: datetime | None
    decided_by: str | None
    decided_by_name: str | None
    decided_role: str | None
    dismiss_reason: str | None
    dismiss_note: str | None
    paused_until: datetime | None
    pause_count: int
    last_action: str | None
    last_action_at: datetime | None
    last_action_by: str | None
    last_action_by_name: str | None
    withdraw_reason: str | None = None
    withdraw_note: str | None = None

    @property
    def time_zero(self) -> datetime | None:
        """The bundle's time zero: when a provider confirmed the alert."""
        return self.decided_at if self.decision == CONFIRMED else None

    def paused_now(self, now: datetime) -> bool:
        return self.state == PAUSED and self.paused_until is not None and now < self.paused_until
