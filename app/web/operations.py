"""The deployment team's view of the background screening: per cycle, the patients screened, scored, abstained and
failed, FHIR requests, duration and lag, and any error (the EHR down, the backend token refused) in words."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.screening import history

from .guards import any_session, require_role, services

bp = Blueprint("operations", __name__, url_prefix="/operations")


@bp.get("/screening")
@any_session
@require_role("read_screening_cycles")
def screening():
    svc = services()
    cycles = history.cycle_summaries(svc.engine, limit=50)
    st = svc.settings
    return render_template("operations/screening.html", cycles=cycles, locations=st.screen_locations,
                           interval=st.screen_interval_minutes, now=history.wall_now())
