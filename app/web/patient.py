"""The bedside page for the launched patient."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from flask import Blueprint, g, render_template

from app.audit import record
from app.bedside import Banner, banner_from_patient
from app.smart.tokens import SessionTokens

from .guards import launched, services

bp = Blueprint("patient", __name__)


@dataclass(frozen=True)
class PageView:
    banner: Banner


@bp.get("/patients/<patient_id>")
@launched
def page(patient_id: str):
    svc, s = services(), g.session
    tokens = SessionTokens(svc.store, s, svc.registration, svc.http,
                           (svc.settings.fhir_connect_timeout, svc.settings.fhir_read_timeout), svc.clock)
    resp = svc.http.get(f"{s.iss}/Patient/{patient_id}", timeout=(svc.settings.fhir_connect_timeout,
                                                                   svc.settings.fhir_read_timeout),
                        headers={"Authorization": f"Bearer {tokens.access_token()}", "Accept": "application/fhir+json"})
    patient = resp.json() if resp.status_code == 200 else {}
    record(svc.engine, at=svc.clock(), user_ref=s.user_ref, role=s.role, patient_id=patient_id, action="view_patient")
    return render_template("patient/page.html", view=PageView(banner=banner_from_patient(patient, svc.clock())))


_ = requests  # the FHIR transport replaces the direct call above once app.fhir lands
