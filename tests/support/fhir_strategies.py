"""Hypothesis strategies for FHIR JSON: any JSON value, and Observations of the model's codes with some of their
elements replaced, dropped or added as junk (the property tests of mapping and conformance)."""

from __future__ import annotations

from hypothesis import strategies as st

from app.fhir.codes import BP_PANELS, CODE_TO_CONCEPT
from app.fhir.units import UNITS
from tests.support.fhir import PATIENT

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)


json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


codes = st.sampled_from(sorted(CODE_TO_CONCEPT) + sorted(BP_PANELS) + ["2093-3", "8480-6x", ""])


systems = st.sampled_from(["http://loinc.org", "urn:oid:2.16.840.1.113883.6.1", "http://snomed.info/sct", None])


units = st.sampled_from(sorted({u for table in UNITS.values() for u in table}) + ["", "furlongs", "mg", "%%"])


numbers = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-10**20, max_value=10**20)
           | st.floats(min_value=-1000, max_value=1000) | st.booleans() | st.text(max_size=5))


times = st.sampled_from(["2026-11-23T07:30:00-06:00", "2026-11-23T13:00:00Z", "2026-11-23", "2026",
                         "2026-11-23T07:30:00", "2099-01-01T00:00:00Z", "1900-01-01T00:00:00Z", "junk",
                         "2026-13-45T99:99:99Z"]) | st.none() | json_scalars


def codeable():
    coding = st.fixed_dictionaries({"code": codes}, optional={"system": systems, "display": st.text(max_size=10)})
    return st.fixed_dictionaries({}, optional={"coding": st.lists(coding | json_values, max_size=3),
                                               "text": st.text(max_size=5)})


def quantity():
    return st.fixed_dictionaries({}, optional={
        "value": numbers, "unit": units | json_scalars, "code": units | json_scalars,
        "system": st.just("http://unitsofmeasure.org"), "comparator": st.sampled_from(["<", ">=", "ad"])})


def value_holder():
    return st.fixed_dictionaries({"code": codeable()}, optional={
        "valueQuantity": quantity() | json_values, "valueString": st.text(max_size=5),
        "valueInteger": numbers, "dataAbsentReason": json_values})


GOOD_TIMES = ["2026-11-23T07:30:00-06:00", "2026-11-23T13:00:00Z", "2026-11-20T13:00:00.123+01:00"]


JUNK = {
    "id": json_scalars,
    "status": st.sampled_from(["cancelled", "entered-in-error", "registered", "unknown", "bogus"]) | json_scalars,
    "code": codeable(),
    "subject": st.sampled_from([{"reference": "Patient/other"}, {"display": "x"}]) | json_values,
    "effectiveDateTime": times,
    "valueQuantity": quantity() | json_values,
    "category": json_values,
    "effectivePeriod": st.fixed_dictionaries({}, optional={"start": times, "end": times}) | json_values,
    "valueString": st.text(max_size=5),
    "dataAbsentReason": json_values,
    "component": st.lists(value_holder() | json_values, max_size=3) | json_values,
}


@st.composite
def observations(draw):
    """A well-formed Observation of a model code, then a few of its elements replaced, dropped or added as junk."""
    code = draw(st.sampled_from(sorted(CODE_TO_CONCEPT)))
    good_unit = st.sampled_from(sorted(UNITS[CODE_TO_CONCEPT[code]]))
    doc = {
        "resourceType": "Observation",
        "id": draw(st.text(min_size=1, max_size=6)),
        "status": draw(st.sampled_from(["final", "preliminary", "amended", "corrected"])),
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "category": [{"coding": [{"code": draw(st.sampled_from(["vital-signs", "laboratory"]))}]}],
        "effectiveDateTime": draw(st.sampled_from(GOOD_TIMES)),
        "valueQuantity": draw(st.fixed_dictionaries(
            {"value": st.floats(min_value=0.05, max_value=150) | numbers, "code": good_unit},
            optional={"unit": good_unit | units, "comparator": st.just("<")})),
    }
    for key in draw(st.lists(st.sampled_from(sorted(JUNK)), max_size=3)):
        if draw(st.booleans()):
            doc[key] = draw(JUNK[key])
        else:
            doc.pop(key, None)
    return doc

