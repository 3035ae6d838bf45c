"""What the sandbox serves parses with fhirclient's strict R4 models (structure and types)."""

from __future__ import annotations

from fhirclient.models.bundle import Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirclient.models.operationoutcome import OperationOutcome

from tests.support.sandbox_launch import SEPTIC, bearer, ehr_launch


def test_demo_and_ehr_resources_are_valid_r4(sandbox_app):
    store = sandbox_app.extensions["sandbox"].store
    checked = 0
    for pid in sandbox_app.extensions["sandbox"].demo_patient_ids:
        for rtype in ("Patient", "Encounter", "Observation"):
            for resource in store.in_compartment(pid, rtype):
                FHIRElementFactory.instantiate(rtype, resource)
                checked += 1
    for rtype in ("Practitioner", "PractitionerRole", "Organization", "Location"):
        for resource in store.all_of(rtype)[:5]:
            FHIRElementFactory.instantiate(rtype, resource)
    assert checked > 2000


def test_responses_are_valid_r4(client):
    token = ehr_launch(client)
    CapabilityStatement(client.get("/fhir/metadata").json)
    Bundle(client.get(f"/fhir/Observation?patient={SEPTIC}&_count=20&frob=1", headers=bearer(token)).json)
    Bundle(client.get(f"/fhir/Observation?patient={SEPTIC}&_summary=count", headers=bearer(token)).json)
    OperationOutcome(client.get("/fhir/Observation").json)
