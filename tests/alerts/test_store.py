"""Alerts in the database, on SQLite and PostgreSQL: raised once, decided once, paused and back, nothing lost."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.alerts import orders, screening, store
from app.alerts.errors import AlertNotFound, AlreadyDecided, AlreadyOrdered, SubmissionTaken
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
from app.model import Measurement
from tests.support.builders import NOW, m, risk

ISS = "https://ehr.example.org/fhir"
SCOPE = Scope(iss=ISS, patient_id="demo-1", encounter_id="demo-1-icu")
DR_A = Actor("Practitioner/a", "Dr A", "provider")
DR_B = Actor("Practitioner/b", "Dr B", "provider")
SEPTIC = [m("sbp", 82, 1), m("heart_rate", 118, 1)]
WELL = [m("sbp", 120, 1)]


def verdict(measurements=SEPTIC, p=0.8, now=NOW):
    return assess(risk(p), measurements, now, threshold=0.5)


def sync(engine, measurements=SEPTIC, now=NOW, p=0.8, unit=lambda: "Location/micu"):
    return store.sync(engine, SCOPE, verdict(measurements, p, now), now, threshold_version=0,
                      measurements=measurements, care_unit=unit)


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


def test_screening_is_saved_once_per_submission(engine):
    data, errors = screening.validate({"infection_source": "lung", "new_confusion": "yes"}, NOW)
    assert errors == {}
    actor = Actor("Practitioner/n", "Nurse N", "nurse")
    saved, replay = screening.save(engine, SCOPE, data, actor, "sc-1", NOW, None)
    again, replay2 = screening.save(engine, SCOPE, data, actor, "sc-1", NOW, None)
    assert (replay, replay2, again.id) == (False, True, saved.id)
    assert screening.latest(engine, SCOPE).source_text == "Lungs (pneumonia)"


def test_screening_validation_names_each_field():
    _, errors = screening.validate({"infection_source": "other", "provider_notified_at": "soon"}, NOW)
    assert set(errors) == {"infection_other", "new_confusion", "provider_notified_at"}
    future = (NOW + timedelta(hours=1)).astimezone(NOW.tzinfo).strftime("%Y-%m-%dT%H:%M")
    _, errors = screening.validate({"infection_source": "none", "new_confusion": "no",
                                    "provider_notified_at": future}, NOW)
    assert "future" in errors["provider_notified_at"]


def test_orders_one_per_element_replay_safe_and_a_failed_one_can_be_retried(engine):
    alert = sync(engine)
    what = orders.ORDERABLES["lactate"]
    first = orders.begin(engine, alert.id, "lactate", what, None, DR_A, "o-1", NOW, iss=ISS)
    assert first.send and first.order.status == orders.SENDING
    replay = orders.begin(engine, alert.id, "lactate", what, None, DR_A, "o-1", NOW, iss=ISS)
    assert not replay.send and replay.order.id == first.order.id
    with pytest.raises(AlreadyOrdered):
        orders.begin(engine, alert.id, "lactate", what, None, DR_B, "o-2", NOW, iss=ISS)
    orders.failed(engine, first.order, "fhir_unavailable")
    retry = orders.begin(engine, alert.id, "lactate", what, None, DR_B, "o-3", NOW + timedelta(minutes=1), iss=ISS)
    assert retry.send and retry.order.identifier == first.order.identifier and retry.order.requested_by_name == "Dr B"
    done = orders.placed(engine, retry.order, "sr-1", NOW)
    assert done.reference == "ServiceRequest/sr-1"
    with pytest.raises(AlreadyOrdered):
        orders.begin(engine, alert.id, "lactate", what, None, DR_A, "o-4", NOW, iss=ISS)
    assert orders.for_alert(engine, alert.id, ISS)["lactate"].status == orders.PLACED


def test_a_submission_id_answers_only_for_its_own_order(engine):
    alert = sync(engine)
    orders.begin(engine, alert.id, "lactate", orders.ORDERABLES["lactate"], None, DR_A, "o-1", NOW, iss=ISS)
    with pytest.raises(SubmissionTaken):  # the same form id on another element: not "already placed"
        orders.begin(engine, alert.id, "blood_cultures", orders.ORDERABLES["blood_cultures"], None, DR_A, "o-1", NOW,
                     iss=ISS)
    assert set(orders.for_alert(engine, alert.id, ISS)) == {"lactate"}


def test_an_interrupted_order_can_be_taken_over_after_a_while(engine):
    alert = sync(engine)
    what = orders.ORDERABLES["fluids"]
    orders.begin(engine, alert.id, "fluids", what, 2100, DR_A, "o-1", NOW, iss=ISS)
    with pytest.raises(AlreadyOrdered):
        orders.begin(engine, alert.id, "fluids", what, 2100, DR_B, "o-2", NOW + timedelta(seconds=30), iss=ISS)
    assert orders.begin(engine, alert.id, "fluids", what, 2100, DR_B, "o-2", NOW + timedelta(minutes=5), iss=ISS).send


def test_order_resource_is_a_draft_proposal_for_patient_and_encounter_by_the_user():
    order = orders.OrderRecord(1, 1, "fluids", "MedicationRequest", "abc", "NaCl", 2160, "sending", None, NOW,
                               "Dr A", "provider", "s", None, None)
    res = orders.fhir_resource(order, orders.ORDERABLES["fluids"], patient_id="p1", encounter_id="e1",
                               requester="Practitioner/a", requester_name="Dr A", now=NOW)
    assert (res["status"], res["intent"]) == ("draft", "proposal")
    assert res["subject"] == {"reference": "Patient/p1"} and res["encounter"] == {"reference": "Encounter/e1"}
    assert res["requester"]["reference"] == "Practitioner/a" and res["authoredOn"] == "2026-11-23T14:00:00Z"
    assert res["identifier"] == [{"system": orders.IDENTIFIER_SYSTEM, "value": "abc"}]
    assert res["medicationCodeableConcept"]["coding"][0]["code"] == "9863"
    assert res["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 2160
    assert orders.if_none_exist(order, "p1") == f"patient=Patient/p1&identifier={orders.IDENTIFIER_SYSTEM}|abc"


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
