"""What can go wrong acting on an alert or placing a bundle order. `app.web.errors` turns each into a response."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .orders import OrderRecord
    from .store import AlertRecord


class AlertError(Exception):
    """Base class of the alerts package's errors."""


class AlertNotFound(AlertError):
    """No such alert for this patient (a stale or forged URL)."""


class AlreadyDecided(AlertError):
    """The alert is no longer active: someone decided (or it lapsed) first. HTTP 409 showing who and when."""

    def __init__(self, alert: AlertRecord, attempted: str):
        super().__init__(f"alert {alert.id} is {alert.state}")
        self.alert, self.attempted = alert, attempted


class NotConfirmed(AlertError):
    """Bundle orders need a confirmed alert (time zero)."""

    def __init__(self, alert: AlertRecord):
        super().__init__(f"alert {alert.id} is {alert.state}")
        self.alert = alert


class AlreadyOrdered(AlertError):
    """This bundle element's order was already placed (or is being placed) by someone. HTTP 409."""

    def __init__(self, order: OrderRecord):
        super().__init__(f"order {order.id} is {order.status}")
        self.order = order


class SubmissionTaken(AlertError):
    """The form's one-time submission id was already used for another order (a reused or forged form)."""


class OrderNotPlaced(AlertError):
    """The EHR did not accept the order. Recorded as failed; the same order may be retried safely."""

    def __init__(self, order: OrderRecord, code: str, status: int = 502):
        super().__init__(f"order {order.id} failed: {code}")
        self.order, self.code, self.status = order, code, status
