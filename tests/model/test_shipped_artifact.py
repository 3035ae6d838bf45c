"""The shipped skops model file: it loads, it is what `sentinel train` wrote (saving the loaded model again gives
the same bytes and sha256), it scores the demo patients exactly as the in-memory model does, and the four septic
demo patients are above its threshold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from app.fhir.encounters import icu_admission
from app.fhir.mapping import demographic_measurements, map_observations
from app.fhir.searches import demographics
from app.model import artifact
from app.model.artifact import ARTIFACT_DIR, CARD_NAME, load_model, verified_load
from app.model.features import build_features
from sandbox import demo_patients
from sandbox.demo_patients import build

HERE = Path(demo_patients.__file__).parent

pytestmark = pytest.mark.skipif(not (ARTIFACT_DIR / CARD_NAME).exists(), reason="no shipped model")
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def demo_rows() -> tuple[list[str], list[str], np.ndarray]:
    """Each demo patient's feature row at its last charted hour, through the live path (FHIR -> mapping)."""
    ids, kinds, rows = [], [], []
    for pid in json.loads((HERE / "index.json").read_text())["patients"]:
        record = json.loads((HERE / f"{pid}.json").read_text())
        resources = build(record, NOW)
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        encounter = next(r for r in resources if r["resourceType"] == "Encounter")
        observations = [r for r in resources if r["resourceType"] == "Observation"]
        ms = [m.measurement for m in demographic_measurements(demographics(patient, pid), NOW)
              if hasattr(m, "measurement")]
        ms += [m.measurement for m in map_observations(observations, patient_id=pid, now=NOW).used]
        rows.append(build_features(ms, NOW, icu_admitted_at=icu_admission(encounter, NOW)))
        ids.append(pid)
        kinds.append(record["kind"])
    return ids, kinds, np.array(rows)


def test_the_shipped_file_is_exactly_what_saving_its_model_writes(tmp_path):
    shipped = load_model()
    path, sha = artifact.save(shipped.estimator, shipped.columns, tmp_path)
    assert sha == shipped.card["model"]["sha256"] == artifact.sha256_of((ARTIFACT_DIR / path.name).read_bytes())


def test_the_skops_file_gives_the_in_memory_models_probabilities_on_the_demo_patients(tmp_path):
    shipped = load_model()
    _, kinds, x = demo_rows()
    in_memory = shipped.estimator.predict_proba(x[:, shipped.columns])[:, 1]
    artifact.save(shipped.estimator, shipped.columns, tmp_path)
    artifact.write_card(shipped.card, tmp_path)
    reloaded = verified_load(tmp_path)
    assert np.array_equal(reloaded.probabilities(x), in_memory)
    septic = [p for p, k in zip(in_memory, kinds, strict=True) if k == "septic"]
    assert len(septic) == 4 and min(septic) >= shipped.threshold  # the demo's septic patients still alert
