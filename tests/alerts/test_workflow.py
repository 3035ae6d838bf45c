"""The alert workflow's rules: states, who may decide, what a decision must say, what a page load does."""

from datetime import timedelta

import pytest

from app.alerts.workflow import (
    ACTIVE,
    CONFIRMED,
    DISMISSED,
    LAPSED,
    MAX_PAUSE,
    PATIENT_SCOPE_HOLD,
    PAUSED,
    DecisionInvalid,
    Scope,
    Step,
    may_decide,
    next_step,
    parse_decision,
)
from tests.support.builders import NOW

ENC = Scope(iss="https://ehr.example.org/fhir", patient_id="p1", encounter_id="e1")
NO_ENC = Scope(iss="https://ehr.example.org/fhir", patient_id="p1", encounter_id=None)


def local(dt):
    """The datetime-local string a browser sends, in the site's zone (that of NOW)."""
    return dt.astimezone(NOW.tzinfo).strftime("%Y-%m-%dT%H:%M")


def test_only_providers_decide():
    assert may_decide("provider")
    assert not any(may_decide(r) for r in ("nurse", "deployment", "read-only", ""))


def test_scope_is_the_encounter_else_the_patient():
    assert ENC.key == "Encounter/e1" and NO_ENC.key == "Patient/p1"


def test_confirm_needs_nothing_more():
    assert parse_decision("confirm", {}, NOW).state == CONFIRMED


def test_dismiss_needs_a_listed_reason_and_text_for_other():
    with pytest.raises(DecisionInvalid) as exc:
        parse_decision("dismiss", {}, NOW)
    assert "reason" in exc.value.errors
    with pytest.raises(DecisionInvalid) as exc:
        parse_decision("dismiss", {"reason": "other", "note": "  "}, NOW)
    assert "note" in exc.value.errors
    d = parse_decision("dismiss", {"reason": "chronic", "note": " known CKD "}, NOW)
    assert (d.state, d.reason, d.note) == (DISMISSED, "chronic", "known CKD")


@pytest.mark.parametrize("choice, hours", [("1", 1), ("4", 4), ("12", 12)])
def test_pause_for_a_listed_duration(choice, hours):
    d = parse_decision("pause", {"duration": choice}, NOW)
    assert d.state == PAUSED and d.paused_until == NOW + timedelta(hours=hours)


def test_pause_until_a_chosen_time_must_be_future_and_within_the_limit():
    d = parse_decision("pause", {"duration": "until", "until": local(NOW + timedelta(hours=2))}, NOW)
    assert d.paused_until == NOW + timedelta(hours=2)
    for value in ("", "tomorrow", local(NOW - timedelta(minutes=5)), local(NOW + MAX_PAUSE + timedelta(hours=1))):
        with pytest.raises(DecisionInvalid) as exc:
            parse_decision("pause", {"duration": "until", "until": value}, NOW)
        assert "until" in exc.value.errors
    with pytest.raises(DecisionInvalid):
        parse_decision("pause", {"duration": "7"}, NOW)


def test_no_alert_raises_one_only_when_the_criteria_hold():
    assert next_step(None, fires=True, now=NOW, scope=ENC) is Step.RAISE
    assert next_step(None, fires=False, now=NOW, scope=ENC) is Step.NOTHING


def test_an_active_alert_is_never_raised_again():
    assert next_step(ACTIVE, fires=True, now=NOW, scope=ENC) is Step.NOTHING


def test_a_pause_holds_until_it_ends_then_the_criteria_decide():
    until = NOW + timedelta(hours=1)
    assert next_step(PAUSED, fires=True, now=NOW, scope=ENC, paused_until=until) is Step.NOTHING
    assert next_step(PAUSED, fires=True, now=until, scope=ENC, paused_until=until) is Step.RESUME
    assert next_step(PAUSED, fires=False, now=until, scope=ENC, paused_until=until) is Step.LAPSE


@pytest.mark.parametrize("state", [CONFIRMED, DISMISSED])
def test_decided_alerts_never_refire_in_the_encounter(state):
    assert next_step(state, fires=True, now=NOW + timedelta(days=30), scope=ENC, decided_at=NOW) is Step.NOTHING


def test_without_an_encounter_a_decision_holds_back_new_alerts_for_a_while():
    assert next_step(DISMISSED, fires=True, now=NOW + timedelta(hours=2), scope=NO_ENC,
                     decided_at=NOW) is Step.NOTHING
    assert next_step(DISMISSED, fires=True, now=NOW + PATIENT_SCOPE_HOLD, scope=NO_ENC,
                     decided_at=NOW) is Step.RAISE


def test_after_a_lapse_a_new_alert_may_fire():
    assert next_step(LAPSED, fires=True, now=NOW, scope=ENC) is Step.RAISE


def test_withdrawing_a_confirmation_needs_a_listed_reason_and_text_for_other():
    with pytest.raises(DecisionInvalid) as exc:
        parse_decision("withdraw", {}, NOW)
    assert exc.value.errors == {"reason": "Choose why the confirmation is withdrawn."}
    with pytest.raises(DecisionInvalid) as exc:
        parse_decision("withdraw", {"reason": "other"}, NOW)
    assert "note" in exc.value.errors
    d = parse_decision("withdraw", {"reason": "wrong_patient"}, NOW)
    assert (d.kind, d.state, d.from_state, d.reason) == ("withdraw", "active", "confirmed", "wrong_patient")
    assert parse_decision("confirm", {}, NOW).from_state == "active"
