"""The transparency page renders the model card (never hand-copied numbers) and says how data is handled."""

from __future__ import annotations

import html
import json
import os
import re

import pytest

from app import db
from app.model.artifact import ARTIFACT_DIR, CARD_NAME, read_card
from app.web.transparency import data_handling
from tests.support.launch import SEPTIC
from tests.support.sample_card import PNG, VERSION, use_model_dir, write_sample_card


@pytest.fixture
def card_dir(tmp_path):
    return tmp_path / "model"


@pytest.fixture
def app(make_app, card_dir, monkeypatch):
    write_sample_card(card_dir)
    app = make_app()
    use_model_dir(app, card_dir)
    return app


def page_text(client) -> str:
    response = client.get("/transparency")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_anyone_can_read_it_without_a_session(app):
    text = page_text(app.test_client())
    assert f'id="model-version">{VERSION}' in text and 'id="model-date">2026-11-20' in text


def test_population_validation_and_performance_come_from_the_card(app, card_dir):
    card = read_card(card_dir)
    text = page_text(app.test_client())
    for cohort in card["data"]["cohorts"]:
        assert f"{cohort['patients']:,}" in text and f"{cohort['septic_fraction'] * 100:.1f}%" in text
        assert f"{cohort['male_fraction'] * 100:.1f}%" in text
    ext = card["external_validation"]
    assert f"hospital {ext['set']}" in text and ext["note"] in text
    for row in ext["metrics"] + card["heldout_A"]["metrics"]:
        assert row["name"] in text and f"{row['auroc']:.3f}" in text
    assert "0.777" in text and "41.2%" in text  # the model on B: AUROC 0.7771, sensitivity 0.4123
    for limit in card["known_limits"]:
        assert limit in text
    assert card["stars"]["rule"] in text and card["abstain"]["rule"] in text and card["intended_use"] in text
    assert ext["baselines_not_beaten"][0] in text


def test_reliability_plots_are_served_from_the_model_directory(app):
    client = app.test_client()
    text = page_text(client)
    sources = re.findall(r'<img src="([^"]+)"', text)
    assert sources == ["/transparency/reliability/B.png", "/transparency/reliability/heldout_A.png"]
    with client.get(sources[0]) as response:  # a file response: close it
        assert response.status_code == 200 and response.mimetype == "image/png" and response.data == PNG
    assert client.get("/transparency/reliability/..%2Fmodel_card.png").status_code == 404
    assert client.get("/transparency/reliability/C.png").status_code == 404


def test_without_external_validation_the_page_says_so(make_app, tmp_path, monkeypatch):
    write_sample_card(tmp_path / "m", external=False)
    app = make_app()
    use_model_dir(app, tmp_path / "m")
    text = page_text(app.test_client())
    assert "has not been validated on a second hospital" in text
    assert re.findall(r'<img src="([^"]+)"', text) == ["/transparency/reliability/heldout_A.png"]


def test_without_a_card_the_page_says_no_model_is_in_use_and_still_explains_data(make_app, tmp_path, monkeypatch):
    app = make_app()
    use_model_dir(app, tmp_path / "empty")
    client = app.test_client()
    text = page_text(client)
    assert "No model card is installed" in text and "How patient data is handled" in text
    assert client.get("/transparency/reliability/B.png").status_code == 404


def test_a_new_card_shows_without_a_restart(app, card_dir):
    page_text(app.test_client())
    card_path = card_dir / CARD_NAME
    card_path.write_text(card_path.read_text().replace(VERSION, "2027.01.01+feedfacecafe"))
    os.utime(card_path, (1e9, 2e9))
    assert "2027.01.01+feedfacecafe" in page_text(app.test_client())


def test_every_page_links_to_it_and_a_launched_user_keeps_their_header(app, launch):
    nurse = launch("nurse")
    assert re.search(r'<a id="transparency-link" href="/transparency"', nurse.page.get_data(as_text=True))
    text = page_text(nurse.client)
    assert 'id="current-user"' in text and 'id="feedback-button"' in text
    assert 'id="transparency-link"' in page_text(app.test_client())


