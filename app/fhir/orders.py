"""FHIR R4 JSON for the orders the app proposes: a ServiceRequest (lactate, blood cultures) or a
MedicationRequest (antibiotic, crystalloid, vasopressor).

Each is status "draft" and intent "proposal" (R4 request-status / request-intent: the EHR's ordering clinician
turns it into an active order), for the patient and encounter, requester = the user's Practitioner, authoredOn,
and an identifier made by the caller. The EHR call is a conditional create on that identifier
(`if_none_exist`), so a retry never makes a second order. Plain values in, JSON out: the caller's records stay
its own.
"""

from __future__ import annotations

from datetime import datetime

from .dates import fhir_instant

SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
LABORATORY_PROCEDURE = {"system": SNOMED, "code": "108252007", "display": "Laboratory procedure"}
REASON = "Sepsis suspected: Sepsis Sentinel alert confirmed by a provider"


def order_proposal(resource_type: str, *, identifier: tuple[str, str], coding: tuple[str, str, str], text: str,
                   instruction: str | None, volume_ml: int | None, patient_id: str, encounter_id: str | None,
                   requester: str, requester_name: str | None, now: datetime,
                   weight_kg: float | None = None) -> dict:
    """A ServiceRequest, or else a MedicationRequest, proposing `coding` (system, code, display) with `text` as
    the concept's text. `identifier` is (system, value). A MedicationRequest's dosage is the instruction (or the
    display); with `volume_ml`, the bolus volume and the `weight_kg` it was reviewed against."""
    system, code, display = coding
    resource: dict = {
        "resourceType": resource_type,
        "identifier": [{"system": identifier[0], "value": identifier[1]}],
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": fhir_instant(now),
        "requester": {"reference": requester, **({"display": requester_name} if requester_name else {})},
        "reasonCode": [{"text": REASON}],
    }
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    concept = {"coding": [{"system": system, "code": code, "display": display}], "text": text}
    if resource_type == "ServiceRequest":
        resource["code"] = concept
        resource["category"] = [{"coding": [dict(LABORATORY_PROCEDURE)]}]
        resource["priority"] = "stat"
        if instruction:
            resource["note"] = [{"text": instruction}]
    else:
        resource["medicationCodeableConcept"] = concept
        resource["priority"] = "stat"
        resource["dosageInstruction"] = [_dosage(instruction or display, volume_ml, weight_kg)]
    return resource


def _dosage(text: str, volume_ml: int | None, weight_kg: float | None) -> dict:
    if not volume_ml:
        return {"text": text}
    basis = f" (30 mL/kg for {weight_kg:g} kg)" if weight_kg else ""
    return {"text": f"{volume_ml} mL IV over up to 3 hours{basis}",
            "doseAndRate": [{"doseQuantity": {"value": volume_ml, "unit": "mL", "system": UCUM, "code": "mL"}}]}


def if_none_exist(patient_id: str, identifier: tuple[str, str]) -> str:
    """The conditional-create query (R4 http.html#ccreate) that finds this very order if the EHR already stored it."""
    return f"patient=Patient/{patient_id}&identifier={identifier[0]}|{identifier[1]}"
