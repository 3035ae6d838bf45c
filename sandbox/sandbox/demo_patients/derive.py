"""Derive the sandbox's demo patients from PhysioNet 2019 training set B. Rerunnable; writes this folder's JSON.

    .venv/bin/python -m sandbox.demo_patients.derive [--tar PATH] [--out DIR]

Set B, so the demo never shows a patient the model was trained on (the model trains on set A). The picks are
the PATIENTS table below; change it and rerun. Each pick keeps a window of hourly rows that ends at `end`:

- "onset+N": N hours after the challenge's sepsis time t_sepsis (first SepsisLabel=1 row + 6 h, because the
  challenge labels 6 h early), so signs of organ dysfunction are visible in the most recent rows;
- "last": the last ICU hour of the record;
- an integer: that ICULOS hour.

Values are written in the unit the FHIR Observation will carry (FiO2 fraction -> %, and per-patient `units`
overrides: temperature in [degF], lactate in mg/dL), hours relative to the window's last row (0). Names,
birth-date offsets and body weights are synthetic: PhysioNet has no names and no weight; the weight is drawn
deterministically from the record id (sha256) within a plausible range for the patient's sex.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tarfile
from pathlib import Path

from app.config import shared_data_dir

from . import COLUMNS

HERE = Path(__file__).resolve().parent
DEFAULT_TAR = shared_data_dir() / "data" / "physionet2019" / "training_setB.tar.gz"

# --- the picks (edit and rerun) --------------------------------------------------------------------------------
# record, kind, end, hours kept, synthetic name (given, family), unit overrides, what the patient shows
PATIENTS: list[dict] = [
    {"record": "p102421", "kind": "septic", "end": "onset+3", "hours": 48, "name": ("Margaret", "Holloway"),
     "shows": "Septic: lactate 2.6 -> 8 mmol/L over 11 h, platelets down to 56, SBP 80-88 in the last 3 h; "
              "bilirubin high all along (18-20, then 4.6 mg/dL)."},
    {"record": "p108952", "kind": "septic", "end": "onset+3", "hours": 48, "name": ("Walter", "Brennan"),
     "units": {"Lactate": "mg/dL"},
     "shows": "Septic, lactate in mg/dL (up to 86 mg/dL = 9.6 mmol/L), creatinine up to 2.7, platelets 67-86, "
              "fever 38.4, WBC 30."},
    {"record": "p100946", "kind": "septic", "end": "onset+3", "hours": 48, "name": ("Harold", "Vasquez"),
     "shows": "Septic after 13 days in the ICU: SBP 60-87, MAP 43-62, creatinine 4.4-5.3, bilirubin 6.4, "
              "platelets 88, lactate 2.2."},
    {"record": "p109721", "kind": "septic", "end": "onset+3", "hours": 48, "name": ("Arthur", "Lindgren"),
     "shows": "Septic, 87 years old: MAP 46-52 in the last hours, platelets 41-70, lactate 2.1-4.9, creatinine 2.2."},
    {"record": "p104673", "kind": "high-risk-no-organ-dysfunction", "end": "last", "hours": 36,
     "name": ("Elena", "Marsh"),
     "shows": "Looks high risk (fever 38.6, HR 130, RR 29, WBC 19) but no organ dysfunction: BP, creatinine, "
              "bilirubin and platelets normal."},
    {"record": "p108289", "kind": "non-septic", "end": "last", "hours": 36, "name": ("George", "Whitfield"),
     "shows": "Not septic: stable vital signs and normal labs."},
    {"record": "p101521", "kind": "non-septic", "end": "last", "hours": 36, "name": ("Susan", "Achterberg"),
     "units": {"Temp": "[degF]"}, "shows": "Not septic; temperature in degrees Fahrenheit ([degF]); WBC 15-21 without fever."},
    {"record": "p105800", "kind": "non-septic", "end": "last", "hours": 36, "name": ("Dorothy", "Kwan"),
     "shows": "Not septic (challenge label), yet febrile to 38.3 with RR 28 and WBC 3.8."},
    {"record": "p109764", "kind": "non-septic", "end": "last", "hours": 36, "name": ("Raymond", "Osei"),
     "shows": "Not septic: hypertensive (SBP up to 189), otherwise stable."},
    {"record": "p100402", "kind": "sparse", "end": 3, "hours": 3, "name": ("Frank", "Delacroix"),
     "shows": "Sparse: admitted to the ICU 3 hours ago, one set of vital signs and no labs yet."},
]
# -----------------------------------------------------------------------------------------------------------------

ICU_UNITS = {"Unit1": "MICU", "Unit2": "SICU"}


def _digest(record: str, salt: str) -> float:
    """A deterministic number in [0, 1) from the record id."""
    return int(hashlib.sha256(f"{salt}:{record}".encode()).hexdigest()[:12], 16) / 16**12


def synthetic_weight(record: str, male: bool) -> float:
    low, high = (62.0, 105.0) if male else (50.0, 90.0)
    return round(low + (high - low) * _digest(record, "weight"), 1)


def _convert(column: str, value: float, units: dict[str, str]) -> float:
    if column == "FiO2":
        return round(value * 100, 1)  # PhysioNet FiO2 is a fraction; LOINC 3150-0 is reported in %
    if units.get(column) == "[degF]":
        return round(value * 9 / 5 + 32, 1)
    if units.get(column) == "mg/dL" and column == "Lactate":
        return round(value * 9.008, 1)  # 90.08 g/mol: 1 mmol/L = 9.008 mg/dL
    return value


def read_records(tar_path: Path, wanted: set[str]) -> dict[str, tuple[list[str], list[list[float]]]]:
    """Header and rows of each wanted record, in one sequential pass over the archive."""
    found = {}
    with tarfile.open(tar_path, "r:gz") as tar:
        for member in tar:
            name = Path(member.name).stem
            if member.isfile() and name in wanted:
                lines = tar.extractfile(member).read().decode().splitlines()
                found[name] = (lines[0].split("|"), [[float(x) for x in line.split("|")] for line in lines[1:]])
    missing = wanted - set(found)
    if missing:
        raise SystemExit(f"records not in {tar_path}: {', '.join(sorted(missing))}")
    return found


def _end_iculos(pick: dict, header: list[str], rows: list[list[float]]) -> tuple[int, int | None]:
    """(ICULOS of the window's last row, t_sepsis ICULOS or None)."""
    col = {c: i for i, c in enumerate(header)}
    labels = [r[col["SepsisLabel"]] for r in rows]
    onset = None
    if 1 in labels:
        onset = int(rows[labels.index(1)][col["ICULOS"]]) + 6
    last = int(rows[-1][col["ICULOS"]])
    end = pick["end"]
    if isinstance(end, int):
        return min(end, last), onset
    if end == "last":
        return last, onset
    if end.startswith("onset+"):
        if onset is None:
            raise SystemExit(f"{pick['record']}: end {end!r} but the record is not septic")
        return min(onset + int(end[len("onset+"):]), last), onset
    raise SystemExit(f"{pick['record']}: bad end {end!r}")


def organ_dysfunction(rows: list[dict], units: dict[str, str]) -> list[str]:
    """Which organ-dysfunction signs appear in the window's rows (thresholds of the issue)."""
    lactate_limit = 2 * 9.008 if units.get("Lactate") == "mg/dL" else 2
    checks = {"SBP < 90": lambda r: r.get("SBP", 999) < 90, "MAP < 65": lambda r: r.get("MAP", 999) < 65,
              "lactate > 2 mmol/L": lambda r: r.get("Lactate", 0) > lactate_limit,
              "creatinine > 2 mg/dL": lambda r: r.get("Creatinine", 0) > 2,
              "bilirubin > 2 mg/dL": lambda r: r.get("Bilirubin_total", 0) > 2,
              "platelets < 100": lambda r: r.get("Platelets", 999) < 100}
    return [name for name, check in checks.items() if any(check(r) for r in rows)]


def derive(pick: dict, header: list[str], rows: list[list[float]]) -> dict:
    col = {c: i for i, c in enumerate(header)}
    end, onset = _end_iculos(pick, header, rows)
    units = pick.get("units", {})
    kept = [r for r in rows if end - pick["hours"] < r[col["ICULOS"]] <= end]
    out_rows = []
    for r in kept:
        row: dict = {"h": int(r[col["ICULOS"]]) - end}
        for name in [*COLUMNS, "SBP", "DBP"]:
            value = r[col[name]]
            if not math.isnan(value):
                row[name] = _convert(name, value, units)
        out_rows.append(row)
    first = rows[0]
    male = first[col["Gender"]] == 1
    icu = next((label for column, label in ICU_UNITS.items() if first[col[column]] == 1), None)
    record = pick["record"]
    return {
        "id": f"demo-{record[1:]}",
        "source": {"set": "B", "record": record, "first_iculos": int(kept[0][col["ICULOS"]]), "last_iculos": end},
        "kind": pick["kind"],
        "shows": pick["shows"],
        "name": {"given": pick["name"][0], "family": pick["name"][1]},
        "gender": "male" if male else "female",
        "age": int(first[col["Age"]]),
        "birth_offset_days": 1 + int(_digest(record, "birthday") * 363),
        "weight_kg": synthetic_weight(record, male),
        "weight_is_synthetic": True,
        "icu": icu,
        "sepsis_onset_hour": None if onset is None else onset - end,
        "units": units,
        "organ_dysfunction_in_window": organ_dysfunction(out_rows, units),
        "rows": out_rows,
    }


def _dumps(data: dict) -> str:
    """Indented JSON with one hourly row per line, so a diff shows which hours changed."""
    head = json.dumps({k: v for k, v in data.items() if k != "rows"}, indent=1)[:-2]
    rows = ",\n  ".join(json.dumps(r, separators=(",", ":")) for r in data["rows"])
    return f'{head},\n "rows": [\n  {rows}\n ]\n}}\n'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tar", type=Path, default=DEFAULT_TAR, help="training_setB.tar.gz")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write the JSON files to")
    args = parser.parse_args(argv)
    records = read_records(args.tar, {p["record"] for p in PATIENTS})
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("demo-*.json"):
        old.unlink()
    ids = []
    for pick in PATIENTS:
        data = derive(pick, *records[pick["record"]])
        ids.append(data["id"])
        (args.out / f"{data['id']}.json").write_text(_dumps(data))
        signs = ", ".join(data["organ_dysfunction_in_window"]) or "none"
        print(f"{data['id']:<13} {data['kind']:<31} {len(data['rows']):>2} h  onset {data['sepsis_onset_hour']}  "
              f"organ dysfunction: {signs}")
    (args.out / "index.json").write_text(json.dumps({"patients": ids}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