def test_the_models_change_log_comes_from_its_card(app, card_dir):
    card = json.loads((card_dir / CARD_NAME).read_text())
    card["change_log"] = [{"version": VERSION, "date": "2026-11-20", "changes": "Recalibrated on held-out A."},
                          {"version": "2026.10.01+0123456789ab", "date": "2026-10-01", "changes": "First release."}]
    (card_dir / CARD_NAME).write_text(json.dumps(card))
    text = page_text(app.test_client())
    assert f"2026-11-20: version {VERSION}. Recalibrated on held-out A." in text
    assert "2026-10-01: version 2026.10.01+0123456789ab. First release." in text


def test_the_shipped_card_has_a_change_log():
    assert read_card(ARTIFACT_DIR)["change_log"][0]["version"] == read_card(ARTIFACT_DIR)["model"]["version"]


def test_a_site_threshold_change_appears_in_the_change_log(app, launch):
    from app.alerts import thresholds

    engine = app.extensions["sentinel"].engine
    thresholds.set_threshold(engine, iss=app.extensions["sentinel"].settings.iss_allowlist[0], value=0.12, default=0.08, expected_version=0, model_version=VERSION,
                             user_ref="Practitioner/deployment", role="deployment", reason="too many alerts on MICU",
                             now=app.extensions["sentinel"].clock())
    text = page_text(app.test_client())
    assert "0.08 → 0.12 (too many alerts on MICU)" in text and 'id="site-threshold"' in text


def test_the_data_handling_statement_names_every_table(app):
    """When a feature adds a table, this statement must say what it holds and for how long."""
    import importlib
    import pkgutil

    import app as package

    for info in pkgutil.walk_packages(package.__path__, "app."):
        if not info.name.startswith(("app.migrations", "app.wsgi")):
            importlib.import_module(info.name)
    settings = app.extensions["sentinel"].settings
    statement = " ".join(s.where for s in data_handling(settings, "postgresql"))
    missing = [t for t in db.metadata.tables if not re.search(rf"\b{t}\b", statement)]
    assert missing == []


def test_data_handling_uses_this_sites_settings(make_app):
    client = make_app(session_max_hours=8, session_idle_minutes=30).test_client()
    text = page_text(client)
    assert "at most 8 h, or until 30 min without use" in text
    assert ("SQLite file on the app server" in text) != ("PostgreSQL server run by the site" in text)


@pytest.mark.skipif(not (ARTIFACT_DIR / CARD_NAME).is_file(), reason="no trained model card in model_artifacts/")
def test_the_shipped_card_renders(make_app):
    card = read_card(ARTIFACT_DIR)
    text = page_text(make_app().test_client())
    assert card["model"]["version"] in text
    for cohort in card["data"]["cohorts"]:
        assert f"{cohort['patients']:,}" in text


def test_patient_page_footer_is_on_the_septic_demo_patient(launch):
    assert SEPTIC in launch("provider").page.get_data(as_text=True)


def test_the_hti1_source_attributes_table_is_rendered_from_the_card(app, card_dir):
    """Every HTI-1 attribute is on the page with the card's answer; what the card lacks says "Not available"."""
    from app.model.hti1 import source_attributes

    card = read_card(card_dir)
    text = page_text(app.test_client())
    assert 'id="hti1-attributes"' in text and "ONC HTI-1" in text
    attributes = source_attributes(card)
    assert len(attributes) >= 30
    for a in attributes:
        assert a.name in text and a.value in text
    external = next(a for a in attributes if a.name == "Validity in external data")
    assert f"{card['external_validation']['metrics'][0]['auroc']:.3f}" in external.value
    funding = next(a for a in attributes if a.name.startswith("Funding"))
    assert funding.value.startswith("Not available")


@pytest.mark.skipif(not (ARTIFACT_DIR / CARD_NAME).is_file(), reason="no trained model card in model_artifacts/")
def test_the_shipped_cards_ablations_abstain_candidates_and_clock_baseline_are_shown(make_app, monkeypatch):
    app = make_app()
    use_model_dir(app, ARTIFACT_DIR)
    card = read_card(ARTIFACT_DIR)
    text = page_text(app.test_client())
    assert 'id="ablations"' in text and 'id="abstain-candidates"' in text
    for row in card["ablations"]["rows"]:
        assert row["variant"] in text and row["kept"] in text
    assert "ICU clock (hour >= 48)" in text
