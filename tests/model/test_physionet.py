"""PhysioNet rows -> Measurements: mapping, plausibility, times, demographics."""

from __future__ import annotations

import tarfile
from datetime import timedelta

import pytest

from app.model.physionet import ORIGIN, PhysioNetFormatError, find_set, parse_stay, read_stays
from tests.support.physionet import psv

TEXT = psv([
    {"HR": 88, "O2Sat": 20, "Temp": 38.2, "Age": 71.5, "Gender": 1, "Unit1": 0, "Unit2": 1, "HospAdmTime": -3,
     "ICULOS": 3, "SepsisLabel": 0},
    {"HR": 92, "Lactate": 2.5, "FiO2": 0.0, "Age": 71.5, "Gender": 1, "Unit1": 0, "Unit2": 1, "HospAdmTime": -3,
     "ICULOS": 4, "SepsisLabel": 1},
])


def test_rows_become_measurements_in_canonical_units_at_origin_plus_iculos():
    stay = parse_stay(TEXT, "p000007")
    got = {(m.concept, m.value, m.time) for m in stay.measurements}
    t3, t4 = ORIGIN + timedelta(hours=3), ORIGIN + timedelta(hours=4)
    assert got == {
        ("age", 71.5, t3), ("sex_male", 1.0, t3),
        ("heart_rate", 88.0, t3), ("temperature", 38.2, t3),
        ("heart_rate", 92.0, t4), ("lactate", 2.5, t4),
    }  # SpO2 20 % and FiO2 0 are implausible: dropped by the same rule as live data
    assert stay.implausible == (("fio2", 1), ("spo2", 1))  # and counted, for the model card
    assert stay.hours.tolist() == [3, 4] and stay.labels.tolist() == [0, 1] and stay.septic
    assert stay.unit == "SICU" and stay.times == [t3, t4]


def test_length_of_stay_and_unit_never_become_measurements():
    stay = parse_stay(TEXT, "p000007")
    assert not {"iculos", "hosp_adm_time", "unit1", "unit2"} & {m.concept for m in stay.measurements}


def test_rejects_files_that_are_not_physionet():
    with pytest.raises(PhysioNetFormatError):
        parse_stay("a|b\n1|2\n", "x")
    with pytest.raises(PhysioNetFormatError):
        parse_stay(TEXT.replace("|0\n", "|zero\n", 1), "x")


def test_reads_folders_and_archives_in_name_order(tmp_path):
    d = tmp_path / "training_setZ"
    d.mkdir()
    for name in ("p000002", "p000001", "p000010"):
        (d / f"{name}.psv").write_text(TEXT)
    with tarfile.open(tmp_path / "training_setZ.tar.gz", "w:gz") as tar:
        tar.add(d, arcname=d.name)
    from_dir = [s.patient for s in read_stays(d)]
    from_tar = [s.patient for s in read_stays(tmp_path / "training_setZ.tar.gz")]
    assert from_dir == from_tar == ["p000001", "p000002", "p000010"]
    assert [s.patient for s in read_stays(d, patients={"p000010"})] == ["p000010"]
    assert find_set(tmp_path, "Z") == d
    with pytest.raises(FileNotFoundError):
        find_set(tmp_path, "Q")
