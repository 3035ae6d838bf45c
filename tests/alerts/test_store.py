"""Alerts in the database, on SQLite and PostgreSQL: raised once, decided once, paused and back, nothing lost."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.alerts import store
from app.alerts.errors import AlertNotFound, AlreadyDecided
from app.alerts.policy import assess
from app.alerts.workflow import (
    ACTIVE,
    CONFIRMED,
    DISMISSED,
    LAPSED,
    PAUSED,
    Actor,
    Decision,
    Scope,
)
from app.bundle import orders
from app.model import Measurement
from app.nursing import form as screening
from tests.support.builders import DR_A, DR_B, ISS, NOW, SCOPE, SEPTIC, m, risk, sync, verdict

WELL = [m("sbp", 120, 1)]


def test_an_alert_records_what_it_was_raised_on(engine):
    alert = sync(engine)
    assert alert.state == ACTIVE and alert.care_unit == "Location/micu" and alert.raised_at == NOW
    assert (alert.probability, alert.threshold, alert.threshold_version, alert.model_version) == (0.8, 0.5, 0, "m-test")
    assert alert.signs[0]["concept"] == "sbp" and alert.signs[0]["value"] == 82
    assert {x["concept"] for x in alert.measurements} == {"sbp", "heart_rate"}
    assert [e["kind"] for e in store.events(engine, alert.id)] == ["raised"]


def test_no_alert_without_criteria_and_reopening_does_not_raise_again(engine):
    assert sync(engine, WELL) is None
    first = sync(engine)
    again = sync(engine, now=NOW + timedelta(minutes=5))
    assert again.id == first.id
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.alerts)).scalar() == 1


def test_care_unit_is_looked_up_only_when_raising(engine):
    calls = []
    sync(engine, unit=lambda: calls.append(1) or "")
    sync(engine, unit=lambda: calls.append(1) or "")
    assert len(calls) == 1 and store.newest(engine, SCOPE).care_unit == "unknown"


def test_two_chart_opens_at_once_make_one_alert(engine):
    start, before_insert = threading.Barrier(2, timeout=10), threading.Barrier(2, timeout=10)
    results = []

    def open_chart():
        start.wait()
        # the care-unit lookup runs after the read and before the insert: both have seen "no alert" here
        results.append(sync(engine, unit=lambda: (before_insert.wait(), "u")[1]))

    threads = [threading.Thread(target=open_chart) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 2 and len({r.id for r in results}) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.alerts)).scalar() == 1


def test_confirm_records_who_when_and_the_basis_and_starts_time_zero(engine):
    alert = sync(engine)
    later = NOW + timedelta(minutes=3)
    out = store.decide(engine, alert.id, Decision("confirm"), DR_A, "sub-1", later)
    assert not out.replayed and out.alert.state == CONFIRMED and out.alert.time_zero == later
    assert (out.alert.decided_by_name, out.alert.decided_role, out.alert.first_action_at) == ("Dr A", "provider",
                                                                                              later)
    event = store.events(engine, alert.id)[-1]
    assert event["kind"] == "confirmed" and event["submission_id"] == "sub-1" and event["role"] == "provider"
    assert event["basis"]["probability"] == 0.8 and event["basis"]["signs"][0]["concept"] == "sbp"


def test_a_resubmitted_form_is_recorded_once_and_answered_with_the_stored_outcome(engine):
    alert = sync(engine)
    store.decide(engine, alert.id, Decision("confirm"), DR_A, "sub-1", NOW)
    again = store.decide(engine, alert.id, Decision("confirm"), DR_A, "sub-1", NOW + timedelta(seconds=30))
    assert again.replayed and again.alert.state == CONFIRMED
    assert [e["kind"] for e in store.events(engine, alert.id)] == ["raised", "confirmed"]


def test_deciding_a_decided_alert_is_a_conflict_naming_who_and_when(engine):
    alert = sync(engine)
    store.decide(engine, alert.id, Decision("dismiss", reason="chronic"), DR_A, "sub-1", NOW)
    with pytest.raises(AlreadyDecided) as exc:
        store.decide(engine, alert.id, Decision("confirm"), DR_B, "sub-2", NOW + timedelta(seconds=1))
    assert exc.value.alert.state == DISMISSED and exc.value.alert.decided_by_name == "Dr A"
    assert exc.value.alert.dismiss_reason == "chronic"


def test_two_providers_at_once_exactly_one_wins(engine):
    alert = sync(engine)
    barrier = threading.Barrier(2, timeout=10)
    results = []

    def decide(actor, decision, sub):
        barrier.wait()
        try:
            results.append(store.decide(engine, alert.id, decision, actor, sub, NOW))
        except AlreadyDecided as exc:
            results.append(exc)

    threads = [threading.Thread(target=decide, args=(DR_A, Decision("confirm"), "a")),
               threading.Thread(target=decide, args=(DR_B, Decision("dismiss", reason="chronic"), "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    wins = [r for r in results if isinstance(r, store.Outcome)]
    losses = [r for r in results if isinstance(r, AlreadyDecided)]
    assert len(wins) == 1 and len(losses) == 1
    assert losses[0].alert.state == wins[0].alert.state
    assert len(store.events(engine, alert.id)) == 2


def test_decided_alerts_never_refire_in_the_encounter(engine):
    alert = sync(engine)
    store.decide(engine, alert.id, Decision("dismiss", reason="data_error"), DR_A, "s", NOW)
    assert sync(engine, now=NOW + timedelta(days=3)).id == alert.id


def test_a_pause_hides_until_it_ends_and_comes_back_only_if_the_criteria_still_hold(engine):
    alert = sync(engine)
    until = NOW + timedelta(hours=1)
    store.decide(engine, alert.id, Decision("pause", paused_until=until), DR_A, "s1", NOW)
    paused = sync(engine, now=NOW + timedelta(minutes=30))
    assert paused.state == PAUSED and paused.paused_now(NOW + timedelta(minutes=30))
    back = sync(engine, now=until + timedelta(minutes=1))
    assert back.id == alert.id and back.state == ACTIVE and back.pause_count == 1
    store.decide(engine, alert.id, Decision("pause", paused_until=until + timedelta(hours=2)), DR_A, "s2", until)
    gone = sync(engine, WELL, now=until + timedelta(hours=3))
    assert gone.state == LAPSED
    assert [e["kind"] for e in store.events(engine, alert.id)] == ["raised", "paused", "resumed", "paused", "lapsed"]
    assert store.get(engine, alert.id).pause_count == 2
    later = until + timedelta(hours=4)
    new = sync(engine, [Measurement("sbp", 80, later - timedelta(hours=1))], now=later)
    assert new.id != alert.id and new.seq == 2 and new.state == ACTIVE


def test_an_alert_belongs_to_its_patient(engine):
    alert = sync(engine)
    assert store.for_patient(engine, alert.id, SCOPE).id == alert.id
    with pytest.raises(AlertNotFound):
        store.for_patient(engine, alert.id, Scope(iss=ISS, patient_id="someone-else", encounter_id=None))


def test_without_an_encounter_alerts_are_scoped_to_the_patient_and_held_back_72_hours(engine):
    scope = Scope(iss=ISS, patient_id="demo-1", encounter_id=None)

    def load(now):
        ms = [Measurement("sbp", 82, now - timedelta(hours=1))]
        return store.sync(engine, scope, assess(risk(0.8), ms, now, threshold=0.5), now, threshold_version=0,
                          measurements=ms, care_unit=lambda: "unknown")

    first = load(NOW)
    assert first.scope_key == "Patient/demo-1" and first.encounter_id is None
    store.decide(engine, first.id, Decision("dismiss", reason="chronic"), DR_A, "s", NOW)
    assert load(NOW + timedelta(hours=71)).id == first.id
    later = load(NOW + timedelta(hours=73))
    assert later.id != first.id and later.state == ACTIVE


def test_a_withdrawn_confirmation_makes_the_alert_active_again_and_the_history_keeps_both(engine):
    alert = sync(engine)
    store.decide(engine, alert.id, Decision("confirm"), DR_A, "c-1", NOW)
    later = NOW + timedelta(minutes=5)
    out = store.decide(engine, alert.id, Decision("withdraw", reason="mistake", note="wrong bed"), DR_B, "w-1", later)
    a = out.alert
    assert (a.state, a.decision, a.decided_at, a.time_zero) == (ACTIVE, None, None, None)
    assert (a.last_action, a.last_action_by_name, a.withdraw_reason, a.withdraw_note) == (
        "withdrawn", "Dr B", "mistake", "wrong bed")
    assert a.first_action_at == NOW  # the first evaluation still counts for the adoption metrics
    events = store.events(engine, alert.id)
    assert [e["kind"] for e in events] == ["raised", "confirmed", "withdrawn"]
    assert events[-1]["user_ref"] == "Practitioner/b" and events[-1]["detail"] == {"reason": "mistake",
                                                                                    "note": "wrong bed"}
    assert store.decide(engine, alert.id, Decision("withdraw", reason="mistake"), DR_B, "w-1", later).replayed
    with pytest.raises(AlreadyDecided):  # active now: there is no confirmation to withdraw
        store.decide(engine, alert.id, Decision("withdraw", reason="mistake"), DR_A, "w-2", later)
    again = store.decide(engine, alert.id, Decision("confirm"), DR_A, "c-2", later + timedelta(minutes=1))
    assert again.alert.time_zero == later + timedelta(minutes=1)  # a new confirmation: a new time zero


def test_only_a_confirmed_alert_can_be_withdrawn(engine):
    alert = sync(engine)
    with pytest.raises(AlreadyDecided):
        store.decide(engine, alert.id, Decision("withdraw", reason="mistake"), DR_A, "w-1", NOW)
    store.decide(engine, alert.id, Decision("dismiss", reason="chronic"), DR_A, "d-1", NOW)
    with pytest.raises(AlreadyDecided):
        store.decide(engine, alert.id, Decision("withdraw", reason="mistake"), DR_A, "w-2", NOW)
    assert store.get(engine, alert.id).state == DISMISSED
def test_two_ehrs_with_the_same_patient_id_keep_separate_alerts_screenings_and_orders(engine):
    """A production and a test EHR both have Patient/demo-1 in encounter demo-1-icu: nothing is shared."""
    test_ehr = Scope(iss="https://test-ehr.example.org/fhir", patient_id="demo-1", encounter_id="demo-1-icu")
    prod = sync(engine)
    test = store.sync(engine, test_ehr, verdict(), NOW, threshold_version=0, measurements=SEPTIC,
                      care_unit=lambda: "Location/micu")
    assert prod.id != test.id and (prod.iss, test.iss) == (ISS, test_ehr.iss) and test.seq == 1
    store.decide(engine, prod.id, Decision("confirm"), DR_A, "d-1", NOW)
    assert store.newest(engine, test_ehr).state == ACTIVE  # the other EHR's alert is untouched
    with pytest.raises(AlertNotFound):  # an alert id of one EHR never answers for the same patient on another
        store.for_patient(engine, prod.id, test_ehr)
    data = screening.ScreeningInput("lung", None, "no", None)
    screening.save(engine, SCOPE, data, Actor("Practitioner/n", "N", "nurse"), "scr-1", NOW, prod.id)
    assert screening.latest(engine, SCOPE).infection_source == "lung"
    assert screening.latest(engine, test_ehr) is None
    orders.begin(engine, prod.id, "lactate", orders.ORDERABLES["lactate"], None, DR_A, "o-1", NOW, iss=ISS)
    assert set(orders.for_alert(engine, prod.id, ISS)) == {"lactate"}
    assert orders.for_alert(engine, prod.id, test_ehr.iss) == {}
