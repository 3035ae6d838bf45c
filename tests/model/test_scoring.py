"""score(): Risk or Abstain, stars, thresholds, and an artifact that is verified before it is unpickled."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from freezegun import freeze_time

from app.model import Abstain, Missing, ModelArtifactError, Risk, load_model, score
from app.model import artifact as artifact_module
from app.model.artifact import ARTIFACT_DIR, CARD_NAME, verified_load
from app.model.features import build_feature_matrix
from app.model.measurement import Measurement
from app.model.physionet import parse_stay
from app.model.scoring import MAX_STARS, abstains
from tests.support.physionet import synthetic_stay

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=CHICAGO)


def full_patient(at: datetime) -> list[Measurement]:
    out = [Measurement("age", 70, at - timedelta(hours=30)), Measurement("sex_male", 0, at - timedelta(hours=30))]
    for h in range(24):
        t = at - timedelta(hours=h)
        out += [Measurement("heart_rate", 118 - h, t), Measurement("resp_rate", 26, t), Measurement("spo2", 91, t),
                Measurement("sbp", 92 + h, t), Measurement("map", 65, t)]
    out += [Measurement("temperature", 39.1, at - timedelta(hours=2)), Measurement("lactate", 3.8, at - timedelta(hours=3)),
            Measurement("wbc", 17, at - timedelta(hours=3))]
    return out


@pytest.fixture(scope="module")
def model(trained_dir):
    return load_model(trained_dir)


def test_scores_a_well_measured_patient(model):
    result = score(full_patient(NOW), NOW, model=model)
    assert isinstance(result, Risk)
    assert 0.0 <= result.probability <= 1.0
    assert result.threshold == model.card["threshold"]["value"]
    assert result.above_threshold == (result.probability >= result.threshold)
    assert result.model_version == model.card["model"]["version"]
    # at most MAX_STARS measurements; one blood pressure (systolic, diastolic, mean) is one measurement
    assert len({"blood pressure" if c in ("sbp", "dbp", "map") else c for c in result.starred}) <= MAX_STARS
    assert result.starred <= {"age", "sex_male", "heart_rate", "resp_rate", "spo2", "sbp", "map", "temperature",
                              "lactate", "wbc"}  # only measured inputs can be starred


def test_a_site_threshold_overrides_the_cards(model):
    ms = full_patient(NOW)
    assert score(ms, NOW, threshold=0.0, model=model).above_threshold
    high = score(ms, NOW, threshold=1.0, model=model)
    assert high.threshold == 1.0 and high.above_threshold == (high.probability >= 1.0)
    with pytest.raises(ValueError):
        score(ms, NOW, threshold=1.5, model=model)


def test_no_numbers_about_contributions_leave_the_package(model):
    result = score(full_patient(NOW), NOW, model=model)
    assert isinstance(result.starred, frozenset) and all(isinstance(s, str) for s in result.starred)


def test_abstains_for_a_sandbox_like_patient_and_says_what_is_missing(model):
    """No heart rate, respiratory rate or SpO2, and a blood pressure from years ago (the public SMART sandbox)."""
    old = datetime(2019, 4, 2, 10, 15, tzinfo=CHICAGO)
    ms = [Measurement("sbp", 128, old), Measurement("glucose", 104, old), Measurement("age", 54, old),
          Measurement("temperature", 36.8, old - timedelta(days=300))]
    result = score(ms, NOW, model=model)
    assert isinstance(result, Abstain)
    assert result.model_version == model.card["model"]["version"]
    assert result.missing == (
        Missing("heart_rate", "Heart rate", "never measured", None),
        Missing("sbp", "Systolic BP or mean arterial pressure", "too old", old),
    )


def test_a_score_on_partial_data_says_which_measurements_it_was_made_without(model):
    """Heart rate and blood pressure suffice for a score; the respiratory rate, SpO2 and temperature it lacked
    are listed with it."""
    ms = [m for m in full_patient(NOW) if m.concept not in ("resp_rate", "spo2", "temperature")]
    result = score(ms, NOW, model=model)
    assert isinstance(result, Risk)
    assert [(x.concept, x.reason) for x in result.missing] == [
        ("resp_rate", "never measured"), ("spo2", "never measured"), ("temperature", "never measured")]
    assert score(full_patient(NOW), NOW, model=model).missing == ()


def test_the_icu_admission_time_is_an_optional_input(model):
    ms = full_patient(NOW)
    known = score(ms, NOW, model=model, icu_admitted_at=NOW - timedelta(hours=60))
    unknown = score(ms, NOW, model=model)
    assert isinstance(known, Risk) and isinstance(unknown, Risk)


def test_a_measurement_after_the_scoring_time_does_not_count(model):
    ms = full_patient(NOW - timedelta(hours=8))  # all vitals 8 h or more before NOW ...
    ms += [Measurement("heart_rate", 120, NOW + timedelta(minutes=5))]  # ... and one in the future
    result = score(ms, NOW, model=model)
    assert isinstance(result, Abstain)
    assert result.missing[0] == Missing("heart_rate", "Heart rate", "too old", NOW - timedelta(hours=8))


@freeze_time("2026-11-23 15:30:00")  # 09:30 in Chicago
def test_vitals_six_hours_old_still_count_a_minute_more_do_not(model):
    now = datetime.now(CHICAGO)
    assert now == NOW
    ms = [m for m in full_patient(now - timedelta(hours=6)) if m.time <= now - timedelta(hours=6)]
    assert isinstance(score(ms, now, model=model), Risk)
    late = now + timedelta(minutes=1)
    result = score(ms, late, model=model)
    assert isinstance(result, Abstain)
    assert {m.reason for m in result.missing} == {"too old"}
    assert all(m.last_seen == now - timedelta(hours=6) for m in result.missing)


def test_batch_abstain_rule_agrees_with_live_scoring(model):
    stay = parse_stay(synthetic_stay(np.random.default_rng(5), True, 30, 60, 1), "p000099")
    ms = list(stay.measurements)
    ms = [m for m in ms
          if not (m.concept == "heart_rate" and 10 <= (m.time - stay.times[0]).total_seconds() / 3600 <= 22)]
    batch = abstains(build_feature_matrix(ms, stay.times))
    live = [isinstance(score(ms, t, model=model), Abstain) for t in stay.times]
    assert batch.tolist() == live
    assert any(live) and not all(live)


def test_load_model_verifies_and_caches(trained_dir):
    first = load_model(trained_dir)
    assert load_model(trained_dir) is first


def test_a_tampered_artifact_is_refused_before_loading(trained_dir, tmp_path, monkeypatch):
    copy = tmp_path / "artifacts"
    shutil.copytree(trained_dir, copy)
    path = copy / artifact_module.ARTIFACT_NAME
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    def never(*args, **kwargs):
        raise AssertionError("skops loads called on an unverified file")

    monkeypatch.setattr(artifact_module.sio, "loads", never)
    with pytest.raises(ModelArtifactError, match="sha256"):
        verified_load(copy)
    with pytest.raises(ModelArtifactError, match="sha256"):
        load_model(copy)


def test_a_card_without_a_hash_or_an_artifact_is_refused(trained_dir, tmp_path):
    copy = tmp_path / "artifacts"
    shutil.copytree(trained_dir, copy)
    card = json.loads((copy / CARD_NAME).read_text())
    del card["model"]["sha256"]
    (copy / CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(ModelArtifactError):
        verified_load(copy)
    (copy / artifact_module.ARTIFACT_NAME).unlink()
    with pytest.raises(ModelArtifactError, match="no model artifact"):
        verified_load(copy)
    with pytest.raises(ModelArtifactError, match="no model card"):
        verified_load(tmp_path)


def test_a_model_file_with_an_untrusted_type_is_refused_even_when_its_card_vouches_for_it(trained_dir, tmp_path):
    """A forged pair (file + card with its sha256) still cannot make the loader build an arbitrary type."""
    import collections

    import skops.io as sio

    copy = tmp_path / "artifacts"
    shutil.copytree(trained_dir, copy)
    payload = sio.loads((copy / artifact_module.ARTIFACT_NAME).read_bytes(), trusted=list(artifact_module.TRUSTED_TYPES))
    payload["extra"] = collections.Counter(["not", "a", "model", "type"])  # harmless here, but not on the list
    data = sio.dumps(payload)
    (copy / artifact_module.ARTIFACT_NAME).write_bytes(data)
    card = json.loads((copy / CARD_NAME).read_text())
    card["model"]["sha256"] = artifact_module.sha256_of(data)
    (copy / CARD_NAME).write_text(json.dumps(card))
    with pytest.raises(ModelArtifactError, match="not trusted.*Counter"):
        verified_load(copy)


def test_the_model_file_holds_lightgbms_text_and_a_damaged_text_is_refused_not_crashed_on(trained_dir, tmp_path):
    """The LightGBM model travels as its own text format (a string: no type to trust); text LightGBM cannot parse,
    even under a card that vouches for it, is a ModelArtifactError like any other bad file."""
    import skops.io as sio

    copy = tmp_path / "artifacts"
    shutil.copytree(trained_dir, copy)
    payload = sio.loads((copy / artifact_module.ARTIFACT_NAME).read_bytes(), trusted=list(artifact_module.TRUSTED_TYPES))
    assert isinstance(payload["lightgbm_model"], str) and payload["lightgbm_model"].startswith("tree")
    assert set(sio.get_untrusted_types(data=(copy / artifact_module.ARTIFACT_NAME).read_bytes())) == set()
    damaged = sio.dumps({**payload, "lightgbm_model": "tree\nnot a model\n"})
    (copy / artifact_module.ARTIFACT_NAME).write_bytes(damaged)
    vouching = artifact_module.read_card(copy)
    vouching["model"]["sha256"] = artifact_module.sha256_of(damaged)
    artifact_module.write_card(vouching, copy)
    with pytest.raises(ModelArtifactError, match="LightGBM cannot read"):
        verified_load(copy)


def test_the_model_file_is_skops_and_gives_the_in_memory_models_probabilities(trained_dir, tmp_path):
    """Save -> verified load round trip: the loaded estimator scores exactly as the one that was saved."""
    model = load_model(trained_dir)
    stay = parse_stay(synthetic_stay(np.random.default_rng(11), True, 40, 66, 0), "p000321")
    x = build_feature_matrix(stay.measurements, stay.times, icu_admitted_at=stay.icu_admitted_at)
    path, sha = artifact_module.save(model.estimator, model.columns, tmp_path)
    assert path.suffix == ".skops" and path.read_bytes()[:2] == b"PK"  # a zip archive of JSON, not a pickle
    card = {**model.card, "model": {**model.card["model"], "artifact": path.name, "sha256": sha}}
    artifact_module.write_card(card, tmp_path)
    again = verified_load(tmp_path)
    assert np.array_equal(again.probabilities(x), model.probabilities(x))


@pytest.mark.skipif(not (ARTIFACT_DIR / CARD_NAME).exists(), reason="no shipped model yet")
def test_the_shipped_model_verifies_and_abstains_for_the_sandbox_patient():
    old = datetime(2019, 4, 2, 10, 15, tzinfo=CHICAGO)
    result = score([Measurement("sbp", 128, old), Measurement("age", 54, old)], NOW)
    assert isinstance(result, Abstain) and len(result.missing) == 2  # heart rate, and a recent blood pressure
    assert isinstance(score(full_patient(NOW), NOW), Risk)


def test_few_rows_on_one_thread_give_the_same_probabilities_as_a_batch(model):
    stay = parse_stay(synthetic_stay(np.random.default_rng(8), True, 300, 60, 1), "p000123")
    x = build_feature_matrix(stay.measurements, stay.times)
    assert len(x) > 256  # the batch path
    one_by_one = np.concatenate([model.probabilities(x[i:i + 1]) for i in range(len(x))])
    assert np.array_equal(model.probabilities(x), one_by_one)
