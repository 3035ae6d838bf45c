"""The model's only input: a Measurement of a known concept, in that concept's canonical unit.

Both sources of data produce Measurements: `app.model.physionet` (training, PhysioNet rows) and
`app.fhir.mapping` (live, FHIR Observations). The concept table below is the single place that says
what each concept means, its canonical UCUM unit, and the range of values a living patient can have;
training drops and live mapping rejects anything outside that range, so both see the same world.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Concept:
    key: str
    label: str  # what a clinician calls it
    unit: str  # canonical UCUM unit; values are always stored in this unit
    kind: str  # "vital", "lab" or "demographic"
    low: float  # plausible range, inclusive: values outside are rejected as implausible
    high: float
    physionet: str | None = None  # PhysioNet 2019 column, when the training data has it
    model_input: bool = True  # False: used by the alert policy or treatment bundle, not by the model
    display_unit: str | None = None  # how the unit reads on screen, when UCUM is unfriendly


@dataclass(frozen=True)
class Measurement:
    """One value of one concept at one time. `time` is timezone-aware; `value` is in `CONCEPTS[concept].unit`."""

    concept: str
    value: float
    time: datetime

    def __post_init__(self) -> None:
        if self.concept not in CONCEPTS:
            raise ValueError(f"unknown concept {self.concept!r}")
        if self.time.tzinfo is None:
            raise ValueError("Measurement.time must be timezone-aware")


_TABLE = [
    # key, label, unit, kind, low, high, physionet column, model input, display unit
    ("heart_rate", "Heart rate", "/min", "vital", 20, 300, "HR", True, "bpm"),
    ("spo2", "SpO2", "%", "vital", 50, 100, "O2Sat", True, None),
    ("temperature", "Temperature", "Cel", "vital", 25, 45, "Temp", True, "°C"),
    ("sbp", "Systolic BP", "mm[Hg]", "vital", 20, 300, "SBP", True, "mmHg"),
    ("map", "Mean arterial pressure", "mm[Hg]", "vital", 15, 250, "MAP", True, "mmHg"),
    ("dbp", "Diastolic BP", "mm[Hg]", "vital", 10, 200, "DBP", True, "mmHg"),
    ("resp_rate", "Respiratory rate", "/min", "vital", 2, 80, "Resp", True, "breaths/min"),
    ("etco2", "End-tidal CO2", "mm[Hg]", "vital", 0, 150, "EtCO2", True, "mmHg"),
    ("base_excess", "Base excess", "mmol/L", "lab", -40, 40, "BaseExcess", True, None),
    ("bicarbonate", "Bicarbonate", "mmol/L", "lab", 2, 60, "HCO3", True, None),
    ("fio2", "FiO2", "1", "lab", 0.15, 1.0, "FiO2", True, "fraction"),
    ("ph", "pH", "[pH]", "lab", 6.5, 8.0, "pH", True, ""),
    ("paco2", "PaCO2", "mm[Hg]", "lab", 5, 150, "PaCO2", True, "mmHg"),
    ("sao2", "SaO2", "%", "lab", 30, 100, "SaO2", True, None),
    ("ast", "AST", "U/L", "lab", 1, 20000, "AST", True, None),
    ("bun", "Urea nitrogen (BUN)", "mg/dL", "lab", 1, 300, "BUN", True, None),
    ("alkaline_phosphatase", "Alkaline phosphatase", "U/L", "lab", 5, 5000, "Alkalinephos", True, None),
    ("calcium", "Calcium", "mg/dL", "lab", 2, 20, "Calcium", True, None),
    ("chloride", "Chloride", "mmol/L", "lab", 50, 160, "Chloride", True, None),
    ("creatinine", "Creatinine", "mg/dL", "lab", 0.1, 25, "Creatinine", True, None),
    ("bilirubin_direct", "Bilirubin, direct", "mg/dL", "lab", 0, 40, "Bilirubin_direct", True, None),
    ("glucose", "Glucose", "mg/dL", "lab", 10, 2000, "Glucose", True, None),
    ("lactate", "Lactate", "mmol/L", "lab", 0.1, 30, "Lactate", True, None),
    ("magnesium", "Magnesium", "mg/dL", "lab", 0.3, 10, "Magnesium", True, None),
    ("phosphate", "Phosphate", "mg/dL", "lab", 0.3, 20, "Phosphate", True, None),
    ("potassium", "Potassium", "mmol/L", "lab", 1, 12, "Potassium", True, None),
    ("bilirubin_total", "Bilirubin, total", "mg/dL", "lab", 0, 60, "Bilirubin_total", True, None),
    ("troponin_i", "Troponin I", "ng/mL", "lab", 0, 500, "TroponinI", True, None),
    ("hematocrit", "Hematocrit", "%", "lab", 5, 75, "Hct", True, None),
    ("hemoglobin", "Hemoglobin", "g/dL", "lab", 1.5, 25, "Hgb", True, None),
    ("ptt", "PTT", "s", "lab", 10, 250, "PTT", True, None),
    ("wbc", "White cell count", "10*3/uL", "lab", 0.05, 500, "WBC", True, "×10³/µL"),
    ("fibrinogen", "Fibrinogen", "mg/dL", "lab", 20, 2000, "Fibrinogen", True, None),
    ("platelets", "Platelets", "10*3/uL", "lab", 1, 2000, "Platelets", True, "×10³/µL"),
    ("age", "Age", "a", "demographic", 0, 120, "Age", True, "years"),
    ("sex_male", "Male sex", "1", "demographic", 0, 1, "Gender", True, ""),
    # Not in the training data: used by the alert policy (INR) and the treatment bundle (weight).
    ("inr", "INR", "{INR}", "lab", 0.5, 20, None, False, ""),
    ("body_weight", "Body weight", "kg", "vital", 0.3, 500, None, False, None),
]

CONCEPTS: dict[str, Concept] = {
    row[0]: Concept(
        key=row[0], label=row[1], unit=row[2], kind=row[3], low=row[4], high=row[5],
        physionet=row[6], model_input=row[7], display_unit=row[8],
    )
    for row in _TABLE
}

MODEL_CONCEPTS: tuple[str, ...] = tuple(k for k, c in CONCEPTS.items() if c.model_input)


def is_plausible(concept: str, value: float) -> bool:
    """True when `value` (canonical unit) is a value a living patient can have."""
    c = CONCEPTS[concept]
    return value == value and c.low <= value <= c.high  # value == value rejects NaN
