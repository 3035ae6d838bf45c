"""SMART scope parsing and granting (SMART App Launch 2.0 "Scopes and Launch Context"), without Flask."""

from __future__ import annotations

import pytest

from sandbox.auth.scopes import grant, parse_clinical
from sandbox.fhir.access import Access


@pytest.mark.parametrize("text, context, resource, perms", [
    ("patient/Observation.rs", "patient", "Observation", "rs"),
    ("user/Practitioner.r", "user", "Practitioner", "r"),
    ("patient/*.cruds", "patient", "*", "cruds"),
    ("patient/Observation.read", "patient", "Observation", "rs"),
    ("patient/*.*", "patient", "*", "cruds"),
    ("user/ServiceRequest.write", "user", "ServiceRequest", "cud"),
])
def test_v1_and_v2_scopes_parse(text, context, resource, perms):
    scope = parse_clinical(text)
    assert (scope.context, scope.resource, scope.permissions) == (context, resource, frozenset(perms))


@pytest.mark.parametrize("text", ["patient/Observation.dus", "patient/Observation.", "patient/observation.rs",
                                  "practitioner/Observation.rs", "openid", "patient/Observation.rs?category"])
def test_malformed_or_out_of_order_scopes_are_not_clinical(text):
    assert parse_clinical(text) is None


def test_granular_scope_keeps_its_constraint():
    text = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    scope = parse_clinical(text)
    assert scope.query == (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),)
    assert scope.text() == text


@pytest.mark.parametrize("requested, registered, granted", [
    ("patient/Observation.rs", "patient/*.cruds", "patient/Observation.rs"),
    ("patient/Observation.cruds", "patient/Observation.rs", "patient/Observation.rs"),
    ("patient/Observation.read", "patient/*.cruds", "patient/Observation.read"),
    ("patient/Observation.write", "patient/Observation.rs", None),
    ("user/Observation.rs", "patient/*.cruds", None),
    ("system/Observation.rs", "system/*.rs", None),
    ("openid fhirUser launch", "openid launch", "openid launch"),
    ("launch made-up/scope patient/Observation.rs", "launch patient/Observation.rs", "launch patient/Observation.rs"),
    ("patient/*.rs", "patient/Observation.rs patient/Encounter.r", "patient/Observation.rs patient/Encounter.r"),
    ("", "patient/*.rs", None),
])
def test_grant_is_what_was_asked_cut_to_what_was_registered(requested, registered, granted):
    assert grant(requested, registered) == granted


def test_access_by_context_and_interaction():
    patient = {"resourceType": "Patient", "id": "p1"}
    obs = {"resourceType": "Observation", "id": "o", "subject": {"reference": "Patient/p1"}}
    other = {"resourceType": "Observation", "id": "o2", "subject": {"reference": "Patient/p2"}}
    access = Access.of("patient/Observation.rs patient/Patient.r", "p1")
    assert access.allows(obs, "s", "http://x/fhir") and access.allows(patient, "r", "http://x/fhir")
    assert not access.allows(other, "r", "http://x/fhir")
    assert not access.allows(obs, "c", "http://x/fhir")
    assert not Access.of("patient/Observation.rs", None).scopes_for("Observation", "s")  # no patient context
    assert Access.of("user/Observation.rs", None).allows(other, "r", "http://x/fhir")
