"""Observation -> Measurement | Rejected: what the clinician sees in "data used" and "data not used, and why"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.fhir.codes import CODES, resolve
from app.fhir.dates import BirthDate
from app.fhir.mapping import Mapped, Rejected, demographic_measurements, map_observation, map_observations
from app.fhir.searches import Demographics
from app.fhir.units import UNITS
from app.model.measurement import CONCEPTS
from tests.support.fhir import NOW, PATIENT, obs

WHEN = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)


def one(o: dict, **kw) -> Mapped | Rejected:
    out = map_observation(o, patient_id=PATIENT, now=NOW, **kw)
    assert len(out) == 1, out
    return out[0]


def used(o: dict) -> tuple[str, float]:
    r = one(o)
    assert isinstance(r, Mapped), r
    return r.measurement.concept, round(r.measurement.value, 2)


def rejected(o: dict, **kw) -> str:
    r = one(o, **kw)
    assert isinstance(r, Rejected), r
    return r.text


# -- units ----------------------------------------------------------------------------------------------------

def test_fahrenheit_temperature_is_converted_to_celsius():
    r = one(obs("8310-5", 101.3, "[degF]"))
    assert r.measurement.concept == "temperature" and round(r.measurement.value, 1) == 38.5
    assert (r.original_value, r.original_unit) == (101.3, "[degF]")
    assert r.measurement.time == WHEN


@pytest.mark.parametrize(("value", "unit", "celsius"), [(310.15, "K", 37.0), (37.2, "°C", 37.2),
                                                        (99.5, "°F", 37.5), (37.0, "Cel", 37.0)])
def test_other_temperature_units(value, unit, celsius):
    assert used(obs("8310-5", value, unit)) == ("temperature", celsius)


def test_fahrenheit_recorded_as_celsius_is_implausible_and_says_what_was_recorded():
    assert rejected(obs("8331-1", 101.3, "Cel")) == "implausible value (Temperature 101.3 °C)"
    assert rejected(obs("8310-5", 39.4, "[degF]")) == ("implausible value (Temperature 4.111 °C, recorded as "
                                                       "39.4 [degF])")


def test_lactate_in_mg_dl_is_converted_to_mmol_l():
    r = one(obs("2524-7", 36.0, "mg/dL", category="laboratory"))
    assert r.measurement.concept == "lactate" and round(r.measurement.value, 2) == 4.0
    assert used(obs("59032-3", 18.0, "mg/dL", category="laboratory")) == ("lactate", 2.0)


def test_bp_panel_with_no_unit_is_rejected_per_component():
    # README shape 2: 343 S1 panels whose SBP/DBP have a value but neither unit nor code.
    panel = obs("55284-4", category="vital-signs", component=[
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": 111.67607750361314, "system": "http://unitsofmeasure.org"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": 71.2, "system": "http://unitsofmeasure.org"}}])
    out = map_observation(panel, patient_id=PATIENT, now=NOW)
    assert [r.text for r in out] == ["unit missing (Systolic BP 111.7 with no unit)",
                                     "unit missing (Diastolic BP 71.2 with no unit)"]
    assert [r.code for r in out] == ["8480-6", "8462-4"]


def test_bp_panel_with_units_gives_sbp_dbp_and_map():
    panel = obs("85354-9", component=[
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": 88, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": 6.0, "unit": "kPa", "code": "kPa"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8478-0"}]},
         "valueQuantity": {"value": 60, "unit": "mmHg"}}])
    out = map_observation(panel, patient_id=PATIENT, now=NOW)
    assert [(m.measurement.concept, round(m.measurement.value, 1)) for m in out] == [
        ("sbp", 88.0), ("dbp", 45.0), ("map", 60.0)]


def test_wbc_in_k_per_ul_claimed_as_ucum_is_accepted():
    # README shape 3: the S1 acute-cholecystitis ED panel.
    o = obs("26464-8", 11.073327870561801, "K/uL", category="laboratory")
    o["code"]["coding"][0]["display"] = "White Blood Cell (Elevated)"
    r = one(o)
    assert (r.measurement.concept, round(r.measurement.value, 2), r.original_unit) == ("wbc", 11.07, "K/uL")


@pytest.mark.parametrize(("value", "unit", "expected"), [(11.5, "10*9/L", 11.5), (11500, "/uL", 11.5),
                                                         (11.5, "10^3/µL", 11.5), (11.5, "x10E3/uL", 11.5)])
def test_wbc_unit_spellings(value, unit, expected):
    assert used(obs("6690-2", value, unit, category="laboratory")) == ("wbc", expected)


@pytest.mark.parametrize(("code", "value", "unit", "concept", "expected"), [
    ("14682-9", 88.4, "umol/L", "creatinine", 1.0),
    ("2160-0", 1.2, "mg/dl", "creatinine", 1.2),
    ("14631-6", 34.2, "µmol/L", "bilirubin_total", 2.0),
    ("2345-7", 10.0, "mmol/L", "glucose", 180.16),
    ("3094-0", 10.0, "mmol/L", "bun", 28.01),
    ("2019-8", 5.0, "kPa", "paco2", 37.5),
    ("3150-0", 40, "%", "fio2", 0.4),
    ("3150-0", 0.4, "1", "fio2", 0.4),
    ("59408-5", 0.95, "1", "spo2", 95.0),
    ("4544-3", 0.42, "L/L", "hematocrit", 42.0),
    ("718-7", 125, "g/L", "hemoglobin", 12.5),
    ("3255-7", 4.0, "g/L", "fibrinogen", 400.0),
    ("89579-7", 250, "ng/L", "troponin_i", 0.25),
    ("29463-7", 154, "[lb_av]", "body_weight", 69.85),
    ("1920-8", 40, "IU/L", "ast", 40.0),
    ("20565-8", 22, "mmol/L", "bicarbonate", 22.0),
    ("8867-4", 88, "{beats}/min", "heart_rate", 88.0),
])
def test_unit_conversions(code, value, unit, concept, expected):
    assert used(obs(code, value, unit, category="laboratory")) == (concept, expected)


def test_ph_and_inr_need_no_unit_but_other_values_do():
    assert used(obs("2744-1", 7.31, None, category="laboratory")) == ("ph", 7.31)
    assert used(obs("6301-6", 1.4, None, category="laboratory")) == ("inr", 1.4)
    assert rejected(obs("8867-4", 88, None)) == "unit missing (Heart rate 88 with no unit)"
    assert rejected(obs("3150-0", 0.4, None)) == "unit missing (FiO2 0.4 with no unit)"


def test_unknown_unit_is_rejected_and_named():
    assert rejected(obs("2524-7", 2.0, "furlongs", category="laboratory")) == ("unit not recognised "
                                                                               "(Lactate in 'furlongs')")


def test_unit_code_and_text_that_disagree_are_rejected():
    o = obs("2524-7", 2.0, "mmol/L", category="laboratory")
    o["valueQuantity"]["unit"] = "mg/dL"
    assert rejected(o) == "unit unclear (unit code 'mmol/L' but unit text 'mg/dL')"


def test_unit_text_is_used_when_the_code_is_missing():
    o = obs("8310-5", 38.2, None)
    o["valueQuantity"]["unit"] = "°C"
    assert used(o) == ("temperature", 38.2)


# -- codes ------------------------------------------------------------------------------------------------------

def test_any_coding_may_match_and_dual_coding_gives_one_measurement():
    assert used(obs(["8310-5", "8331-1"], 37.9, "Cel")) == ("temperature", 37.9)
    assert used(obs(["2708-6", "59408-5"], 90, "%")) == ("spo2", 90.0)


def test_oxygen_saturation_2708_6_is_sao2_on_a_lab_result_and_spo2_on_a_vital_sign():
    assert used(obs("2708-6", 91, "%", category="laboratory")) == ("sao2", 91.0)
    assert used(obs("2708-6", 91, "%", category="vital-signs")) == ("spo2", 91.0)


def test_display_text_is_never_matched():
    o = obs("99999-9", 12.0, "10*3/uL", category="laboratory")
    o["code"]["coding"][0]["display"] = "Leukocytes [#/volume] in Blood by Automated count"
    o["code"]["text"] = "WBC"
    assert map_observation(o, patient_id=PATIENT, now=NOW) == []


def test_non_loinc_system_is_not_matched():
    o = obs("8867-4", 80, "/min")
    o["code"]["coding"][0]["system"] = "http://example.org/local-codes"
    assert map_observation(o, patient_id=PATIENT, now=NOW) == []


def test_codes_that_name_different_concepts_are_rejected():
    assert rejected(obs(["8867-4", "9279-1"], 20, "/min")) == "codes disagree (8867-4, 9279-1)"


def test_unused_codes_are_not_relevant_rather_than_rejected():
    result = map_observations([obs("2093-3", 180, "mg/dL", oid="chol", category="laboratory"),
                               obs("72166-2", None, oid="smoking", category="social-history")],
                              patient_id=PATIENT, now=NOW)
    assert result.used == () and result.rejected == () and result.not_relevant == 2


def test_every_model_concept_has_codes_and_units():
    observable = set(CONCEPTS) - {"age", "sex_male"}
    assert {c for c, codes in CODES.items() if codes} | {"sao2"} == observable
    assert set(UNITS) == observable
    for concept, table in UNITS.items():
        assert CONCEPTS[concept].unit in table, concept  # the canonical unit converts to itself
        assert table[CONCEPTS[concept].unit](7.0) == 7.0


def test_resolve_ignores_junk():
    assert not resolve({"coding": [None, 3, {"system": "http://loinc.org", "code": 8867}]}).relevant
    assert not resolve("8867-4").relevant


# -- rejection reasons ------------------------------------------------------------------------------------------

def test_data_absent_reason():
    o = obs("2524-7", None, category="laboratory",
            dataAbsentReason={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                          "code": "error", "display": "Error"}]})
    assert rejected(o) == "value absent (Error)"


def test_component_data_absent_reason():
    panel = obs("85354-9", component=[
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "dataAbsentReason": {"text": "patient refused"}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": 70, "unit": "mm[Hg]", "code": "mm[Hg]"}}])
    out = map_observation(panel, patient_id=PATIENT, now=NOW)
    assert isinstance(out[0], Rejected) and out[0].text == "value absent (patient refused)"
    assert isinstance(out[1], Mapped) and out[1].measurement.concept == "dbp"


def test_an_observation_about_another_patient_is_rejected():
    assert rejected(obs("8867-4", 80, "/min", patient="someone-else")) == "about another patient"
    no_subject = obs("8867-4", 80, "/min")
    del no_subject["subject"]
    assert rejected(no_subject) == "patient not stated"


def test_absolute_and_versioned_subject_references_to_the_patient_are_accepted():
    o = obs("8867-4", 80, "/min")
    o["subject"]["reference"] = f"https://ehr.example.org/fhir/r4/Patient/{PATIENT}/_history/3"
    assert used(o) == ("heart_rate", 80.0)
    assert isinstance(one(o, base="https://ehr.example.org/fhir/r4"), Mapped)
    assert rejected(o, base="https://other.example.org/fhir") == "about another patient"


@pytest.mark.parametrize(("status", "text"), [
    ("entered-in-error", "entered in error"), ("cancelled", "cancelled"),
    ("registered", "no result yet (registered)"), ("unknown", "status unknown"),
])
def test_unusable_statuses(status, text):
    assert rejected(obs("8867-4", 80, "/min", status=status)) == text


@pytest.mark.parametrize("status", ["final", "amended", "corrected", "preliminary"])
def test_usable_statuses_are_kept_and_visible(status):
    r = one(obs("8867-4", 80, "/min", status=status))
    assert isinstance(r, Mapped) and r.status == status


@pytest.mark.parametrize(("when", "text"), [
    ("2026-11-23", "date only, no time of day"),
    ("2026-11-23T07:30:00", "time has no time zone"),
    ("yesterday", "time not readable"),
    ("2026-02-30T07:30:00Z", "time not readable"),
    ("2026-11-23T09:00:00-06:00", "time in the future (recorded for 2026-11-23T09:00-06:00)"),
])
def test_time_problems(when, text):
    assert rejected(obs("8867-4", 80, "/min", when=when)) == text


def test_no_effective_time():
    o = obs("8867-4", 80, "/min")
    del o["effectiveDateTime"]
    assert rejected(o) == "no time recorded"


def test_a_few_minutes_of_device_clock_skew_is_not_the_future():
    assert used(obs("8867-4", 80, "/min", when="2026-11-23T08:03:00-06:00")) == ("heart_rate", 80.0)


def test_effective_period_uses_its_end():
    o = obs("8867-4", 80, "/min")
    del o["effectiveDateTime"]
    o["effectivePeriod"] = {"start": "2026-11-23T06:00:00-06:00", "end": "2026-11-23T07:00:00-06:00"}
    assert one(o).measurement.time == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def test_older_than_the_window():
    text = rejected(obs("8867-4", 80, "/min", when="2026-11-19T07:30:00-06:00"),
                    not_before=NOW - timedelta(hours=72))
    assert text.startswith("older than the time window (measured 2026-11-19T07:30-06:00")


@pytest.mark.parametrize(("value", "text"), [
    (4.1, "implausible value (Temperature 4.1 °C)"),
    (0, "implausible value (Temperature 0 °C)"),
])
def test_implausible_values(value, text):
    assert rejected(obs("8310-5", value, "Cel")) == text


def test_non_numeric_and_limit_values():
    o = obs("2524-7", None, category="laboratory", valueString="<0.3")
    assert rejected(o) == "value not a number (recorded as String)"
    o = obs("2524-7", 0.3, "mmol/L", category="laboratory")
    o["valueQuantity"]["comparator"] = "<"
    assert rejected(o) == "value is a limit, not a measurement (<0.3)"
    assert rejected(obs("8867-4", None)) == "no value"


def test_a_malformed_observation_is_rejected_with_where_it_is_wrong():
    o = obs("8867-4", 80, "/min")
    o["valueQuantity"]["value"] = "eighty"
    assert rejected(o) == "not a valid FHIR Observation (valueQuantity.value: wrong type or format)"


def test_unknown_extra_elements_from_newer_fhir_versions_are_tolerated():
    o = obs("8867-4", 80, "/min", triggeredBy=[{"type": "reflex"}])
    assert used(o) == ("heart_rate", 80.0)


# -- many Observations --------------------------------------------------------------------------------------

def test_duplicates_same_concept_time_and_value_are_rejected_once():
    # README shape 5: Bebe406 has SpO2 90 % twice at 2024-01-07T15:52:37 under two ids.
    a = obs(["2708-6", "59408-5"], 90, "%", oid="spo2-a")
    b = obs(["2708-6", "59408-5"], 90, "%", oid="spo2-b")
    c = obs(["2708-6", "59408-5"], 91, "%", oid="spo2-c")
    result = map_observations([a, b, c, a], patient_id=PATIENT, now=NOW)
    assert [m.observation_id for m in result.used] == ["spo2-a", "spo2-c"]
    assert [r.text for r in result.rejected] == ["duplicate (same time and value as Observation spo2-a)"]
    assert result.reason_counts() == {"duplicate": 1}


def test_the_same_value_in_two_units_is_a_duplicate():
    a = obs("8310-5", 38.5, "Cel", oid="c")
    b = obs("8310-5", 101.3, "[degF]", oid="f")
    assert map_observations([a, b], patient_id=PATIENT, now=NOW).reason_counts() == {"duplicate": 1}


def test_reason_counts_and_labels():
    result = map_observations([obs("8310-5", 4.1, "Cel", oid="a"), obs("8310-5", 4.2, "Cel", oid="b"),
                               obs("8867-4", 80, None, oid="c")], patient_id=PATIENT, now=NOW)
    assert result.reason_counts() == {"implausible value": 2, "unit missing": 1}
    assert [r.label for r in result.rejected] == ["Temperature", "Temperature", "Heart rate"]


# -- demographics -----------------------------------------------------------------------------------------------

def test_demographics_become_age_and_sex_at_now():
    demo = Demographics(PATIENT, "Ada", BirthDate(datetime(1950, 6, 15).date(), "day"), "male")
    out = demographic_measurements(demo, NOW)
    assert [(m.measurement.concept, round(m.measurement.value, 1), m.measurement.time) for m in out] == [
        ("age", 76.4, NOW), ("sex_male", 1.0, NOW)]


@pytest.mark.parametrize("sex", ["other", "unknown", None])
def test_unknown_sex_gives_no_sex_measurement(sex):
    demo = Demographics(PATIENT, None, None, sex)
    assert demographic_measurements(demo, NOW) == []


def test_female_is_zero_and_an_impossible_age_is_rejected():
    demo = Demographics(PATIENT, None, BirthDate(datetime(1850, 1, 1).date(), "day"), "female")
    out = demographic_measurements(demo, NOW)
    assert isinstance(out[0], Rejected) and out[0].reason == "implausible value"
    assert out[1].measurement.value == 0.0
