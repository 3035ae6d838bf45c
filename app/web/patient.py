"""The bedside page for the launched patient."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from app.audit import record
from app.bedside import take_snapshot

from .fhir_access import transport_for
from .guards import launched, services

bp = Blueprint("patient", __name__)


@bp.get("/patients/<patient_id>")
@launched
def page(patient_id: str):
    svc, s = services(), g.session
    st = svc.settings
    snapshot = take_snapshot(transport_for(s), patient_id, svc.clock(), lookback_hours=st.observation_lookback_hours,
                             page_size=st.page_size, max_pages=st.max_pages)
    record(svc.engine, at=svc.clock(), user_ref=s.user_ref, role=s.role, patient_id=patient_id, action="view_patient",
           detail={"round_trips": snapshot.record.round_trips})
    return render_template("patient/page.html", view=snapshot)
