"""The shared sample Bundles load as a FHIR server would load them: ids from fullUrls, references resolved."""

from __future__ import annotations

import copy
import json

import pytest

from sandbox import create_sandbox
from sandbox.fhir.loader import load_bundle
from sandbox.fhir.store import ResourceStore
from sandbox.settings import SandboxConfigError


def all_references(node):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for key, value in node.items():
            if key != "text":
                yield from all_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_references(item)


def test_all_32_sample_patients_load_after_the_demo_ones(sandbox_app):
    sandbox = sandbox_app.extensions["sandbox"]
    assert len(sandbox.sample_patient_ids) == 32
    assert len(sandbox.demo_patient_ids) == 10
    # S1 ids are the public SMART sandbox's Patient ids (README: the file name's UUID is not the id).
    assert "87a339d0-8cae-418e-89c7-8651e6aab3c6" in sandbox.sample_patient_ids


def test_every_reference_resolves_to_a_stored_resource(sandbox_app):
    store = sandbox_app.extensions["sandbox"].store
    refs = {ref for resource in store for ref in all_references(resource)}
    assert not [r for r in refs if r.startswith("urn:uuid:") or "?" in r]
    dangling = [r for r in refs if r.count("/") == 1 and store.get(*r.split("/")) is None]
    assert dangling == []


def test_s2_conditional_practitioner_references_resolve(sandbox_app):
    store = sandbox_app.extensions["sandbox"].store
    lance = "716c6d0a-2a5d-0aaa-9ced-312ed6a943da"
    encounters = store.in_compartment(lance, "Encounter")
    practitioners = {p["individual"]["reference"] for e in encounters for p in e.get("participant", [])
                     if "individual" in p}
    assert practitioners and all(store.get(*ref.split("/")) for ref in practitioners)


def test_a_transaction_with_a_dangling_conditional_reference_is_rejected_whole():
    from sandbox.fhir.loader import BundleRejected

    store = ResourceStore()
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1"},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:e1", "resource": {
            "resourceType": "Encounter", "id": "e1", "subject": {"reference": "urn:uuid:p1"},
            "participant": [{"individual": {"reference": "Practitioner?identifier=http://x|1"}}]},
         "request": {"method": "POST", "url": "Encounter"}},
    ]}
    with pytest.raises(BundleRejected):
        load_bundle(copy.deepcopy(bundle), store, "2026-01-01T00:00:00+00:00")
    assert store.count() == 0
    store.add({"resourceType": "Practitioner", "id": "dr", "identifier": [{"system": "http://x", "value": "1"}]})
    assert load_bundle(copy.deepcopy(bundle), store, "2026-01-01T00:00:00+00:00") == ["p1"]
    assert store.get("Encounter", "e1")["participant"][0]["individual"]["reference"] == "Practitioner/dr"


def test_a_missing_data_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SandboxConfigError, match="SAMPLE_PATIENTS_DIR"):
        create_sandbox({"SAMPLE_PATIENTS_DIR": tmp_path / "nowhere"})


def test_unknown_and_bad_settings_are_refused():
    with pytest.raises(SandboxConfigError, match="unknown sandbox setting"):
        create_sandbox({"ACCES_TOKEN_LIFETIME": 5})
    with pytest.raises(SandboxConfigError, match="ACCESS_TOKEN_LIFETIME"):
        create_sandbox({"ACCESS_TOKEN_LIFETIME": 0})


def test_a_folder_of_non_bundles_is_an_error(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"resourceType": "Patient", "id": "1"}))
    app = create_sandbox({"SAMPLE_PATIENTS_DIR": tmp_path, "LOAD_DEMO_PATIENTS": False})
    assert app.extensions["sandbox"].sample_patient_ids == []


def test_startup_is_quick(sandbox_app):
    # Tests start the sandbox once per session; the issue asks for a few seconds at most.
    assert sandbox_app.extensions["sandbox"].startup_seconds < 6
