"""The order proposals the app writes: FHIR R4 ServiceRequest / MedicationRequest JSON from plain values."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.fhir.orders import if_none_exist, order_proposal

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("America/Chicago"))
LACTATE = ("http://loinc.org", "2524-7", "Lactate [Moles/volume] in Serum or Plasma")


def proposal(resource_type="ServiceRequest", **changes):
    values = dict(identifier=("urn:x", "o-1"), coding=LACTATE, text="Repeat lactate", instruction="Repeat lactate",
                  volume_ml=None, patient_id="p1", encounter_id=None, requester="Practitioner/a",
                  requester_name=None, now=NOW)
    return order_proposal(resource_type, **{**values, **changes})


def test_a_lab_order_is_a_stat_draft_proposal_with_its_instruction_as_a_note_and_no_encounter_when_unknown():
    res = proposal()
    assert res["resourceType"] == "ServiceRequest" and (res["status"], res["intent"]) == ("draft", "proposal")
    assert res["code"] == {"coding": [dict(zip(("system", "code", "display"), LACTATE, strict=True))],
                           "text": "Repeat lactate"}
    assert res["category"][0]["coding"][0]["code"] == "108252007" and res["priority"] == "stat"
    assert res["note"] == [{"text": "Repeat lactate"}]
    assert "encounter" not in res and res["requester"] == {"reference": "Practitioner/a"}
    assert res["authoredOn"] == "2026-11-23T14:00:00Z"  # UTC, to the second


def test_a_medication_without_a_volume_is_dosed_by_its_instruction_else_its_display():
    pressor = ("http://www.nlm.nih.gov/research/umls/rxnorm", "7512", "Norepinephrine IV infusion")
    assert proposal("MedicationRequest", coding=pressor, instruction="Titrate")["dosageInstruction"] == [
        {"text": "Titrate"}]
    assert proposal("MedicationRequest", coding=pressor, instruction=None)["dosageInstruction"] == [
        {"text": "Norepinephrine IV infusion"}]
    assert "note" not in proposal("MedicationRequest", coding=pressor)


def test_a_bolus_names_the_weight_it_was_reviewed_against():
    fluids = ("http://www.nlm.nih.gov/research/umls/rxnorm", "9863", "Sodium chloride 0.9% IV bolus")
    dosage = proposal("MedicationRequest", coding=fluids, volume_ml=2304, weight_kg=76.8)["dosageInstruction"][0]
    assert dosage["text"] == "2304 mL IV over up to 3 hours (30 mL/kg for 76.8 kg)"
    assert dosage["doseAndRate"][0]["doseQuantity"] == {"value": 2304, "unit": "mL",
                                                        "system": "http://unitsofmeasure.org", "code": "mL"}


def test_the_conditional_create_finds_the_same_order_for_the_same_patient():
    assert if_none_exist("p1", ("urn:x", "o-1")) == "patient=Patient/p1&identifier=urn:x|o-1"
