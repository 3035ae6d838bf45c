"""What can go wrong placing a bundle order. `app.web.errors` turns each into a response."""

from __future__ import annotations

from app.alerts.record import AlertRecord

from .record import OrderRecord


class BundleError(Exception):
    """Base class of the bundle package's errors."""


class NotConfirmed(BundleError):
    """Bundle orders need a confirmed alert (time zero)."""

    def __init__(self, alert: AlertRecord):
        super().__init__(f"alert {alert.id} is {alert.state}")
        self.alert = alert


class AlreadyOrdered(BundleError):
    """This bundle element's order was already placed (or is being placed) by someone. HTTP 409."""

    def __init__(self, order: OrderRecord):
        super().__init__(f"order {order.id} is {order.status}")
        self.order = order


class SubmissionTaken(BundleError):
    """The form's one-time submission id was already used for another order (a reused or forged form)."""


class OrderNotPlaced(BundleError):
    """The EHR did not accept the order. Recorded as failed; the same order may be retried safely."""

    def __init__(self, order: OrderRecord, code: str, status: int = 502):
        super().__init__(f"order {order.id} failed: {code}")
        self.order, self.code, self.status = order, code, status
