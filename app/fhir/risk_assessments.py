"""FHIR R4 JSON for what the app writes back to the EHR: a RiskAssessment per screening result, a Flag per alert.

RiskAssessment (hl7.org/fhir/R4/riskassessment.html): status final, subject and encounter, occurrenceDateTime,
method (the model and its version), basis (the Observations the score was computed from, as references), one
prediction with the probability of sepsis (`outcome` text). An abstention is written as status
`cannot-be-obtained` without a prediction, so a column never shows a number the model did not give.
Flag (flag.html): status active, category clinical, code "Sepsis alert", period.start = when it was raised; its
identifier is the alert, so a conditional create makes one Flag per alert however often it is sent.
Each resource carries an identifier in `IDENTIFIER_SYSTEM` so a retry after a lost answer is a conditional create.
"""

from __future__ import annotations

from datetime import datetime

from .dates import fhir_instant

IDENTIFIER_SYSTEM = "urn:sepsis-sentinel"
MAX_BASIS = 100  # references; the newest ones when a window holds more
SEPSIS = {"text": "Sepsis (Sepsis-3) within the next hours"}


def _context(patient_id: str, encounter_id: str | None) -> dict:
    out: dict = {"subject": {"reference": f"Patient/{patient_id}"}}
    if encounter_id:
        out["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    return out


def risk_assessment(*, key: str, patient_id: str, encounter_id: str | None, at: datetime,
                    probability: float | None, model_version: str | None, basis: list[str]) -> dict:
    """`key` identifies this scoring (the same scoring sent twice is stored once); `basis` Observation ids."""
    resource = {
        "resourceType": "RiskAssessment",
        "identifier": [{"system": f"{IDENTIFIER_SYSTEM}:risk-assessment", "value": key}],
        "status": "final" if probability is not None else "cannot-be-obtained",
        **_context(patient_id, encounter_id),
        "occurrenceDateTime": fhir_instant(at),
        "method": {"text": f"Sepsis Sentinel model {model_version or 'unknown'}"},
        "basis": [{"reference": f"Observation/{oid}"} for oid in basis[:MAX_BASIS]],
    }
    if probability is not None:
        resource["prediction"] = [{"outcome": SEPSIS, "probabilityDecimal": round(float(probability), 4)}]
    return resource


def alert_flag(*, alert_id: int, patient_id: str, encounter_id: str | None, raised_at: datetime) -> dict:
    return {
        "resourceType": "Flag",
        "identifier": [{"system": f"{IDENTIFIER_SYSTEM}:alert", "value": str(alert_id)}],
        "status": "active",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category",
                                  "code": "clinical", "display": "Clinical"}]}],
        "code": {"text": "Sepsis alert (Sepsis Sentinel): evaluate for sepsis"},
        **_context(patient_id, encounter_id),
        "period": {"start": fhir_instant(raised_at)},
    }


def identifier_query(resource: dict) -> str:
    """The If-None-Exist search that finds this resource again by its identifier."""
    ident = resource["identifier"][0]
    return f"identifier={ident['system']}|{ident['value']}"
