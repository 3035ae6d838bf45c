"""The unit board (`/board?unit=Location/...`): every screened patient of a unit on one page, refreshed by htmx.

Opened from a live session of the user (like the adoption page: a page that is not about one patient); the
unit must be one the screening screens. Each row opens the patient's bedside page only where the browser already
holds a session bound to that patient and EHR (the rule every bedside page keeps); otherwise the row says to open
the patient's chart in the EHR, which launches the app for that patient. Viewing is audited with the unit and
the number of rows, as a bedside view is.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, g, render_template, request

from app import board
from app.audit import record
from app.smart.launch import unit_of

from .guards import any_session, cookie_session_ids, services

bp = Blueprint("board", __name__, url_prefix="/board")
REFRESH_SECONDS = 30


def _board() -> board.Board:
    svc = services()
    s = svc.settings
    # The unit asked for, else the one the launch named (a user-level launch's fhirContext), else the first screened
    unit = (request.args.get("unit") or unit_of(tuple(g.session.fhir_context or ()))
            or (s.screen_locations[0] if s.screen_locations else ""))
    if unit not in s.screen_locations:
        abort(404, "This unit is not screened by Sepsis Sentinel.")
    return board.build(svc.engine, g.session.iss, unit, svc.clinical_now(), model=svc.model, policy=svc.policy,
                       lookback=timedelta(hours=s.observation_lookback_hours))


def _openable(view: board.Board) -> set[str]:
    """The patients whose bedside page this browser may open now: those it holds a live session for (same EHR)."""
    svc = services()
    live = svc.store.live(cookie_session_ids(), svc.clock())
    return {s.patient_id for s in live if s.iss == g.session.iss}


def _render(template: str):
    view = _board()
    svc, s = services(), g.session
    record(svc.engine, at=svc.clock(), iss=s.iss, user_ref=s.user_ref, role=s.role, patient_id=None,
           action="view_board",
           detail={"unit": view.unit, "rows": len(view.rows)})
    return render_template(template, board=view, openable=_openable(view), units=svc.settings.screen_locations,
                           refresh=REFRESH_SECONDS)


@bp.get("")
@any_session
def page():
    return _render("board/page.html")


@bp.get("/rows")
@any_session
def rows():
    return _render("board/_rows.html")
