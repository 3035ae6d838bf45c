"""The fast structure check agrees with fhirclient: it never passes what fhirclient's strict parse refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from fhirclient.models.observation import Observation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.fhir.conformance import conforms
from app.fhir.conformance import structure_problem as _structure_problem
from tests.support.fhir_strategies import json_values, observations

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fhir-sample-patients"
SETTINGS = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def fhirclient_accepts(doc) -> bool:
    try:
        Observation(doc)
    except Exception:  # noqa: BLE001 - any refusal
        return False
    return True


def sample_observations() -> list[dict]:
    found = []
    for path in sorted(SAMPLES.glob("*.json"))[:8]:
        bundle = json.loads(path.read_text())
        found += [e["resource"] for e in bundle.get("entry", [])
                  if e.get("resource", {}).get("resourceType") == "Observation"]
    return found


GOOD = {"resourceType": "Observation", "id": "o1", "status": "final",
        "meta": {"versionId": "1", "lastUpdated": "2026-11-23T21:42:44+00:00"},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Heart rate"},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-11-23T07:30:00-06:00",
        "issued": "2026-11-23T13:30:00.123Z", "valueQuantity": {"value": 88, "unit": "/min", "code": "/min"},
        "component": [{"code": {"text": "x"}, "valueQuantity": {"value": 1.5}}],
        "_status": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}}


def test_a_well_formed_observation_conforms():
    assert fhirclient_accepts(GOOD) and conforms(Observation, GOOD)


@pytest.mark.parametrize("change", [
    lambda d: d.pop("status"),  # required
    lambda d: d.pop("code"),  # required
    lambda d: d["component"][0].pop("code"),  # required in a component
    lambda d: d.update(status=7),  # wrong type
    lambda d: d.update(category={"coding": []}),  # a list element given as an object
    lambda d: d.update(code=[d["code"]]),  # an object given as a list
    lambda d: d.update(effectiveDateTime="2026-02-30T10:00:00Z"),  # not a calendar date
    lambda d: d.update(effectiveDateTime="23/11/2026"),  # not a FHIR dateTime
    lambda d: d["valueQuantity"].update(value="88"),
    lambda d: d.update(resourceType="Condition"),
    lambda d: d.update(newElement=1),  # unknown: fhirclient tolerates it, the check leaves it to fhirclient
    lambda d: d.update(contained=[{"resourceType": "Patient", "id": "x"}]),
    lambda d: d.update(_status=None),
])
def test_anything_unusual_is_left_to_fhirclient(change):
    doc = copy.deepcopy(GOOD)
    change(doc)
    assert not conforms(Observation, doc)


def test_the_page_sees_the_same_problem_either_way():
    doc = copy.deepcopy(GOOD)
    doc["valueQuantity"]["value"] = "88"
    assert _structure_problem(doc) == "valueQuantity.value: wrong type or format"
    doc = copy.deepcopy(GOOD)
    doc["newElement"] = {"a": 1}
    assert _structure_problem(doc) is None  # fhirclient tolerates unknown elements, and still decides


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared sample patients not present")
def test_real_observations_conform_as_fhirclient_says():
    docs = sample_observations()
    assert docs
    assert [conforms(Observation, d) for d in docs] == [fhirclient_accepts(d) for d in docs]


def mutations(doc):
    """Observation-shaped junk, and junk dropped into random places of a good Observation."""
    return st.one_of(observations(), st.builds(_replace_somewhere, st.just(doc), st.lists(st.integers(0, 50),
                                                                                           min_size=1, max_size=3),
                                               json_values))


def _replace_somewhere(doc, path, value):
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        children = [(k, v) for k, v in children if isinstance(v, dict | list) and v]
        if not children:
            break
        node = children[step % len(children)][1]
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    if keys:
        node[keys[path[-1] % len(keys)]] = value
    return doc


@SETTINGS
@given(mutations(GOOD))
def test_never_passes_what_fhirclient_refuses(doc):
    if conforms(Observation, doc):
        assert fhirclient_accepts(doc)
