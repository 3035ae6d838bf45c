"""Demo patients: the small derived PhysioNet set B sample in this folder, turned into FHIR at sandbox start.

`derive.py` writes one JSON file per patient (hours relative to the last row, values already in the unit the
FHIR Observation carries). `load` shifts every row so the last one is "now" and builds a Patient, an
in-progress ICU Encounter, a body weight and one Observation per value (a BP panel per SBP/DBP pair).
Codes are LOINC, units UCUM; SpO2 is coded 59408-5 + 2708-6 as US Core does, arterial SaO2 2708-6 alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ..users import MICU_ID, ORGANIZATION_ID, SICU_ID

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
TAG_SYSTEM = "https://sandbox.sepsis-sentinel.invalid/tags"
VITAL, LAB = "vital-signs", "laboratory"
_CATEGORY_DISPLAY = {VITAL: "Vital Signs", LAB: "Laboratory"}


@dataclass(frozen=True)
class Column:
    """How one PhysioNet column becomes an Observation: codes (LOINC code, display), category, UCUM unit."""

    codes: tuple[tuple[str, str], ...]
    category: str
    unit: str  # UCUM code
    unit_display: str | None = None  # the human `unit` when it differs from the UCUM code


COLUMNS: dict[str, Column] = {
    "HR": Column((("8867-4", "Heart rate"),), VITAL, "/min", "beats/minute"),
    "O2Sat": Column((("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                     ("2708-6", "Oxygen saturation in Arterial blood")), VITAL, "%"),
    "Temp": Column((("8310-5", "Body temperature"),), VITAL, "Cel", "°C"),
    "MAP": Column((("8478-0", "Mean blood pressure"),), VITAL, "mm[Hg]", "mmHg"),
    "Resp": Column((("9279-1", "Respiratory rate"),), VITAL, "/min", "breaths/minute"),
    "EtCO2": Column((("19889-5", "Carbon dioxide [Partial pressure] in Exhaled gas --at end expiration"),),
                    VITAL, "mm[Hg]", "mmHg"),
    "BaseExcess": Column((("1925-7", "Base excess in Arterial blood by calculation"),), LAB, "mmol/L"),
    "HCO3": Column((("1963-8", "Bicarbonate [Moles/volume] in Serum or Plasma"),), LAB, "mmol/L"),
    "FiO2": Column((("3150-0", "Inhaled oxygen concentration"),), LAB, "%"),
    "pH": Column((("2744-1", "pH of Arterial blood"),), LAB, "[pH]", "pH"),
    "PaCO2": Column((("2019-8", "Carbon dioxide [Partial pressure] in Arterial blood"),), LAB, "mm[Hg]", "mmHg"),
    "SaO2": Column((("2708-6", "Oxygen saturation in Arterial blood"),), LAB, "%"),
    "AST": Column((("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma"),),
                  LAB, "U/L"),
    "BUN": Column((("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma"),), LAB, "mg/dL"),
    "Alkalinephos": Column((("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma"),),
                           LAB, "U/L"),
    "Calcium": Column((("17861-6", "Calcium [Mass/volume] in Serum or Plasma"),), LAB, "mg/dL"),
    "Chloride": Column((("2075-0", "Chloride [Moles/volume] in Serum or Plasma"),), LAB, "mmol/L"),
    "Creatinine": Column((("2160-0", "Creatinine [Mass/volume] in Serum or Plasma"),), LAB, "mg/dL"),
    "Bilirubin_direct": Column((("1968-7", "Bilirubin.direct [Mass/volume] in Serum or Plasma"),), LAB, "mg/dL"),
    "Glucose": Column((("2345-7", "Glucose [Mass/volume] in Serum or Plasma"),), LAB, "mg/dL"),
    "Lactate": Column((("2524-7", "Lactate [Moles/volume] in Serum or Plasma"),), LAB, "mmol/L"),
    "Magnesium": Column((("19123-9", "Magnesium [Mass/volume] in Serum or Plasma"),), LAB, "mg/dL"),
    "Phosphate": Column((("2777-1", "Phosphate [Mass/volume] in Serum or Plasma"),), LAB, "mg/dL"),
    "Potassium": Column((("2823-3", "Potassium [Moles/volume] in Serum or Plasma"),), LAB, "mmol/L"),
    "Bilirubin_total": Column((("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma"),), LAB, "mg/dL"),
    "TroponinI": Column((("10839-9", "Troponin I.cardiac [Mass/volume] in Serum or Plasma"),), LAB, "ng/mL"),
    "Hct": Column((("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count"),), LAB, "%"),
    "Hgb": Column((("718-7", "Hemoglobin [Mass/volume] in Blood"),), LAB, "g/dL"),
    "PTT": Column((("3173-2", "aPTT in Blood by Coagulation assay"),), LAB, "s"),
    "WBC": Column((("6690-2", "Leukocytes [#/volume] in Blood by Automated count"),), LAB, "10*3/uL"),
    "Fibrinogen": Column((("3255-7", "Fibrinogen [Mass/volume] in Platelet poor plasma by Coagulation assay"),),
                         LAB, "mg/dL"),
    "Platelets": Column((("777-3", "Platelets [#/volume] in Blood by Automated count"),), LAB, "10*3/uL"),
}
# Units other than the default that a patient file may choose ("units" in its JSON), for realism: the app must
# convert them. Mass-concentration lactate has its own LOINC code.
ALTERNATE_UNITS: dict[tuple[str, str], Column] = {
    ("Temp", "[degF]"): Column((("8310-5", "Body temperature"),), VITAL, "[degF]", "°F"),
    ("Lactate", "mg/dL"): Column((("59032-3", "Lactate [Mass/volume] in Blood"),), LAB, "mg/dL"),
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SBP = ("8480-6", "Systolic blood pressure")
DBP = ("8462-4", "Diastolic blood pressure")
BODY_WEIGHT = ("29463-7", "Body weight")
ICU_LOCATIONS = {"MICU": MICU_ID, "SICU": SICU_ID}


def column_for(name: str, units: dict[str, str]) -> Column:
    unit = units.get(name)
    return ALTERNATE_UNITS[(name, unit)] if unit else COLUMNS[name]


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


def birth_date(age: int, offset_days: int, today: date) -> date:
    """A birth date that makes the patient exactly `age` today (the birthday was `offset_days` ago, < 365)."""
    try:
        anniversary = today.replace(year=today.year - age)
    except ValueError:  # 29 February in a non-leap year
        anniversary = today.replace(year=today.year - age, day=28)
    return anniversary - timedelta(days=offset_days)


def _quantity(value: float, column: Column) -> dict:
    return {"value": value, "unit": column.unit_display or column.unit, "system": UCUM, "code": column.unit}


def _observation(oid: str, patient_ref: str, encounter_ref: str, when: str, category: str,
                 codes: tuple[tuple[str, str], ...]) -> dict:
    return {
        "resourceType": "Observation", "id": oid, "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category,
                                  "display": _CATEGORY_DISPLAY[category]}]}],
        "code": {"coding": [{"system": LOINC, "code": c, "display": d} for c, d in codes], "text": codes[0][1]},
        "subject": {"reference": patient_ref}, "encounter": {"reference": encounter_ref},
        "effectiveDateTime": when, "issued": when,
    }


def build(record: dict, now: datetime) -> list[dict]:
    """The FHIR resources of one demo patient, with the last row at `now`."""
    pid = record["id"]
    patient_ref, encounter_id = f"Patient/{pid}", f"{pid}-icu"
    encounter_ref = f"Encounter/{encounter_id}"
    rows, units = record["rows"], record.get("units", {})
    start = now + timedelta(hours=rows[0]["h"])
    source = record["source"]
    tag = {"system": TAG_SYSTEM, "code": "physionet-2019-set-b",
           "display": f"Derived from PhysioNet/CinC 2019 training set B record {source['record']}"}
    resources: list[dict] = [{
        "resourceType": "Patient", "id": pid, "meta": {"tag": [tag]}, "active": True,
        "identifier": [{"system": "https://sandbox.sepsis-sentinel.invalid/mrn", "value": f"MRN-{pid}"}],
        "name": [{"use": "official", "family": record["name"]["family"], "given": [record["name"]["given"]]}],
        "gender": record["gender"],
        "birthDate": birth_date(record["age"], record["birth_offset_days"], now.date()).isoformat(),
    }, {
        "resourceType": "Encounter", "id": encounter_id, "meta": {"tag": [tag]}, "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP",
                  "display": "inpatient encounter"},
        "type": [{"text": "Intensive care unit stay"}],
        "subject": {"reference": patient_ref}, "period": {"start": _iso(start)},
        "serviceProvider": {"reference": f"Organization/{ORGANIZATION_ID}"},
        # The ICU location period starts at ICU admission (ICULOS 0 of the record): the model's hours-in-ICU input.
        "location": [{"location": {"reference": f"Location/{ICU_LOCATIONS.get(record.get('icu'), MICU_ID)}"},
                      "status": "active",
                      "period": {"start": _iso(now - timedelta(hours=source["last_iculos"]))}}],
    }]
    weight = _observation(f"{pid}-weight", patient_ref, encounter_ref, _iso(start), VITAL, (BODY_WEIGHT,))
    weight["valueQuantity"] = {"value": record["weight_kg"], "unit": "kg", "system": UCUM, "code": "kg"}
    resources.append(weight)
    for index, row in enumerate(rows):
        when = _iso(now + timedelta(hours=row["h"]))
        if "SBP" in row or "DBP" in row:
            panel = _observation(f"{pid}-bp-{index}", patient_ref, encounter_ref, when, VITAL, (BP_PANEL,))
            bp = Column((), VITAL, "mm[Hg]", "mmHg")
            panel["component"] = [{"code": {"coding": [{"system": LOINC, "code": code[0], "display": code[1]}]},
                                   "valueQuantity": _quantity(row[col], bp)}
                                  for col, code in (("SBP", SBP), ("DBP", DBP)) if col in row]
            resources.append(panel)
        for name, value in row.items():
            if name in ("h", "SBP", "DBP"):
                continue
            column = column_for(name, units)
            obs = _observation(f"{pid}-{name.lower().replace('_', '-')}-{index}", patient_ref, encounter_ref,
                               when, column.category, column.codes)
            obs["valueQuantity"] = _quantity(value, column)
            resources.append(obs)
    return resources


def records(folder: Path) -> list[dict]:
    """The derived patient files, in the order derive.py listed them."""
    index = json.loads((folder / "index.json").read_text())
    return [json.loads((folder / f"{pid}.json").read_text()) for pid in index["patients"]]


def load(folder: Path, now: datetime) -> tuple[list[str], list[dict]]:
    """(patient ids in display order, all resources) for every demo patient."""
    ids, resources = [], []
    for record in records(folder):
        ids.append(record["id"])
        resources.extend(build(record, now))
    return ids, resources
