"""Checks on the resources apps may create (ServiceRequest, MedicationRequest; RiskAssessment and Flag for a
write-back), as a FHIR server makes them.

Structure against FHIR R4 (hl7.org/fhir/R4/servicerequest.html, medicationrequest.html): known elements only,
required elements present, coded values from their required value sets, dateTimes well formed, references
resolvable on this server and consistent with the subject. Failures raise FhirError (400 structure, 422 refs).
"""

from __future__ import annotations

from .outcome import FhirError
from .search import date_range
from .store import ResourceStore, reference_target

_COMMON = {"resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension",
           "modifierExtension", "identifier"}
ELEMENTS = {
    "ServiceRequest": _COMMON | {
        "instantiatesCanonical", "instantiatesUri", "basedOn", "replaces", "requisition", "status", "intent",
        "category", "priority", "doNotPerform", "code", "orderDetail", "quantityQuantity", "quantityRatio",
        "quantityRange", "subject", "encounter", "occurrenceDateTime", "occurrencePeriod", "occurrenceTiming",
        "asNeededBoolean", "asNeededCodeableConcept", "authoredOn", "requester", "performerType", "performer",
        "locationCode", "locationReference", "reasonCode", "reasonReference", "insurance", "supportingInfo",
        "specimen", "bodySite", "note", "patientInstruction", "relevantHistory"},
    "MedicationRequest": _COMMON | {
        "status", "statusReason", "intent", "category", "priority", "doNotPerform", "reportedBoolean",
        "reportedReference", "medicationCodeableConcept", "medicationReference", "subject", "encounter",
        "supportingInformation", "authoredOn", "requester", "performer", "performerType", "recorder", "reasonCode",
        "reasonReference", "instantiatesCanonical", "instantiatesUri", "basedOn", "groupIdentifier",
        "courseOfTherapyType", "insurance", "note", "dosageInstruction", "dispenseRequest", "substitution",
        "priorRequest", "detectedIssue", "eventHistory"},
    "RiskAssessment": _COMMON | {
        "basedOn", "parent", "status", "method", "code", "subject", "encounter", "occurrenceDateTime",
        "occurrencePeriod", "condition", "performer", "reasonCode", "reasonReference", "basis", "prediction",
        "mitigation", "note"},
    "Flag": _COMMON | {"status", "category", "code", "subject", "period", "encounter", "author"},
}
STATUS = {
    "ServiceRequest": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    "MedicationRequest": {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
                          "unknown"},
    "RiskAssessment": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                       "entered-in-error", "unknown", "cannot-be-obtained"},
    "Flag": {"active", "inactive", "entered-in-error"},
}
INTENT = {
    "ServiceRequest": {"proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order",
                       "instance-order", "option"},
    "MedicationRequest": {"proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                          "instance-order", "option"},
}
PRIORITY = {"routine", "urgent", "asap", "stat"}
REQUESTER_TYPES = {"Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "Device"}
LIST_ELEMENTS = {"identifier", "category", "basedOn", "replaces", "orderDetail", "performer", "locationCode",
                 "locationReference", "reasonCode", "reasonReference", "insurance", "supportingInfo", "specimen",
                 "bodySite", "note", "relevantHistory", "dosageInstruction", "supportingInformation",
                 "detectedIssue", "eventHistory", "instantiatesCanonical", "instantiatesUri", "extension",
                 "modifierExtension", "contained", "basis", "prediction", "parent"}
WRITABLE = frozenset(ELEMENTS)


def _bad(message: str, code: str = "structure") -> FhirError:
    return FhirError(400, message, code)


def _reference(resource: dict, element: str, allowed: set[str], store: ResourceStore, base: str,
               required: bool = False) -> tuple[str, str] | None:
    value = resource.get(element)
    if value is None:
        if required:
            raise _bad(f"{resource['resourceType']}.{element} is required", "required")
        return None
    if not isinstance(value, dict) or not isinstance(value.get("reference"), str):
        raise _bad(f"{resource['resourceType']}.{element} must be a Reference with a 'reference'")
    ref = value["reference"]
    if ref.startswith(("http://", "https://")) and not ref.startswith(base + "/"):
        raise FhirError(422, f"{resource['resourceType']}.{element} refers to another server: {ref}", "processing")
    target = reference_target(value)
    if target is None or target[0] not in allowed:
        raise _bad(f"{resource['resourceType']}.{element} must refer to one of {', '.join(sorted(allowed))}",
                   "value")
    if store.get(*target) is None:
        raise FhirError(422, f"{resource['resourceType']}.{element}: {target[0]}/{target[1]} does not exist on this "
                             "server", "processing")
    return target


def validate(resource: object, rtype: str, store: ResourceStore, base: str) -> str:
    """Check a resource to create; returns its subject Patient id."""
    if not isinstance(resource, dict):
        raise _bad("the body must be a JSON object (a FHIR resource)")
    if resource.get("resourceType") != rtype:
        raise _bad(f"resourceType must be {rtype!r} to create at {rtype}, got {resource.get('resourceType')!r}",
                   "invalid")
    unknown = sorted(set(resource) - ELEMENTS[rtype])
    if unknown:
        raise _bad(f"unknown element(s) in {rtype}: {', '.join(unknown)}")
    for name in LIST_ELEMENTS & set(resource):
        if not isinstance(resource[name], list):
            raise _bad(f"{rtype}.{name} must be an array")
    if resource.get("status") not in STATUS[rtype]:
        raise _bad(f"{rtype}.status is required, one of: {', '.join(sorted(STATUS[rtype]))}", "required")
    if rtype in INTENT and resource.get("intent") not in INTENT[rtype]:
        raise _bad(f"{rtype}.intent is required, one of: {', '.join(sorted(INTENT[rtype]))}", "required")
    if "priority" in resource and resource["priority"] not in PRIORITY:
        raise _bad(f"{rtype}.priority must be one of: {', '.join(sorted(PRIORITY))}", "value")
    if rtype == "Flag" and not isinstance(resource.get("code"), dict):
        raise _bad("Flag.code is required (a CodeableConcept)", "required")
    for p in resource.get("prediction") or []:
        prob = p.get("probabilityDecimal") if isinstance(p, dict) else None
        if prob is not None and not (isinstance(prob, (int, float)) and 0 <= prob <= 1):
            raise _bad("RiskAssessment.prediction.probabilityDecimal must be between 0 and 1", "value")
    for name in ("authoredOn", "occurrenceDateTime"):
        if name in resource and (not isinstance(resource[name], str) or date_range(resource[name]) is None):
            raise _bad(f"{rtype}.{name} is not a valid FHIR dateTime", "value")
    for name in ("code", "medicationCodeableConcept"):
        if name in resource and not isinstance(resource[name], dict):
            raise _bad(f"{rtype}.{name} must be a CodeableConcept")
    if rtype == "MedicationRequest":
        given = [n for n in ("medicationCodeableConcept", "medicationReference") if n in resource]
        if len(given) != 1:
            raise _bad("MedicationRequest needs exactly one of medicationCodeableConcept, medicationReference",
                       "required")
        if "medicationReference" in resource:
            _reference(resource, "medicationReference", {"Medication"}, store, base)
    patient = _reference(resource, "subject", {"Patient"}, store, base, required=True)
    encounter = _reference(resource, "encounter", {"Encounter"}, store, base)
    if encounter:
        enc_subject = reference_target((store.get(*encounter) or {}).get("subject"))
        if enc_subject != patient:
            raise FhirError(422, f"{rtype}.encounter belongs to another patient", "processing")
    _reference(resource, "requester", REQUESTER_TYPES, store, base)
    return patient[1]
