"""Site tuning: the card's operating points as table and plots; setting the threshold (audited, stale-safe)."""

from __future__ import annotations

import html
import re

import pytest

from app.alerts import thresholds
from app.audit import entries
from tests.support.launch import feedback_form_token as token
from tests.support.launch import launch_on
from tests.support.sample_card import THRESHOLD, VERSION, operating_points, use_model_dir, write_sample_card
from tests.support.web import iss_of

HX = {"HX-Request": "true"}


@pytest.fixture
def app(make_app, tmp_path, monkeypatch):
    write_sample_card(tmp_path / "model")
    app = make_app()
    use_model_dir(app, tmp_path / "model")
    return app


def engine_of(app):
    return app.extensions["sentinel"].engine


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def change(team, value, reason="MICU asked for fewer alerts", expected=0, headers=None, **extra):
    return team.client.post("/tuning/threshold", data={"csrf_token": token(team), "value": value, "reason": reason,
                                                       "expected_version": expected, **extra}, headers=headers or {})


@pytest.mark.parametrize("role", ["nurse", "provider"])
def test_only_the_deployment_team_tunes(app, launch, role):
    user = launch(role)
    assert user.client.get("/tuning").status_code == 403
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', user.page.get_data(as_text=True)).group(1)
    response = user.client.post("/tuning/threshold", data={"csrf_token": csrf, "value": "0.5", "reason": "x",
                                                            "expected_version": 0})
    assert response.status_code == 403
    assert thresholds.history(engine_of(app), iss=iss_of(app)) == []
    assert entries(engine_of(app), action="tune_the_site_threshold")[0]["outcome"] == "forbidden"


def test_the_page_shows_set_b_operating_points_and_plots_from_the_card(app, launch):
    team = launch("deployment")
    assert 'id="tuning-link"' in text_of(team.page)
    text = text_of(team.client.get("/tuning"))
    assert "hospital B (never seen in training)" in text
    table = re.search(r'<table id="operating-points".*?</table>', text, re.S).group(0)
    b_points = operating_points(0.9)
    assert len(re.findall(r"<tr", table)) == len(b_points) + 1
    for p in b_points:
        assert f"{p['sensitivity'] * 100:.1f}%" in table and f"{p['precision'] * 100:.1f}%" in table
        assert f"{p['alerts_per_patient_day']:.3f}" in table
    assert f"{THRESHOLD} (model)" in table
    assert "–" in table  # a threshold with no lead time shows a dash, not 0
    svgs = re.findall(r'<svg class="chart".*?</svg>', text, re.S)
    assert len(svgs) == 4 and all("<polyline" in s for s in svgs)
    assert "style=" not in text and "<script" not in text.split("</head>")[1]  # the CSP allows neither
    held_out = text_of(team.client.get("/tuning?set=heldout_A"))
    assert f"{operating_points(1.0)[3]['precision'] * 100:.1f}%" in held_out


def test_a_change_is_saved_audited_and_shown_in_the_history(app, launch):
    team = launch("deployment")
    response = change(team, "0.12")
    assert response.status_code == 303 and response.headers["Location"] == "/tuning"
    current = thresholds.current(engine_of(app), THRESHOLD, iss=iss_of(app))
    assert (current.value, current.version) == (0.12, 1)
    [row] = thresholds.history(engine_of(app), iss=iss_of(app))
    assert (row["previous_value"], row["model_version"], row["reason"]) == (THRESHOLD, VERSION,
                                                                            "MICU asked for fewer alerts")
    [audit] = entries(engine_of(app), action="set_threshold")
    assert audit["detail"] == {"old": THRESHOLD, "new": 0.12} and audit["role"] == "deployment"
    text = text_of(team.client.get("/tuning"))
    assert "This site's threshold: <strong>0.12</strong>" in text and "0.08 → 0.12" in text
    assert row["set_by_name"] == "Priya Raman" and "by Priya Raman on" in text  # the name, not the FHIR id
    assert "<td>Priya Raman (deployment team)</td>" in text and "Practitioner/" not in text


def test_with_htmx_the_section_comes_back_with_the_new_markers(app, launch):
    team = launch("deployment")
    response = change(team, "0.15", headers=HX)
    text = text_of(response)
    assert response.status_code == 200 and text.lstrip().startswith('<section id="tuning"')
    assert 'id="threshold-saved"' in text and "this site" in text


@pytest.mark.parametrize("value, reason, field", [("abc", "x", "value"), ("1.5", "x", "value"), ("0", "x", "value"),
                                                  ("nan", "x", "value"), ("0.1", "  ", "reason")])
def test_bad_values_and_missing_reasons_are_422_and_keep_the_input(app, launch, value, reason, field):
    team = launch("deployment")
    response = change(team, value, reason=reason)
    assert response.status_code == 422
    text = text_of(response)
    assert f'id="{field}-error"' in text and f'value="{value}"' in text
    assert thresholds.history(engine_of(app), iss=iss_of(app)) == []


def test_a_stale_edit_is_refused_with_409_and_shows_the_newer_value(app, launch):
    team, other = launch("deployment"), launch("deployment")
    assert change(other, "0.2", expected=0).status_code == 303
    response = change(team, "0.05", expected=0, headers=HX)
    assert response.status_code == 409
    text = text_of(response)
    assert 'id="threshold-conflict"' in text and "It is now 0.2" in text
    assert thresholds.current(engine_of(app), THRESHOLD, iss=iss_of(app)).value == 0.2


def test_without_a_card_there_is_nothing_to_tune(make_app, tmp_path, ehr, monkeypatch):
    app = make_app()
    use_model_dir(app, tmp_path / "none")
    team = launch_on(app, ehr, "deployment")
    assert "No model card is installed" in text_of(team.client.get("/tuning"))
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', team.page.get_data(as_text=True)).group(1)
    response = team.client.post("/tuning/threshold", data={"csrf_token": csrf, "value": "0.1", "reason": "x",
                                                            "expected_version": 0})
    assert response.status_code == 422 and thresholds.history(engine_of(app), iss=iss_of(app)) == []
