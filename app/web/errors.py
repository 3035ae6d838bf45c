"""The one place that turns exceptions into pages: each says what happened and what to do, with a real status."""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

from app import roles
from app.alerts.errors import AlertNotFound, AlreadyDecided
from app.bundle.errors import AlreadyOrdered, NotConfirmed, OrderNotPlaced
from app.fhir import FhirError, FhirUnauthorized
from app.ops import metrics
from app.smart import LaunchError

from .guards import CsrfRejected, NotLaunched, RoleForbidden, WrongPatient, is_htmx

log = logging.getLogger(__name__)



def one_line(value: object) -> str:
    """A value as it may appear in a log line: control characters escaped (\\n, \\x1b, ...), so text that came
    from outside (an EHR's answer, a query parameter) can never start a forged line of its own."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], str(value))


def _page(status: int, title: str, message: str, relaunch: bool = True):
    template = "errors/_message.html" if is_htmx() else "errors/page.html"
    return render_template(template, status=status, title=title, message=message, relaunch=relaunch), status


def init_app(app: Flask) -> None:
    @app.errorhandler(LaunchError)
    def launch_error(exc: LaunchError):
        log.warning("launch error: code=%s detail=%s", exc.code, one_line(exc.detail))
        metrics.launch(exc.code)
        return _page(exc.status, getattr(exc, "title", "Sepsis Sentinel could not open"), exc.message,
                     relaunch=getattr(exc, "relaunch", True))

    @app.errorhandler(FhirError)
    def fhir_error(exc: FhirError):
        log.warning("FHIR error: code=%s detail=%s", exc.code, one_line(exc.detail))
        if isinstance(exc, FhirUnauthorized):
            return _page(401, "Please open Sepsis Sentinel again",
                         "The EHR no longer accepts this session's access, and it could not be renewed. Open "
                         "Sepsis Sentinel again from the patient's chart.")
        return _page(exc.status, "Patient data could not be read", exc.message, relaunch=False)

    @app.errorhandler(NotLaunched)
    def not_launched(_exc):
        return _page(401, "Please open Sepsis Sentinel from the chart",
                     "Your session has ended or was never started in this browser. Open Sepsis Sentinel again "
                     "from the patient's chart in the EHR.")

    @app.errorhandler(WrongPatient)
    def wrong_patient(_exc):
        log.warning("patient binding refused: path=%s", request.endpoint)
        return _page(403, "Not the patient you opened",
                     "This page is for a patient other than the one you opened Sepsis Sentinel for. "
                     "Open Sepsis Sentinel from that patient's chart instead.")

    @app.errorhandler(RoleForbidden)
    def role_forbidden(exc: RoleForbidden):
        log.warning("role refused: action=%s role=%s", exc.action, exc.role)
        from app.audit import record

        svc = app.extensions["sentinel"]
        session = g.get("session")
        record(svc.engine, at=svc.clock(), iss=session.iss if session else None,
               user_ref=session.user_ref if session else None, role=exc.role,
               patient_id=session.patient_id if session else None, action=exc.action, outcome="forbidden")
        return _page(403, "Not allowed for your role", f"{roles.why_not(exc.role, exc.action)} Nothing was changed.",
                     relaunch=False)

    @app.errorhandler(CsrfRejected)
    def csrf_rejected(_exc):
        log.warning("csrf refused: endpoint=%s", request.endpoint)
        return _page(403, "Request refused",
                     "This form was not sent from a current Sepsis Sentinel page, so nothing was saved. "
                     "Reload the page and try again.", relaunch=False)

    @app.errorhandler(AlreadyDecided)
    def already_decided(exc: AlreadyDecided):
        from .alerts import conflict_response

        return conflict_response(exc)

    @app.errorhandler(AlreadyOrdered)
    def already_ordered(exc: AlreadyOrdered):
        from .bundle import conflict_response

        return conflict_response(exc)

    def audit_refusal(action: str, outcome: str) -> None:
        from app.audit import record

        svc, session = app.extensions["sentinel"], g.get("session")
        record(svc.engine, at=svc.clock(), iss=session.iss if session else None,
               user_ref=session.user_ref if session else None,
               role=session.role if session else None, patient_id=session.patient_id if session else None,
               action=action, outcome=outcome,
               target=f"alert/{request.view_args['alert_id']}" if "alert_id" in (request.view_args or {}) else None)

    @app.errorhandler(AlertNotFound)
    def alert_not_found(_exc):
        audit_refusal((request.endpoint or "alert").replace(".", "_"), "not_found")
        return _page(404, "Alert not found",
                     "This alert does not exist or is not for the patient you opened. Nothing was changed. Reload "
                     "the page to see the patient's current alert.", relaunch=False)

    @app.errorhandler(NotConfirmed)
    def not_confirmed(_exc):
        audit_refusal("place_order", "not_confirmed")
        return _page(409, "Not saved: the alert is not confirmed",
                     "Bundle orders can be placed only after a provider confirms the alert. Nothing was ordered.",
                     relaunch=False)

    @app.errorhandler(OrderNotPlaced)
    def order_not_placed(exc: OrderNotPlaced):
        from .bundle import audit_not_placed

        log.warning("order not placed: order=%s code=%s", exc.order.id, exc.code)
        audit_not_placed(exc)
        return _page(exc.status, "Not saved: the order was not placed",
                     "The EHR did not accept the order or did not answer, so nothing was ordered. Try again: the "
                     "same order cannot be placed twice.", relaunch=False)

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    @app.errorhandler(sa.exc.TimeoutError)
    def database_unavailable(exc: Exception):
        """503, not 500: the database is restarting or unreachable (or SQLite is busy). The app recovers by itself:
        the pool pings each connection before use and reconnects (app.db.make_engine)."""
        log.error("database unavailable at %s: %s", request.endpoint,
                  type(getattr(exc, "orig", None) or exc).__name__)
        if request.method == "POST":
            return _page(503, "Sepsis Sentinel's database did not answer",
                         "What you sent may not have been saved. What you entered is still on the page: send it "
                         "again in a minute. If this keeps happening, tell the deployment team.", relaunch=False)
        return _page(503, "Sepsis Sentinel's database did not answer",
                     "This could not be shown. Please try again in a minute; if this keeps happening, tell the "
                     "deployment team.", relaunch=False)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _page(exc.code or 500, exc.name, exc.description or "", relaunch=False)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error at %s", request.endpoint)
        return _page(500, "Something went wrong",
                     "Sepsis Sentinel hit an unexpected error. Nothing you submitted was lost if you saw it "
                     "confirmed; please try again, and tell the deployment team if it keeps happening.",
                     relaunch=False)
