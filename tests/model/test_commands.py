"""`sentinel train` and `sentinel evaluate` end to end on tiny synthetic PhysioNet sets."""

from __future__ import annotations

import csv
import json

from app.cli import main
from app.model.artifact import load_model
from app.model.card import KNOWN_LIMITS


def test_train_writes_a_complete_card(trained_dir):
    card = json.loads((trained_dir / "model_card.json").read_text())
    for key in ("model", "data", "label", "features", "threshold", "operating_points", "heldout_A",
                "external_validation", "abstain", "stars", "known_limits", "population_means", "comparisons"):
        assert key in card, key
    assert [c["set"] for c in card["data"]["cohorts"]] == ["A (training part)", "A (held-out part)", "B"]
    assert card["data"]["source"]["citation"]
    assert [r["name"] for r in card["external_validation"]["metrics"]][1:] == [
        "SIRS", "qSOFA (RR, SBP)", "NEWS2 (no consciousness)", "MEWS (no AVPU)", "ICU clock (hour >= 48)"]
    assert "utility_lift_over_clock" in card["external_validation"]["metrics"][0]
    assert card["known_limits"] == KNOWN_LIMITS
    assert set(card["population_means"]) <= {i["concept"] for i in card["features"]["inputs"]}
    assert len(card["model"]["sha256"]) == 64
    md = (trained_dir / "model_card.md").read_text()
    assert card["model"]["sha256"] in md and "Known limits" in md
    assert (trained_dir / "reliability_B.png").exists()


def test_evaluate_reproduces_the_cards_external_numbers(trained_dir, synthetic_data, tmp_path, capsys):
    out, preds = tmp_path / "m.json", tmp_path / "p.csv"
    code = main(["evaluate", "--data", str(synthetic_data / "training_setB.tar.gz"), "--model-dir", str(trained_dir),
                 "--out", str(out), "--predictions", str(preds)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "SIRS" in printed and "AUROC" in printed
    report = json.loads(out.read_text())
    card = json.loads((trained_dir / "model_card.json").read_text())
    assert report["metrics"] == card["external_validation"]["metrics"]
    with preds.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["patient", "ICULOS", "probability", "alert", "SepsisLabel"]
    assert len(rows) - 1 == report["patient_hours"]
    assert {r[3] for r in rows[1:]} <= {"0", "1"}
    assert (tmp_path / "m_reliability.png").exists()


def test_training_is_deterministic(trained_dir, synthetic_data, tmp_path, monkeypatch):
    from app.model import train

    monkeypatch.setattr(train, "CANDIDATES", ({"num_leaves": 7, "min_child_samples": 20},))
    monkeypatch.setattr(train, "MIN_ALERTED", 1)
    monkeypatch.setattr(train, "TIMING_PATIENTS", 5)
    monkeypatch.setattr(train, "STOPPING_MAX", 15)
    assert main(["train", "--data", str(synthetic_data), "--out", str(tmp_path), "--no-external"]) == 0
    again = json.loads((tmp_path / "model_card.json").read_text())
    first = json.loads((trained_dir / "model_card.json").read_text())
    assert again["model"]["sha256"] == first["model"]["sha256"]
    assert again["threshold"] == first["threshold"]
    assert load_model(tmp_path).version == again["model"]["version"]


def test_a_retrain_keeps_the_change_log_of_the_card_it_replaces(tmp_path):
    from app.model import artifact, train

    artifact.write_card({"change_log": [{"version": "2026.01.01+old", "date": "2026-01-01", "changes": "First."}]},
                        tmp_path)
    log = train.change_log(tmp_path, {"version": "2026.02.01+new", "created": "2026-02-01"}, "Recalibrated.")
    assert [e["version"] for e in log] == ["2026.02.01+new", "2026.01.01+old"]
    assert log[0]["changes"] == "Recalibrated."
    assert train.change_log(tmp_path / "none", {"version": "v", "created": "d"}, "First.") == [
        {"version": "v", "date": "d", "changes": "First."}]


def test_site_adaptation_writes_its_own_card_and_evaluate_scores_it(trained_dir, synthetic_data, tmp_path,
                                                                   monkeypatch, capsys):
    from app.model import train

    monkeypatch.setattr(train, "MIN_ALERTED", 1)
    monkeypatch.setattr(train, "STOPPING_MAX", 10)
    out = tmp_path / "site"
    code = main(["train", "--data", str(synthetic_data), "--site-data", str(synthetic_data / "training_setB.tar.gz"),
                 "--base-model", str(trained_dir), "--out", str(out)])
    assert code == 0
    card = json.loads((out / "model_card.json").read_text())
    site = card["site_adaptation"]
    assert site["site_data"] == "training_setB.tar.gz" and site["base_model"] == load_model(trained_dir).version
    assert [c["name"] for c in site["candidates"]] == [
        "base model", "recalibrated", "fine-tuned", "A + site", "A + site, re-weighted", "site only"]
    assert site["method"] in {c["name"] for c in site["candidates"]}
    assert "site-adapted" in card["model"]["name"] and card["intended_use"].startswith("Site-adapted")
    assert "## Site-adapted model" in (out / "model_card.md").read_text()
    model = load_model(out)  # verified like the shipped one
    assert model.version.endswith("-site")
    capsys.readouterr()
    report = tmp_path / "m.json"
    assert main(["evaluate", "--model", str(out), "--data", str(synthetic_data / "training_setB.tar.gz"),
                 "--out", str(report)]) == 0
    printed = capsys.readouterr().out
    assert model.version in printed and "at SIRS's precision" in printed and "lift over the clock" in printed


def test_site_adaptation_never_overwrites_the_shipped_model(synthetic_data, tmp_path, capsys):
    from app.model.artifact import ARTIFACT_DIR

    code = main(["train", "--data", str(synthetic_data), "--site-data", str(synthetic_data / "training_setB.tar.gz"),
                 "--out", str(ARTIFACT_DIR)])
    assert code == 2 and "refusing" in capsys.readouterr().out
