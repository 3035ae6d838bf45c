"""PhysioNet 2019 training data -> Measurements: the training-time source of model input.

Format: one pipe-separated file per ICU stay, one row per ICU hour, 41 columns, `NaN` for missing
(Reyna et al., Crit Care Med 2020;48:210; https://physionet.org/content/challenge-2019/1.0.0/).
Each column is mapped through the `physionet` column of `CONCEPTS`, and a value is kept only when
`is_plausible` accepts it: the same rule the live FHIR mapping applies, so training and scoring see
the same world.

Units: the challenge documentation lists Lactate in mg/dL and Magnesium in mmol/dL, but the values
themselves (set A medians 1.8 and 2.0) are mmol/L and mg/dL, the canonical units in `CONCEPTS`, so
no conversion is applied.

Times: the files carry no clock time, only ICULOS (hours since ICU admission). Row h is placed at
`ORIGIN + h hours`; ORIGIN is arbitrary, fixed and timezone-aware, and is the ICU admission time
(`Stay.icu_admitted_at`), so the pipeline's `hours_in_icu` equals ICULOS, as it equals the hours since
the Encounter's ICU location period began live. Age and Gender become `age` and `sex_male`
Measurements at the stay's first row. HospAdmTime, Unit1 and Unit2 are never inputs: they encode each
hospital's pathway and transfer badly (unit is missing for 47% of set A stays). Unit1/Unit2 are kept on
the `Stay` only to describe the cohort in the model card.
"""

from __future__ import annotations

import tarfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from app.model.measurement import CONCEPTS, Measurement, is_plausible

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)

HEADER = (
    "HR|O2Sat|Temp|SBP|MAP|DBP|Resp|EtCO2|BaseExcess|HCO3|FiO2|pH|PaCO2|SaO2|AST|BUN|Alkalinephos|"
    "Calcium|Chloride|Creatinine|Bilirubin_direct|Glucose|Lactate|Magnesium|Phosphate|Potassium|"
    "Bilirubin_total|TroponinI|Hct|Hgb|PTT|WBC|Fibrinogen|Platelets|Age|Gender|Unit1|Unit2|"
    "HospAdmTime|ICULOS|SepsisLabel"
).split("|")
_COLUMN = {name: i for i, name in enumerate(HEADER)}
_STATIC = ("age", "sex_male")  # one value per stay, placed at the first row
_TIMED = tuple(
    (key, _COLUMN[c.physionet]) for key, c in CONCEPTS.items() if c.physionet and key not in _STATIC
)


class PhysioNetFormatError(ValueError):
    """A file that is not in the PhysioNet 2019 format."""


@dataclass(frozen=True)
class Stay:
    """One ICU stay: its Measurements, and per row the ICU hour and the challenge label."""

    patient: str  # file stem, e.g. "p000001"
    hours: np.ndarray  # ICULOS of each row (int)
    labels: np.ndarray  # SepsisLabel of each row (0/1, int8)
    measurements: tuple[Measurement, ...]
    unit: str | None  # "MICU", "SICU" or None: describes the cohort only, never a model input
    implausible: tuple[tuple[str, int], ...] = ()  # (concept, values dropped by is_plausible), for the card

    @property
    def times(self) -> list[datetime]:
        """The time each row is scored at (the end of its ICU hour)."""
        return [hour_time(int(h)) for h in self.hours]

    @property
    def icu_admitted_at(self) -> datetime:
        """ICU admission: ICULOS counts hours from it."""
        return ORIGIN

    @property
    def septic(self) -> bool:
        return bool(self.labels.any())


def hour_time(iculos: int) -> datetime:
    return ORIGIN + timedelta(hours=iculos)


def parse_stay(text: str, patient: str) -> Stay:
    """Parse one `.psv` file's text into a Stay."""
    lines = text.splitlines()
    if not lines or lines[0].split("|") != HEADER:
        raise PhysioNetFormatError(f"{patient}: not a PhysioNet 2019 file (unexpected header)")
    try:
        rows = np.array([line.split("|") for line in lines[1:]], dtype=float)
    except ValueError as exc:
        raise PhysioNetFormatError(f"{patient}: malformed row ({exc})") from None
    if rows.ndim != 2 or rows.shape[1] != len(HEADER) or len(rows) == 0:
        raise PhysioNetFormatError(f"{patient}: expected rows of {len(HEADER)} fields")
    hours = rows[:, _COLUMN["ICULOS"]].astype(int)
    times = [hour_time(int(h)) for h in hours]
    out: list[Measurement] = []
    dropped: dict[str, int] = {}
    for key in _STATIC:
        value = rows[0, _COLUMN[CONCEPTS[key].physionet]]
        if is_plausible(key, value):
            out.append(Measurement(key, float(value), times[0]))
    for key, col in _TIMED:
        values = rows[:, col]
        for i in np.flatnonzero(~np.isnan(values)):
            value = float(values[i])
            if is_plausible(key, value):
                out.append(Measurement(key, value, times[i]))
            else:
                dropped[key] = dropped.get(key, 0) + 1
    unit1, unit2 = rows[0, _COLUMN["Unit1"]], rows[0, _COLUMN["Unit2"]]
    unit = "MICU" if unit1 == 1 else "SICU" if unit2 == 1 else None
    labels = rows[:, _COLUMN["SepsisLabel"]].astype(np.int8)
    return Stay(patient=patient, hours=hours, labels=labels, measurements=tuple(out), unit=unit,
                implausible=tuple(sorted(dropped.items())))


def read_stays(path: str | Path, patients: Collection[str] | None = None) -> Iterator[Stay]:
    """Every stay (or only `patients`) in a folder of `.psv` files or a `.tar.gz` of them, in file-name order.

    A tar is read in one sequential pass: looking members up by name rescans the gzip stream.
    """
    path = Path(path)
    wanted = None if patients is None else set(patients)
    if path.is_dir():
        for file in sorted(path.rglob("*.psv")):
            if wanted is None or file.stem in wanted:
                yield parse_stay(file.read_text(), file.stem)
        return
    # The archive's own member order is sorted by name (data README); sort again for any other tar.
    with tarfile.open(path, "r:gz") as tar:
        pending: list[tuple[str, str]] = []
        for member in tar:
            stem = Path(member.name).stem
            if member.isfile() and member.name.endswith(".psv") and (wanted is None or stem in wanted):
                f = tar.extractfile(member)
                if f is not None:
                    pending.append((stem, f.read().decode()))
        for patient, text in sorted(pending):
            yield parse_stay(text, patient)


def find_set(data: str | Path, name: str) -> Path:
    """Resolve set A or B inside a data folder: `training_setA/` if unpacked, else the `.tar.gz`."""
    data = Path(data)
    for candidate in (data / f"training_set{name}", data / f"training_set{name}.tar.gz"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no training_set{name} folder or training_set{name}.tar.gz in {data}")
