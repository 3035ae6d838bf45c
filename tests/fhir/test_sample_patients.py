"""The mapper over every Observation of the 32 public sample patients (read in place, never copied into the repo).

The files are transaction Bundles with `urn:uuid:` references; a FHIR server rewrites those to `Patient/{id}`
on load, and so does this test. Numbers below come from /work/shared/data/fhir-sample-patients/README.md.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.config import shared_data_dir
from app.fhir.mapping import Mapped, map_observations
from app.model.measurement import is_plausible

SAMPLES = shared_data_dir() / "data" / "fhir-sample-patients"
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"sample patients not found at {SAMPLES}")


def load(path: Path) -> tuple[str, list[dict]] | None:
    text = path.read_text(encoding="utf-8")
    bundle = json.loads(text)
    patients = [e for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Patient"]
    if not patients:
        return None  # the two S2 support Bundles (Organizations, Practitioners)
    pid, full_url = patients[0]["resource"]["id"], patients[0]["fullUrl"]
    bundle = json.loads(text.replace(f'"{full_url}"', f'"Patient/{pid}"'))
    return pid, [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


@pytest.fixture(scope="module")
def mapped() -> dict[str, tuple[int, object]]:
    out = {}
    for path in sorted(SAMPLES.glob("*.json")):
        loaded = load(path)
        if loaded:
            pid, observations = loaded
            out[path.name.split("_")[0]] = (len(observations),
                                            map_observations(observations, patient_id=pid, now=NOW))
    return out


def test_every_sample_observation_maps_without_raising_and_with_sane_counts(mapped):
    assert len(mapped) == 32
    total = sum(n for n, _ in mapped.values())
    used = sum(len(r.used) for _, r in mapped.values())
    reasons = Counter()
    for _, r in mapped.values():
        reasons.update(r.reason_counts())
        assert all(is_plausible(m.measurement.concept, m.measurement.value) for m in r.used)
        assert all(isinstance(m, Mapped) for m in r.used)
    assert total == 6956
    # Only two kinds of problem exist in this data: unit-less BP components and duplicate panels.
    assert set(reasons) == {"unit missing", "duplicate"}
    assert reasons["unit missing"] == 128  # Miguel_Garibay: 64 panels x (SBP, DBP)
    assert 10 <= reasons["duplicate"] <= 60
    assert 3000 <= used <= 3600
    # Cholesterol, questionnaires, urinalysis...: counted, not rejected.
    assert 3500 <= sum(r.not_relevant for _, r in mapped.values()) <= 4000


def concepts(result) -> Counter:
    return Counter(m.measurement.concept for m in result.used)


def test_near_miss_codes_of_the_smart_sandbox_are_used(mapped):
    # S1 uses 55284-4 for BP, 8331-1 for temperature, 38483-4 for creatinine (README shape 1).
    _, leonardo = mapped["Leonardo"]
    c = concepts(leonardo)
    assert c["sbp"] == 12 and c["dbp"] == 12 and c["temperature"] == 3 and c["creatinine"] == 12


def test_odd_units_panel_is_used(mapped):
    _, jordan = mapped["Jordan"]
    wbc = [m for m in jordan.used if m.source_code == "26464-8"]
    assert [(round(m.measurement.value, 2), m.original_unit) for m in wbc] == [(11.07, "K/uL")]
    assert any(m.source_code == "26515-7" for m in jordan.used)  # platelets in K/uL
    assert any(m.source_code == "42719-5" for m in jordan.used)  # bilirubin near-miss code


def test_the_septic_shock_episode_is_read(mapped):
    _, lance = mapped["Lance203"]
    lactate = sorted(round(m.measurement.value, 2) for m in lance.used if m.measurement.concept == "lactate")
    assert lactate == [3.36, 3.46]
    assert [round(m.measurement.value, 1) for m in lance.used if m.measurement.concept == "map"] == [56.5]


def test_dual_coded_spo2_counts_once_and_its_duplicate_is_rejected(mapped):
    _, bebe = mapped["Bebe406"]
    assert bebe.reason_counts() == {"duplicate": 1}
    assert bebe.rejected[0].concept == "spo2"
