"""SMART launch endpoints: /launch (EHR launch with iss + launch, or standalone with iss), /callback, and sign out.

One browser, one clinician at a time: a launch by another user ends the sessions the previous user left open
in this browser (on the server, audited), and "Sign out" ends this browser's sessions.
"""

from __future__ import annotations

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for

from app.alerts import store as alerts
from app.audit import record
from app.cds.cards import alert_of
from app.ops import metrics
from app.smart.launch import unit_of

from .guards import (
    LAUNCH_COOKIE,
    SESSION_COOKIE,
    CsrfRejected,
    NotLaunched,
    add_session_cookie,
    cookie_kwargs,
    cookie_session_ids,
    csrf_token_from_request,
    delete_cookie,
    services,
)

bp = Blueprint("launch", __name__)


def _public_url() -> str:
    return services().settings.public_url or request.url_root


@bp.get("/launch")
def launch():
    authorize, browser_secret = services().launcher.begin(
        request.args.get("iss"), request.args.get("launch"), _public_url(), client=request.remote_addr)
    response = redirect(authorize, code=302)
    response.set_cookie(LAUNCH_COOKIE, browser_secret, **cookie_kwargs(services().settings.pending_launch_minutes * 60))
    return response


def _audit_ended(reason: str):
    """Writes the audit row of one ended session, in the transaction that ends it."""
    svc = services()

    def audit(conn, s) -> None:
        record(conn, at=svc.clock(), iss=s.iss, user_ref=s.user_ref, role=s.role, patient_id=s.patient_id,
               action="session_ended", detail={"reason": reason})

    return audit


@bp.get("/callback")
def callback():
    svc = services()

    def audit_launch(conn, s) -> None:  # in the session's own transaction: one commit for both
        record(conn, at=svc.clock(), iss=s.iss, user_ref=s.user_ref, role=s.role, patient_id=s.patient_id or None,
               action="launch", detail={"encounter": s.encounter_id} if s.patient_id else {"user_level": True})

    launched = svc.launcher.complete(
        state=request.args.get("state"), code=request.args.get("code"), error=request.args.get("error"),
        browser_secret=request.cookies.get(LAUNCH_COOKIE), public_url=_public_url(), on_session=audit_launch)
    s = launched.session
    # A shared workstation: whatever another user left open in this browser ends now, on the server.
    previous = cookie_session_ids()
    svc.store.end_sessions(previous, svc.clock(), keep_user=s.user, also=_audit_ended("another_user_launched"))
    metrics.launch("ok")
    response = redirect(_landing(launched), code=303)
    add_session_cookie(response, launched.session_id, svc.store.ids_of_user(previous, svc.clock(), s.user))
    delete_cookie(response, LAUNCH_COOKIE)
    return response


@bp.post("/signout")
def sign_out():
    """End every session this browser holds, on the server (a copied cookie is worthless afterwards), audited.
    The form may come from any of the user's open charts, so the CSRF token of any of them is accepted."""
    svc = services()
    ids = cookie_session_ids()
    live = svc.store.live(ids, svc.clock())
    if not live:
        raise NotLaunched()
    token = csrf_token_from_request()
    if not any(s.csrf_ok(token) for s in live):
        g.session = live[0]  # the refusal is audited and shown as this user's
        raise CsrfRejected()
    svc.store.end_sessions(ids, svc.clock(), also=_audit_ended("signed_out"))
    g.session = None  # the page below is shown to nobody in particular
    response = make_response(render_template("launch/signed_out.html"), 200)
    delete_cookie(response, SESSION_COOKIE)
    return response


def _landing(launched) -> str:
    """The bedside page; launched from a CDS card whose appContext names this patient's alert, the page opens at
    that alert (an alert of another patient, or a malformed appContext, is ignored and the page opens as usual)."""
    s = launched.session
    if not s.patient_id:  # a user-level launch into a unit: the unit board (board.py refuses unscreened units)
        return url_for("board.page", unit=unit_of(tuple(s.fhir_context or ())))
    page = url_for("patient.page", patient_id=s.patient_id)
    alert_id = alert_of(s.app_context)
    alert = alerts.get(services().engine, alert_id) if alert_id else None
    if alert is None or alert.patient_id != s.patient_id or alert.iss != s.iss:
        return page
    record(services().engine, at=services().clock(), iss=s.iss, user_ref=s.user_ref, role=s.role,
           patient_id=s.patient_id, action="open_from_cds_card", target=f"alert/{alert.id}")
    return url_for("patient.page", patient_id=s.patient_id, alert=alert.id, _anchor="assessment")
