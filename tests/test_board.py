"""The unit board's rows from what the screening stored: who is on the unit, each status, the order of what needs
action first, trend and bundle clocks. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

from app import board
from app.alerts import store as alerts
from app.alerts.workflow import Actor, Decision, Scope
from app.assessment import assess_and_sync
from app.nursing import form as nurse
from app.screening import history, window
from tests.support.builders import NOW, m, stub_model

ISS, UNIT = "https://ehr.example/fhir", "Location/micu"
MODEL = stub_model()
DR = Actor("Practitioner/dr", "Dr Okafor", "provider")
NURSE = Actor("Practitioner/rn", "Nora RN", "nurse")


def vitals(sbp, hours_ago=1.0):
    return [m("sbp", sbp, hours_ago), m("heart_rate", 118, hours_ago), m("resp_rate", 24, hours_ago),
            m("spo2", 94, hours_ago)]


def screen(engine, pid, measurements, at=NOW, unit=UNIT, iss=ISS):
    return assess_and_sync(engine, Scope(iss=iss, patient_id=pid, encounter_id=f"{pid}-enc"), measurements, at,
                           source=history.SCREENING,
                           model=MODEL, care_unit=lambda: "MICU", location=unit, location_display=f"MICU bed {pid}")


def test_every_status_in_the_order_that_needs_action_first(engine):
    screen(engine, "calm", vitals(125))
    screen(engine, "new", vitals(118), at=NOW - timedelta(hours=1))
    new = screen(engine, "new", vitals(84)).alert  # rising: low, then high with a sign
    evaluating = screen(engine, "evaluating", vitals(85)).alert
    nurse.save(engine, Scope(iss=ISS, patient_id="evaluating", encounter_id="evaluating-enc"), nurse.ScreeningInput("lung", None, "no", None),
               NURSE, str(uuid.uuid4()), NOW, evaluating.id)
    for pid, decision in (("confirmed", Decision("confirm")), ("dismissed", Decision("dismiss", reason="chronic")),
                          ("paused", Decision("pause", paused_until=NOW + timedelta(hours=2)))):
        alert = screen(engine, pid, vitals(86), at=NOW - timedelta(minutes=30)).alert
        alerts.decide(engine, alert.id, decision, DR, str(uuid.uuid4()), NOW - timedelta(minutes=20))
    entries = {"lac": (NOW.isoformat(), [("lactate", 4.4, (NOW - timedelta(minutes=30)).isoformat())])}
    window.save(engine, ISS, "Encounter/shock-enc", "shock-enc",
                window.Window("shock", "1950-01-01", "male", entries, "w", NOW, NOW))
    screen(engine, "shock", [m("lactate", 4.4, 0.5)])
    screen(engine, "elsewhere", vitals(84), unit="Location/sicu")
    screen(engine, "other-ehr", vitals(84), iss="https://other.example/fhir")
    screen(engine, "left", vitals(84), at=NOW - timedelta(hours=13))

    view = board.build(engine, ISS, UNIT, NOW, model=MODEL)
    assert [(r.patient_id, r.status) for r in view.rows] == [
        ("new", board.NEW), ("shock", board.SHOCK), ("evaluating", board.EVALUATING),
        ("confirmed", board.CONFIRMED_S), ("paused", board.PAUSED_S), ("calm", board.SCREENED),
        ("dismissed", board.DISMISSED_S)]
    rows = {r.patient_id: r for r in view.rows}
    assert rows["new"].trend == "up" and rows["new"].alert_id == new.id and rows["new"].where == "MICU bed new"
    assert rows["confirmed"].decided_by == "Dr Okafor"
    assert rows["confirmed"].three_hour_due == NOW - timedelta(minutes=20) + timedelta(hours=3)
    assert rows["confirmed"].six_hour_due == NOW - timedelta(minutes=20) + timedelta(hours=6)
    assert rows["paused"].paused_until == NOW + timedelta(hours=2)
    assert "Heart rate" in rows["shock"].to_chart
    assert rows["calm"].alert_id is None and rows["calm"].last_screened == NOW


def test_an_empty_unit(engine):
    assert board.build(engine, ISS, UNIT, NOW, model=MODEL).rows == ()
