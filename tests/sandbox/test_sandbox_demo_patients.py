"""The demo patients: PhysioNet set B courses as FHIR, shifted so the last row is now."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from app.config import shared_data_dir
from sandbox.demo_patients import ALTERNATE_UNITS, COLUMNS, build, records
from sandbox.demo_patients.derive import PATIENTS
from sandbox.demo_patients.derive import main as derive_main
from sandbox.settings import PACKAGE_DIR
from tests.support.sandbox_launch import START

DEMO_DIR = PACKAGE_DIR / "demo_patients"
TAR = shared_data_dir() / "data" / "physionet2019" / "training_setB.tar.gz"
NOW = datetime.fromtimestamp(START, UTC)
LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def demo():
    return {r["id"]: r for r in records(DEMO_DIR)}


def store(sandbox_app):
    return sandbox_app.extensions["sandbox"].store


def obs(sandbox_app, pid):
    return store(sandbox_app).in_compartment(pid, "Observation")


def test_ten_patients_of_every_kind(demo):
    kinds = [r["kind"] for r in demo.values()]
    assert len(demo) == 10
    assert kinds.count("septic") >= 3 and kinds.count("non-septic") >= 3
    assert kinds.count("high-risk-no-organ-dysfunction") == 1 and kinds.count("sparse") == 1
    assert all(r["source"]["set"] == "B" for r in demo.values())


def test_each_has_patient_encounter_and_weight(sandbox_app, demo):
    for pid, record in demo.items():
        patient = store(sandbox_app).get("Patient", pid)
        born = date.fromisoformat(patient["birthDate"])
        age = NOW.date().year - born.year - ((NOW.month, NOW.day) < (born.month, born.day))
        assert age == record["age"], pid
        assert patient["gender"] == record["gender"]
        (enc,) = store(sandbox_app).in_compartment(pid, "Encounter")
        assert enc["status"] == "in-progress" and enc["class"]["code"] == "IMP"
        assert datetime.fromisoformat(enc["period"]["start"]) == NOW + timedelta(hours=record["rows"][0]["h"])
        weights = [o for o in obs(sandbox_app, pid) if o["code"]["coding"][0]["code"] == "29463-7"]
        assert len(weights) == 1 and weights[0]["valueQuantity"]["code"] == "kg"


def test_the_last_row_is_now(sandbox_app, demo):
    for pid, record in demo.items():
        times = [datetime.fromisoformat(o["effectiveDateTime"]) for o in obs(sandbox_app, pid)]
        last_with_data = max(r["h"] for r in record["rows"] if len(r) > 1)
        assert max(times) == NOW + timedelta(hours=last_with_data), pid
    assert all(r["rows"][-1]["h"] == 0 for r in demo.values())


def test_observations_are_final_loinc_ucum_with_category(sandbox_app):
    for o in obs(sandbox_app, "demo-102421"):
        assert o["status"] == "final"
        assert o["category"][0]["coding"][0]["code"] in ("vital-signs", "laboratory")
        assert all(c["system"] == LOINC for c in o["code"]["coding"])
        for q in [o.get("valueQuantity")] + [c["valueQuantity"] for c in o.get("component", [])]:
            if q:
                assert q["system"] == "http://unitsofmeasure.org" and q["code"]


def _by_code(sandbox_app, pid, code):
    return [o for o in obs(sandbox_app, pid) if code in [c["code"] for c in o["code"]["coding"]]]


def test_blood_pressure_is_a_panel_with_components(sandbox_app):
    panel = _by_code(sandbox_app, "demo-102421", "85354-9")[0]
    assert [c["code"]["coding"][0]["code"] for c in panel["component"]] == ["8480-6", "8462-4"]
    assert panel["component"][0]["valueQuantity"]["code"] == "mm[Hg]"
    assert _by_code(sandbox_app, "demo-102421", "8478-0")[0]["valueQuantity"]["code"] == "mm[Hg]"


def test_spo2_is_double_coded_and_sao2_is_a_lab(sandbox_app):
    spo2 = _by_code(sandbox_app, "demo-102421", "59408-5")
    assert spo2 and all([c["code"] for c in o["code"]["coding"]] == ["59408-5", "2708-6"] for o in spo2)
    assert all(o["category"][0]["coding"][0]["code"] == "vital-signs" for o in spo2)
    sao2 = [o for o in _by_code(sandbox_app, "demo-102421", "2708-6") if len(o["code"]["coding"]) == 1]
    assert sao2 and all(o["category"][0]["coding"][0]["code"] == "laboratory" for o in sao2)


def test_some_patients_use_units_the_app_must_convert(sandbox_app, demo):
    fahrenheit = _by_code(sandbox_app, "demo-101521", "8310-5")
    assert fahrenheit and {o["valueQuantity"]["code"] for o in fahrenheit} == {"[degF]"}
    assert all(90 < o["valueQuantity"]["value"] < 110 for o in fahrenheit)
    lactate = _by_code(sandbox_app, "demo-108952", "59032-3")
    assert lactate and {o["valueQuantity"]["code"] for o in lactate} == {"mg/dL"}
    assert max(o["valueQuantity"]["value"] for o in lactate) > 18  # > 2 mmol/L
    fio2 = [o for pid in demo for o in _by_code(sandbox_app, pid, "3150-0")]
    assert fio2 and all(o["valueQuantity"]["code"] == "%" and o["valueQuantity"]["value"] > 1 for o in fio2)


def _organ_dysfunction(rows, units, hours):
    lactate = 2 * 9.008 if units.get("Lactate") == "mg/dL" else 2
    recent = [r for r in rows if r["h"] > -hours]
    return (any(r.get("SBP", 999) < 90 or r.get("MAP", 999) < 65 for r in recent)
            or any(r.get("Lactate", 0) > lactate or r.get("Creatinine", 0) > 2 or r.get("Bilirubin_total", 0) > 2
                   or r.get("Platelets", 999) < 100 for r in recent))


def test_septic_courses_show_organ_dysfunction_near_onset_and_the_others_do_not(demo):
    for record in demo.values():
        signs = _organ_dysfunction(record["rows"], record["units"], 12)
        if record["kind"] == "septic":
            assert signs and -6 <= record["sepsis_onset_hour"] <= 0, record["id"]
        else:
            assert not signs and record["sepsis_onset_hour"] is None, record["id"]
    sparse = next(r for r in demo.values() if r["kind"] == "sparse")
    assert sum(len(r) - 1 for r in sparse["rows"]) < 10


def test_weights_are_synthetic_and_plausible(demo):
    for record in demo.values():
        assert record["weight_is_synthetic"] and 45 <= record["weight_kg"] <= 110


def test_build_is_deterministic_for_a_given_now(demo):
    record = demo["demo-108952"]
    assert build(record, NOW) == build(record, NOW)
    shifted = build(record, NOW + timedelta(days=30))
    assert shifted[2]["effectiveDateTime"] != build(record, NOW)[2]["effectiveDateTime"]


def test_every_column_has_a_code(demo):
    used = {name for r in demo.values() for row in r["rows"] for name in row} - {"h", "SBP", "DBP"}
    assert used <= set(COLUMNS)
    assert set(ALTERNATE_UNITS) == {("Temp", "[degF]"), ("Lactate", "mg/dL")}


def test_derive_reproduces_the_committed_files(tmp_path, capsys):
    assert derive_main(["--tar", str(TAR), "--out", str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(PATIENTS)
    for path in sorted(DEMO_DIR.glob("*.json")):
        assert json.loads((tmp_path / path.name).read_text()) == json.loads(path.read_text()), path.name
