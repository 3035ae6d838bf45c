"""What can go wrong acting on an alert's lifecycle. `app.web.errors` turns each into a response."""

from __future__ import annotations

from .record import AlertRecord


class AlertError(Exception):
    """Base class of the alerts package's errors."""


class AlertNotFound(AlertError):
    """No such alert for this patient (a stale or forged URL)."""


class AlreadyDecided(AlertError):
    """The alert is no longer active: someone decided (or it lapsed) first. HTTP 409 showing who and when."""

    def __init__(self, alert: AlertRecord, attempted: str):
        super().__init__(f"alert {alert.id} is {alert.state}")
        self.alert, self.attempted = alert, attempted
