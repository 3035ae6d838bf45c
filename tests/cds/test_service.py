"""The patient-view answer: from what the screening stored, else from the EHR's prefetch through the one scoring
path; the cards (one for an active undecided alert, an information card for shock the model cannot score, none
otherwise); the feedback, which never changes an alert. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.alerts import store as alerts
from app.alerts.workflow import ACTIVE, CONFIRMED, Actor, Decision, Scope
from app.assessment import assess_and_sync
from app.cds import Caller, CdsRequestInvalid, Links, PatientView
from app.cds import store as cds_store
from app.screening import history
from tests.support.builders import NOW, m, stub_model
from tests.support.fhir import BASE, PATIENT, bundle, obs, patient_resource

ENCOUNTER = "enc-1"
CALLER = Caller("https://ehr.example", "jti-1", None)
LINKS = Links("http://sentinel.test/launch", "http://sentinel.test/transparency")
MODEL = stub_model()
SEPTIC = [m("sbp", 82, 1), m("heart_rate", 118, 1), m("resp_rate", 26, 1), m("spo2", 93, 1), m("age", 70, 0),
          m("sex_male", 1, 0)]
WELL = [m("sbp", 124, 1), m("heart_rate", 80, 1), m("resp_rate", 14, 1), m("spo2", 98, 1)]
DR = Actor("Practitioner/dr", "Dr A", "provider")


def service(engine, fresh_minutes=30) -> PatientView:
    return PatientView(engine, iss_allowlist=(BASE,), links=LINKS, fresh=timedelta(minutes=fresh_minutes),
                       lookback=timedelta(hours=72), model=MODEL)


def hook(prefetch=None, patient=PATIENT, encounter=ENCOUNTER, **extra) -> dict:
    body = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "fhirServer": BASE,
            "context": {"userId": "Practitioner/dr", "patientId": patient, "encounterId": encounter}, **extra}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def screen(engine, measurements, at=NOW):
    return assess_and_sync(engine, Scope(iss=BASE, patient_id=PATIENT, encounter_id=ENCOUNTER), measurements, at,
                           source=history.SCREENING, model=MODEL, care_unit=lambda: "MICU")


def test_an_active_alert_gives_one_critical_card_with_the_risk_the_sign_the_source_and_a_smart_link(engine):
    alert = screen(engine, SEPTIC).alert
    answer = service(engine).answer(hook(), CALLER, NOW + timedelta(minutes=5))
    assert answer.path == "stored"
    [card] = answer.cards
    assert card["indicator"] == "critical"
    assert len(card["summary"]) < 140
    assert "85%" in card["summary"] and "Systolic BP 82 mmHg" in card["summary"]
    assert card["source"]["url"] == LINKS.transparency_url
    [link] = card["links"]
    assert (link["type"], link["url"]) == ("smart", LINKS.launch_url)
    assert json.loads(link["appContext"]) == {"alert": alert.id}
    assert {r["code"] for r in card["overrideReasons"]} >= {"already-evaluated", "disagree"}
    issued = cds_store.issued_to(engine, card["uuid"], CALLER.iss)
    assert (issued["alert_id"], issued["kind"], issued["patient_id"]) == (alert.id, "alert", PATIENT)


def test_an_alert_whose_signs_are_no_longer_recent_is_a_warning(engine):
    screen(engine, SEPTIC)
    later = NOW + timedelta(hours=8)  # the SBP of 82 is now outside the 6 h sign window; the risk is still high
    screen(engine, [m("sbp", 95, -7.5), m("heart_rate", 118, -7.5), m("resp_rate", 26, -7.5),
                    m("spo2", 93, -7.5)], at=later)
    [card] = service(engine).answer(hook(), CALLER, later).cards
    assert card["indicator"] == "warning"
    assert "no longer recent" in card["detail"]


@pytest.mark.parametrize("decision", [Decision("confirm"), Decision("dismiss", reason="not-infected"),
                                      Decision("pause", paused_until=NOW + timedelta(hours=2))])
def test_a_decided_or_paused_alert_gives_no_card(engine, decision):
    alert = screen(engine, SEPTIC).alert
    alerts.decide(engine, alert.id, decision, DR, str(uuid.uuid4()), NOW + timedelta(minutes=1))
    assert service(engine).answer(hook(), CALLER, NOW + timedelta(minutes=5)).cards == []


def test_a_patient_without_an_alert_gives_no_card(engine):
    screen(engine, WELL)
    assert service(engine).answer(hook(), CALLER, NOW + timedelta(minutes=5)).cards == []


def test_a_patient_never_screened_is_scored_from_the_prefetch_through_the_one_scoring_path(engine):
    observations = [obs("8480-6", 82, "mm[Hg]", oid="sbp"), obs("8867-4", 118, "/min", oid="hr"),
                    obs("9279-1", 26, "/min", oid="rr"), obs("59408-5", 93, "%", oid="spo2")]
    prefetch = {"patient": patient_resource(), "observations": bundle(observations)}
    answer = service(engine).answer(hook(prefetch), CALLER, NOW)
    assert answer.path == "prefetch"
    [card] = answer.cards
    alert = alerts.newest(engine, Scope(iss=BASE, patient_id=PATIENT, encounter_id=ENCOUNTER))
    assert alert.state == ACTIVE and json.loads(card["links"][0]["appContext"]) == {"alert": alert.id}
    with engine.connect() as conn:
        sources = conn.execute(sa.select(history.risk_scores.c.source)).scalars().all()
    assert sources == ["cds"]


def test_a_call_without_an_encounter_never_raises_a_second_alert_for_a_screened_patient(engine):
    """Alerts are one per encounter: a hook call that names no encounter cannot say which encounter's alert the
    prefetch would belong to, so it answers from what is stored instead of raising a patient-wide alert."""
    screen(engine, SEPTIC)
    observations = [obs("8480-6", 82, "mm[Hg]", oid="sbp"), obs("8867-4", 118, "/min", oid="hr"),
                    obs("9279-1", 26, "/min", oid="rr"), obs("59408-5", 93, "%", oid="spo2")]
    prefetch = {"patient": patient_resource(), "observations": bundle(observations)}
    later = NOW + timedelta(hours=1)  # the screening's score is no longer fresh
    answer = service(engine).answer(hook(prefetch, encounter=None), CALLER, later)
    assert answer.path == "stored" and len(answer.cards) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(alerts.alerts)).scalar_one() == 1


def test_a_prefetch_of_another_patient_is_not_used(engine):
    prefetch = {"patient": patient_resource("someone-else"), "observations": bundle([])}
    answer = service(engine).answer(hook(prefetch), CALLER, NOW)
    assert (answer.path, answer.cards) == ("stored", [])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(history.risk_scores)).scalar_one() == 0


def test_a_stale_screening_without_prefetch_still_shows_the_alert_it_raised(engine):
    screen(engine, SEPTIC)
    answer = service(engine).answer(hook(), CALLER, NOW + timedelta(hours=2))
    assert answer.path == "stored" and len(answer.cards) == 1


def test_a_fresh_screening_is_used_even_when_a_prefetch_came_along(engine):
    screen(engine, WELL)
    observations = [obs("8480-6", 82, "mm[Hg]", oid="sbp"), obs("8867-4", 118, "/min", oid="hr"),
                    obs("9279-1", 26, "/min", oid="rr"), obs("59408-5", 93, "%", oid="spo2")]
    prefetch = {"patient": patient_resource(), "observations": bundle(observations)}
    answer = service(engine).answer(hook(prefetch), CALLER, NOW + timedelta(minutes=5))
    assert (answer.path, answer.cards) == ("stored", [])


def test_shock_the_model_cannot_score_gives_an_info_card_saying_what_to_chart(engine):
    observations = [obs("2524-7", 4.6, "mmol/L", oid="lac", category="laboratory"),
                    obs("8480-6", 84, "mm[Hg]", oid="sbp")]
    prefetch = {"patient": patient_resource(), "observations": bundle(observations)}
    [card] = service(engine).answer(hook(prefetch), CALLER, NOW).cards
    assert card["indicator"] == "info" and len(card["summary"]) < 140
    assert "chart Heart rate" in card["summary"]  # the model abstains without a heart rate (and a BP)
    assert "links" not in card
    assert alerts.newest(engine, Scope(iss=BASE, patient_id=PATIENT, encounter_id=ENCOUNTER)) is None


def test_the_info_card_also_comes_from_the_screenings_stored_window(engine):
    from app.screening import window

    entries = {"lac": ("2026-11-23T07:30:00-06:00", [("lactate", 4.6, "2026-11-23T07:30:00-06:00")])}
    window.save(engine, BASE, Scope(iss=BASE, patient_id=PATIENT, encounter_id=ENCOUNTER).key, ENCOUNTER, window.Window(
        PATIENT, "1950-06-15", "female", entries, "2026-11-23T14:00:00Z", NOW, NOW))
    screen(engine, [m("lactate", 4.6, 0.5)])
    [card] = service(engine).answer(hook(), CALLER, NOW + timedelta(minutes=5)).cards
    assert card["indicator"] == "info" and "Lactate 4.6" in card["summary"]


def test_abstaining_without_signs_of_shock_gives_no_card(engine):
    prefetch = {"patient": patient_resource(), "observations": bundle([obs("8867-4", 90, "/min", oid="hr")])}
    assert service(engine).answer(hook(prefetch), CALLER, NOW).cards == []


@pytest.mark.parametrize("body, message", [
    ({"hook": "order-select"}, "patient-view"),
    (dict(hook(), fhirServer="https://other.example/fhir"), "fhirServer"),
    (dict(hook(), context={"patientId": "../x"}), "patientId"),
    (dict(hook(), hookInstance="x"), "hookInstance"),
    ([], "object"),
])
def test_a_malformed_call_says_which_part(engine, body, message):
    with pytest.raises(CdsRequestInvalid, match=message):
        service(engine).answer(body, CALLER, NOW)


# -- feedback ---------------------------------------------------------------------------------------------------

def _card(engine):
    alert = screen(engine, SEPTIC).alert
    [card] = service(engine).answer(hook(), CALLER, NOW + timedelta(minutes=5)).cards
    return alert, card


def test_accepted_and_overridden_cards_are_counted_with_reasons_and_the_alert_stays_active(engine):
    alert, card = _card(engine)
    override = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-23T14:10:00Z",
                "overrideReason": {"reason": {"system": "urn:sepsis-sentinel:cds-override-reason",
                                              "code": "disagree", "display": "Disagree with the alert"},
                                   "userComment": "post-op, expected"}}
    accepted = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-23T14:20:00Z"}
    assert service(engine).feedback({"feedback": [override]}, CALLER, NOW) == 1
    assert service(engine).feedback({"feedback": [override, accepted]}, CALLER, NOW) == 1  # resent: once
    counts = cds_store.card_counts(engine)
    assert (counts.shown, counts.accepted, counts.overridden) == (1, 1, 1)
    assert counts.reasons == {"Disagree with the alert": 1}
    after = alerts.get(engine, alert.id)
    assert (after.state, after.decision, after.first_action_at) == (ACTIVE, None, None)
    assert [e["kind"] for e in alerts.events(engine, alert.id)] == ["raised"]


def test_feedback_on_a_card_of_another_client_or_malformed_is_refused_and_records_nothing(engine):
    _, card = _card(engine)
    other = Caller("https://other-ehr.example", "jti-2", None)
    item = {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-23T14:10:00Z"}
    with pytest.raises(CdsRequestInvalid, match="did not return"):
        service(engine).feedback({"feedback": [item]}, other, NOW)
    with pytest.raises(CdsRequestInvalid, match="outcome"):
        service(engine).feedback({"feedback": [item, dict(item, outcome="maybe")]}, CALLER, NOW)
    with pytest.raises(CdsRequestInvalid, match="outcomeTimestamp"):
        service(engine).feedback({"feedback": [dict(item, outcomeTimestamp="yesterday")]}, CALLER, NOW)
    assert cds_store.card_counts(engine).accepted == 0


def test_a_confirmed_alert_after_a_card_gives_no_card_next_time(engine):
    alert, _ = _card(engine)
    alerts.decide(engine, alert.id, Decision("confirm"), DR, str(uuid.uuid4()), NOW + timedelta(minutes=6))
    assert alerts.get(engine, alert.id).state == CONFIRMED
    assert service(engine).answer(hook(), CALLER, NOW + timedelta(minutes=7)).cards == []
