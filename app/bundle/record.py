"""One bundle order as recorded here: what was asked for, by whom, and where it stands with the EHR.

A frozen row of `orders.bundle_orders`, in its own module so that the errors that carry an order
(`errors.AlreadyOrdered`, `errors.OrderNotPlaced`) need not import the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SENDING, PLACED, FAILED = "sending", "placed", "failed"
STALE_SENDING = timedelta(minutes=2)  # a "sending" row older than this was interrupted: it may be retried


@dataclass(frozen=True)
class OrderRecord:
    id: int
    alert_id: int
    element: str
    resource_type: str
    identifier: str
    display: str
    volume_ml: int | None
    status: str
    fhir_id: str | None
    requested_at: datetime
    requested_by_name: str | None
    role: str
    submission_id: str
    placed_at: datetime | None
    error: str | None

    @property
    def reference(self) -> str | None:
        return f"{self.resource_type}/{self.fhir_id}" if self.fhir_id else None

    def retryable(self, now: datetime) -> bool:
        return self.status == FAILED or (self.status == SENDING and now - self.requested_at > STALE_SENDING)
