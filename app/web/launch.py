"""SMART launch endpoints: /launch (EHR launch with iss + launch, or standalone with iss) and /callback."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from app.audit import record
from app.ops import metrics

from .guards import LAUNCH_COOKIE, add_session_cookie, cookie_kwargs, services

bp = Blueprint("launch", __name__)


def _public_url() -> str:
    return services().settings.public_url or request.url_root


@bp.get("/launch")
def launch():
    authorize, browser_secret = services().launcher.begin(
        request.args.get("iss"), request.args.get("launch"), _public_url())
    response = redirect(authorize, code=302)
    response.set_cookie(LAUNCH_COOKIE, browser_secret, **cookie_kwargs(services().settings.pending_launch_minutes * 60))
    return response


@bp.get("/callback")
def callback():
    svc = services()

    def audit_launch(conn, s) -> None:  # in the session's own transaction: one commit for both
        record(conn, at=svc.clock(), user_ref=s.user_ref, role=s.role, patient_id=s.patient_id, action="launch",
               detail={"encounter": s.encounter_id})

    launched = svc.launcher.complete(
        state=request.args.get("state"), code=request.args.get("code"), error=request.args.get("error"),
        browser_secret=request.cookies.get(LAUNCH_COOKIE), public_url=_public_url(), on_session=audit_launch)
    s = launched.session
    metrics.launch("ok")
    response = redirect(url_for("patient.page", patient_id=s.patient_id), code=303)
    add_session_cookie(response, launched.session_id)
    kwargs = cookie_kwargs(None)  # deleted with the attributes it was set with (Partitioned included)
    del kwargs["max_age"]
    response.delete_cookie(LAUNCH_COOKIE, **kwargs)
    return response
