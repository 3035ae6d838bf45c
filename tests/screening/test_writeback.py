"""Write-back against the sandbox: a cycle writes a RiskAssessment per scoring (probability, basis Observations,
model version) and one Flag per raised alert, with the backend client's system/ create scopes; the sandbox's
patient list shows the sepsis column; without the scopes nothing is written and the screening goes on."""

from __future__ import annotations

import re
from datetime import timedelta

import requests
import sqlalchemy as sa

from app import writeback
from app.fhir import Transport
from app.fhir.paging import search
from app.screening import history
from app.screening.cycle import Screening, ScreeningSettings
from app.smart.backend import BackendTokens
from app.smart.backend_key import generate_key
from sandbox import register_backend_client
from tests.support.screening import LOCATIONS

SCOPE = "system/Patient.rs system/Encounter.rs system/Observation.rs system/RiskAssessment.crs system/Flag.crs"
SEPTIC = "demo-102421"


def writing(engine, ehr, http, clock, scope=SCOPE, client_id="writeback-test") -> Screening:
    key = generate_key()
    register_backend_client(ehr, client_id, jwks=key.jwks(), scope=scope)
    base = f"{ehr.base_url}/fhir"
    tokens = BackendTokens(base, client_id, key, http, scope=scope, iss_allowlist=(base,), require_https=False)
    settings = ScreeningSettings(iss=base, locations=LOCATIONS)

    def after(transport, scope_, window, assessed, before, now):
        writeback.write(transport, scope_, assessed, before, now,
                        writeback.basis_ids(window.observations, now, timedelta(hours=72)))

    return Screening(engine, settings, lambda: Transport(base, tokens, session=http, read_timeout=5, time_budget=10),
                     clock=clock, after_score=after), tokens


def test_each_scoring_is_a_risk_assessment_and_an_alert_a_flag_once(engine, fresh_ehr, http, clock):
    screening, tokens = writing(engine, fresh_ehr, http, clock)
    screening.run(clock())
    clock.now += timedelta(minutes=15)
    screening.run(clock())
    transport = Transport(f"{fresh_ehr.base_url}/fhir", tokens, session=http)
    assessments = search(transport, "RiskAssessment", {"patient": SEPTIC}).resources
    flags = search(transport, "Flag", {"patient": SEPTIC}).resources
    with engine.connect() as conn:
        scored = conn.execute(sa.select(history.risk_scores.c.probability).where(
            history.risk_scores.c.patient_id == SEPTIC).order_by(history.risk_scores.c.id)).scalars().all()
    assert len(assessments) == 2 and len(flags) == 1  # two cycles; the alert raised once
    newest = max(assessments, key=lambda r: r["occurrenceDateTime"])
    assert newest["prediction"][0]["probabilityDecimal"] == round(scored[-1], 4)
    assert newest["basis"] and all(b["reference"].startswith("Observation/") for b in newest["basis"])
    assert "Sepsis Sentinel model" in newest["method"]["text"]
    assert flags[0]["status"] == "active" and flags[0]["encounter"]["reference"] == f"Encounter/{SEPTIC}-icu"
    page = requests.get(f"{fresh_ehr.base_url}/", timeout=10).text
    row = re.search(rf'<tr id="patient-{SEPTIC}">(.*?)</tr>', page, re.S).group(1)
    assert 'data-flag="alert"' in row and f"{round(scored[-1], 4) * 100:.0f}%" in row


def test_without_the_create_scopes_nothing_is_written_and_the_screening_goes_on(engine, fresh_ehr, http, clock):
    screening, _ = writing(engine, fresh_ehr, http, clock, scope="system/Patient.rs system/Encounter.rs "
                           "system/Observation.rs", client_id="no-write")
    cycle = screening.run(clock())
    with engine.connect() as conn:
        outcomes = conn.execute(sa.select(history.risk_scores.c.outcome).where(
            history.risk_scores.c.cycle_id == cycle)).scalars().all()
    assert len(outcomes) == 10 and history.FAILED not in outcomes


def test_write_back_is_off_by_default_and_needs_the_create_scopes():
    import pytest

    from app.config import ConfigError, load_settings

    assert load_settings({}, environ={}).writeback is False
    with pytest.raises(ConfigError, match="system/RiskAssessment.c system/Flag.c"):
        load_settings({"writeback": True, "backend_client_id": "x", "backend_fhir_base": "https://e/fhir",
                       "iss_allowlist": ("https://e/fhir",), "backend_key": "k"}, environ={})
