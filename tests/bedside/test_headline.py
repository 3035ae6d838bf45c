"""The headline's words from the alert's state and the site threshold (app.bedside.headline, no database)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.alerts.store import AlertRecord
from app.bedside.headline import bundle_clock, headline

NOW = datetime(2026, 11, 23, 18, 3, tzinfo=UTC)
ALERT = AlertRecord(
    id=1, iss="https://ehr.example.org/fhir", scope_key="Encounter/e", seq=1, patient_id="p", encounter_id="e", care_unit="ICU", raised_at=NOW,
    state="active", state_at=NOW, probability=0.05, threshold=0.04, threshold_version=0, model_version="m",
    signs=[], measurements=[], latest={"level": "alert", "probability": 0.05, "threshold": 0.04},
    first_action_at=None, decision=None, decided_at=None, decided_by=None, decided_by_name=None, decided_role=None,
    dismiss_reason=None, dismiss_note=None, paused_until=None, pause_count=0, last_action=None, last_action_at=None,
    last_action_by=None, last_action_by_name=None)


def test_a_5_percent_risk_above_a_4_percent_threshold_is_not_called_high():
    h = headline("alert", 0.05, 0.04, ALERT, NOW)
    assert h.title.startswith("Sepsis alert: risk above this site's alert threshold") and "High" not in h.title
    assert h.detail == "Estimated risk 5%; this site alerts at 4% or more."
    assert headline("low", 0.02, 0.04, None, NOW).title == "Risk below this site's alert threshold"


def test_each_decision_changes_the_headline():
    confirmed = replace(ALERT, state="confirmed", decision="confirmed", decided_at=NOW, decided_by_name="Dr. Okafor")
    assert headline(None, None, None, confirmed, NOW + timedelta(minutes=1)).title == (
        "Sepsis confirmed 18:03 by Dr. Okafor, 3-h bundle: 2 h 59 min left")
    dismissed = replace(ALERT, state="dismissed", decided_at=NOW, decided_by_name="Dr. Okafor", dismiss_reason="chronic")
    assert headline(None, None, None, dismissed, NOW).title == (
        "Alert dismissed 18:03 by Dr. Okafor: Chronic organ dysfunction (the patient's baseline)")
    paused = replace(ALERT, state="paused", paused_until=NOW + timedelta(hours=4), last_action_by_name="Dr. Okafor")
    assert headline(None, None, None, paused, NOW).title == "Alert paused until 22:03 by Dr. Okafor"
    withdrawn = replace(ALERT, last_action="withdrawn", last_action_at=NOW, last_action_by_name="Dr. Okafor",
                        withdraw_reason="mistake")
    assert "the confirmation was withdrawn 18:03 by Dr. Okafor (confirmed by mistake)" in headline(
        None, None, None, withdrawn, NOW).title


def test_the_bundle_clock_moves_to_the_6_hour_one():
    assert bundle_clock(NOW, NOW + timedelta(hours=4)) == "3-h bundle time is over; 6-h bundle: 2 h 00 min left"
    assert bundle_clock(NOW, NOW + timedelta(hours=7)) == "3-h and 6-h bundle times are over"


def test_a_refresh_without_an_alert_does_not_guess():
    assert headline(None, None, None, None, NOW).title.startswith("No alert for this patient")


def test_with_no_score_but_signs_of_shock_the_finding_is_the_headline():
    from types import SimpleNamespace

    from app.alerts.findings import UnscoredFinding
    from app.bedside import headline_panel

    ctx = SimpleNamespace(patient_id="p")
    finding = UnscoredFinding(shock=True, signs=(), to_chart=("Respiratory rate",),
                              headline="Signs of shock with no risk score: assess the patient now.")
    assessment = SimpleNamespace(level="abstain", probability=None, threshold=0.04, finding=finding)
    h = headline_panel(ctx, NOW, None, assessment).headline
    assert (h.kind, h.title) == ("alert", "Signs of shock with no risk score: assess the patient now.")
    assert h.detail == "No risk score: not enough recent data"
    calm = SimpleNamespace(level="abstain", probability=None, threshold=0.04, finding=None)
    assert headline_panel(ctx, NOW, None, calm).headline.title == "No risk score: not enough recent data"
