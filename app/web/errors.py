"""The one place that turns the typed errors into pages: each says what happened and what to do, with a real status.

One handler renders them all: `describe` says, per error type, what its page shows, and logs or audits what the
operators need. A conflict page that shows the current state of what was being changed belongs to the blueprint
whose routes raise it (web.alerts, web.bundle), registered next to those routes; `render` draws the message page
for them too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import singledispatch

import sqlalchemy as sa
from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from app import roles
from app.alerts.errors import AlertNotFound
from app.fhir import FhirError, FhirUnauthorized
from app.ops import metrics
from app.smart import LaunchError

from .guards import CsrfRejected, NotLaunched, RoleForbidden, WrongPatient, is_htmx
from .scope import alert_target, audit_refusal

log = logging.getLogger(__name__)


def one_line(value: object) -> str:
    """A value as it may appear in a log line: control characters escaped (\\n, \\x1b, ...), so text that came
    from outside (an EHR's answer, a query parameter) can never start a forged line of its own."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], str(value))


@dataclass(frozen=True)
class Page:
    """What an error page shows: its status, a title, the sentence that says what to do, and whether to offer
    opening the app again from the chart."""

    status: int
    title: str
    message: str
    relaunch: bool = False


def render(page: Page):
    """The message as a fragment for htmx (swapped into the page's banner) or as a whole page."""
    template = "errors/_message.html" if is_htmx() else "errors/page.html"
    return render_template(template, status=page.status, title=page.title, message=page.message,
                           relaunch=page.relaunch), page.status


@singledispatch
def describe(exc: Exception) -> Page:
    """Anything no other entry names: 500, with the traceback in the log and none on the page."""
    log.exception("unhandled error at %s", request.endpoint)
    return Page(500, "Something went wrong",
                "Sepsis Sentinel hit an unexpected error. Nothing you submitted was lost if you saw it "
                "confirmed; please try again, and tell the deployment team if it keeps happening.")


@describe.register
def _http(exc: HTTPException) -> Page:
    return Page(exc.code or 500, exc.name, exc.description or "")


@describe.register
def _launch(exc: LaunchError) -> Page:
    log.warning("launch error: code=%s detail=%s", exc.code, one_line(exc.detail))
    metrics.launch(exc.code)
    return Page(exc.status, getattr(exc, "title", "Sepsis Sentinel could not open"), exc.message,
                relaunch=getattr(exc, "relaunch", True))


@describe.register
def _fhir(exc: FhirError) -> Page:
    log.warning("FHIR error: code=%s detail=%s", exc.code, one_line(exc.detail))
    if isinstance(exc, FhirUnauthorized):
        return Page(401, "Please open Sepsis Sentinel again",
                    "The EHR no longer accepts this session's access, and it could not be renewed. Open "
                    "Sepsis Sentinel again from the patient's chart.", relaunch=True)
    return Page(exc.status, "Patient data could not be read", exc.message)


@describe.register
def _role_forbidden(exc: RoleForbidden) -> Page:
    log.warning("role refused: action=%s role=%s", exc.action, exc.role)
    audit_refusal(exc.action, "forbidden", role=exc.role)
    return Page(403, "Not allowed for your role", f"{roles.why_not(exc.role, exc.action)} Nothing was changed.")


# The guards' refusals: a page that never changes, and the log line (with the endpoint) saying which check refused.
REFUSALS: dict[type[Exception], tuple[str | None, Page]] = {
    NotLaunched: (None, Page(401, "Please open Sepsis Sentinel from the chart",
                             "Your session has ended or was never started in this browser. Open Sepsis Sentinel "
                             "again from the patient's chart in the EHR.", relaunch=True)),
    WrongPatient: ("patient binding refused: path=%s", Page(
        403, "Not the patient you opened", "This page is for a patient other than the one you opened Sepsis "
        "Sentinel for. Open Sepsis Sentinel from that patient's chart instead.", relaunch=True)),
    CsrfRejected: ("csrf refused: endpoint=%s", Page(
        403, "Request refused", "This form was not sent from a current Sepsis Sentinel page, so nothing was saved. "
        "Reload the page and try again.")),
}


def _refused(exc: Exception) -> Page:
    line, page = next(entry for error, entry in REFUSALS.items() if isinstance(exc, error))
    if line:
        log.warning(line, request.endpoint)
    return page


for _refusal in REFUSALS:
    describe.register(_refusal, _refused)


@describe.register
def _alert_not_found(exc: AlertNotFound) -> Page:
    audit_refusal((request.endpoint or "alert").replace(".", "_"), "not_found", target=alert_target())
    return Page(404, "Alert not found",
                "This alert does not exist or is not for the patient you opened. Nothing was changed. Reload "
                "the page to see the patient's current alert.")


@describe.register(sa.exc.OperationalError)
@describe.register(sa.exc.InterfaceError)
@describe.register(sa.exc.TimeoutError)
def _database_unavailable(exc: Exception) -> Page:
    """503, not 500: the database is restarting or unreachable (or SQLite is busy). The app recovers by itself:
    the pool pings each connection before use and reconnects (app.db.make_engine)."""
    log.error("database unavailable at %s: %s", request.endpoint, type(getattr(exc, "orig", None) or exc).__name__)
    if request.method == "POST":
        return Page(503, "Sepsis Sentinel's database did not answer",
                    "What you sent may not have been saved. What you entered is still on the page: send it "
                    "again in a minute. If this keeps happening, tell the deployment team.")
    return Page(503, "Sepsis Sentinel's database did not answer",
                "This could not be shown. Please try again in a minute; if this keeps happening, tell the "
                "deployment team.")


def handle(exc: Exception):
    return render(describe(exc))


def init_app(app: Flask) -> None:
    """One handler for every error type `describe` knows (Flask, like `describe`, picks the most specific)."""
    for error in describe.registry:
        app.register_error_handler(Exception if error is object else error, handle)
