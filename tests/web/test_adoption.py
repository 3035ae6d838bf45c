"""The adoption page and its CSV, from alerts stored in the database (the seven alerts of tests/test_adoption.py,
moved so that their "now" is the app's now)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime

import pytest

from app import feedback
from app.alerts.store import alerts
from tests.support.adoption import NOW, ROWS

EHR = "https://ehr.example.org/fhir"  # the FHIR server the users belong to

QUIET = "demo-108289"  # a non-septic demo patient: opening the chart raises no alert of its own
STATE = {"confirmed": "confirmed", "dismissed": "dismissed", None: "active"}


def store_alerts(engine, now: datetime) -> None:
    shift = now - NOW
    with engine.begin() as conn:
        for i, r in enumerate(ROWS):
            conn.execute(alerts.insert().values(
                iss=EHR, scope_key=f"Encounter/e{i}", seq=1, patient_id=f"p{i}",
                care_unit=r.care_unit,
                raised_at=r.raised_at + shift, state=STATE[r.decision], state_at=r.raised_at + shift,
                probability=0.4, threshold=0.08, threshold_version=0, model_version="m", signs=[], measurements=[],
                first_action_at=r.first_action_at + shift if r.first_action_at else None, decision=r.decision,
                dismiss_reason=r.dismiss_reason, pause_count=r.pause_count))


@pytest.fixture
def stored(app):
    svc = app.extensions["sentinel"]
    store_alerts(svc.engine, svc.clock())
    feedback.submit(svc.engine, kind="problem", text="x", user_ref="Practitioner/nurse", iss=EHR, role="nurse",
                    context=feedback.Context(), now=svc.clock(), mail_enabled=False)
    return svc


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def row(text: str, row_id: str) -> str:
    return re.sub(r"\s+", " ", re.search(rf'<tr id="{row_id}">(.*?)</tr>', text, re.S).group(1))


@pytest.mark.parametrize("role", ["nurse", "provider"])
def test_only_the_deployment_team_sees_adoption(launch, role):
    user = launch(role)
    assert user.client.get("/adoption").status_code == 403
    assert user.client.get("/adoption/export.csv").status_code == 403


def test_the_page_shows_the_hand_computed_figures_beside_trews(stored, launch):
    team = launch("deployment", patient=QUIET)
    assert 'id="adoption-link"' in text_of(team.page)
    text = text_of(team.client.get("/adoption"))
    assert "<td>7</td>" in row(text, "m-fired")
    assert "71% 5 of 7" in re.sub("<[^>]+>", "", row(text, "m-evaluated")) and "89%" in row(text, "m-evaluated")
    assert "45 min" in row(text, "m-median")
    assert "50% 3 of 6" in re.sub("<[^>]+>", "", row(text, "m-1h"))
    assert "60% 3 of 5" in re.sub("<[^>]+>", "", row(text, "m-3h"))
    assert "40% 2 of 5" in re.sub("<[^>]+>", "", row(text, "m-confirmed")) and "38%" in row(text, "m-confirmed")
    assert "3" in row(text, "m-pauses") and "(2 alerts)" in row(text, "m-pauses")
    assert "<td>1 " in row(text, "m-feedback")
    assert "Chronic organ dysfunction (the patient's baseline)" in text
    unit_rows = re.findall(r'<tr><th scope="row">(MICU|SICU)</th><td>(\d+)</td><td>([^<]+)</td>', text)
    assert unit_rows == [("MICU", "4", "75%"), ("SICU", "3", "67%")]
    assert len(re.findall(r'<svg class="chart"', text)) == 2
    assert "TREWS 89% evaluated" in text


def test_the_csv_matches_the_page(stored, launch):
    team = launch("deployment", patient=QUIET)
    response = team.client.get("/adoption/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    overall = rows[0]
    assert (overall["group"], overall["fired"], overall["evaluated"], overall["evaluated_pct"]) == ("all", "7", "5", "71.4")
    assert (overall["median_minutes_to_evaluation"], overall["confirmed_pct_of_evaluated"]) == ("45.0", "40.0")
    assert overall["feedback"] == "1"
    assert [(r["key"], r["fired"]) for r in rows if r["group"] == "unit"] == [("MICU", "4"), ("SICU", "3")]
    weeks = [r for r in rows if r["group"] == "week"]
    assert sum(int(r["fired"]) for r in weeks) == 7 and sum(int(r["feedback"]) for r in weeks) == 1


def test_the_period_filter_leaves_out_older_alerts(stored, launch):
    team = launch("deployment", patient=QUIET)
    text = text_of(team.client.get("/adoption?days=7"))
    assert "<td>5</td>" in row(text, "m-fired")  # raised in the last 7 days (from the 16th, noon): alerts 3 to 7


def test_the_page_counts_the_ehr_cards_and_why_they_were_overridden(stored, launch):
    from app.cds import store as cds_store

    now = stored.clock()
    cds_store.record_cards(stored.engine, [dict(uuid=f"00000000-0000-4000-8000-00000000000{i}", client="ehr",
                                                hook_instance="h", alert_id=1, patient_id="p0", kind="alert",
                                                indicator="critical", issued_at=now) for i in range(3)])
    for i, (outcome, reason) in enumerate([("accepted", None), ("overridden", "Already being treated")]):
        cds_store.record_feedback(stored.engine, dict(
            card_uuid=f"00000000-0000-4000-8000-00000000000{i}", client="ehr", outcome=outcome, reason_code=None,
            reason_display=reason, user_comment=None, outcome_at=now, received_at=now))
    text = re.sub("<[^>]+>", "", row(text_of(launch("deployment", patient=QUIET).client.get("/adoption")),
                                     "m-cds-cards"))
    assert "3 shown; 1 accepted, 1 overridden (1 Already being treated)" in text
