"""The demo, end to end on a fast clock: the records replay hour by hour, the in-process screening scores everyone,
and a septic patient whom nobody opened gets an alert that the bedside page then shows with the risk over time."""

from __future__ import annotations

import html
import re
import time

import requests
import sqlalchemy as sa

from app import audit
from app.alerts import store
from app.alerts.workflow import Scope
from app.screening import history
from sandbox.stack import start_stack


def launched_page(stack, user: str, patient: str) -> str:
    chart = requests.get(f"{stack.ehr_url}/ehr/chart", params={"user": user, "patient": patient}, timeout=30)
    url = html.unescape(re.search(r'<iframe[^>]*id="app"[^>]*src="([^"]+)"', chart.text).group(1))
    page = requests.Session().get(url, timeout=30)
    assert page.status_code == 200 and 'id="nursing"' in page.text
    return page.text


def test_within_minutes_a_septic_patient_nobody_opened_is_alerted_and_the_page_shows_it(tmp_path):
    # As `sentinel-sandbox demo` starts it: the app's backend client (a key of its own, registered by JWKS URL) screens
    # in-process; the records replay at one demo hour per real second.
    stack = start_stack(app_overrides={"database_url": f"sqlite:///{tmp_path / 'demo.db'}"},
                        sandbox_settings={"LOAD_SAMPLE_PATIENTS": False}, demo_speed=60, screen=True)
    try:
        services = stack.app.extensions["sentinel"]
        replay = stack.ehr.extensions["sandbox"].replay
        engine = services.engine
        def deteriorated() -> str | None:
            """A patient the screening alerted on after scoring them below the threshold earlier on."""
            for entry in audit.entries(engine, action="raise_alert"):
                patient = entry["patient_id"]
                alert = store.newest(engine, Scope(iss=stack.fhir_base, patient_id=patient,
                                                   encounter_id=f"{patient}-icu"))
                with engine.connect() as conn:
                    before = list(conn.execute(sa.select(history.risk_scores.c.level).where(
                        history.risk_scores.c.patient_id == patient,
                        history.risk_scores.c.at < alert.raised_at)).scalars())
                if before and "alert" not in before:
                    return patient
            return None

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not deteriorated():
            time.sleep(0.25)  # a live stack on a demo clock: one demo hour passes each real second
        patient = deteriorated()
        assert patient, "no patient deteriorated into an alert within a minute of the demo's start"
        assert replay.released > 0 and services.backend.requests_made >= 1
        page = launched_page(stack, "provider", patient)
        assert 'id="active-alert"' in page
        trend = page[page.index('id="risk-trend"'):]
        assert "from the background screening" in trend and "<polyline" in trend
    finally:
        stack.shutdown()


def test_the_demo_clock_runs_fast_through_the_replayed_hours_then_at_real_speed():
    from sandbox.stack import DemoClock

    real = [1000.0]
    clock = DemoClock(60, real=lambda: real[0], fast_hours=8)  # one demo hour per real second
    real[0] += 4
    assert clock.epoch() - clock.start == 4 * 3600
    real[0] += 4 + 60
    assert clock.epoch() - clock.start == 8 * 3600 + 60
