"""Bundle orders in the database, on SQLite and PostgreSQL: one per element, replay-safe, retried when failed;
and the FHIR proposal each one sends."""

from datetime import timedelta

import pytest

from app.bundle import orders
from app.bundle.errors import AlreadyOrdered, SubmissionTaken
from tests.support.builders import DR_A, DR_B, ISS, NOW, sync


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
