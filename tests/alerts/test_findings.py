"""A patient in shock or with organ dysfunction is never shown as merely "no score"; partial-data scores say so."""

from __future__ import annotations

from app.alerts.findings import scored_without, unscored_finding
from app.alerts.policy import ABSTAIN, ALERT, LOW, UNAVAILABLE, assess
from app.model import Missing, Risk
from tests.support.builders import NOW, abstain, at, m, risk


def test_shock_without_a_score_is_an_alert_level_finding_that_says_what_to_chart():
    """The issue's nurse: MAP 48 and lactate 4.9, no respiratory rate charted, so the model abstains."""
    outcome = abstain(("heart_rate", "Heart rate", "never measured", None))
    verdict = assess(outcome, [m("map", 48), m("lactate", 4.9)], NOW, threshold=0.1)
    assert verdict.level == ABSTAIN
    finding = unscored_finding(verdict)
    assert finding is not None and finding.level == ALERT and finding.shock
    assert {s.concept for s in finding.signs} == {"map", "lactate"}
    assert finding.to_chart == ("Heart rate",)
    assert finding.headline.startswith("Signs of shock")


def test_organ_dysfunction_without_shock_and_without_a_model_is_still_a_finding():
    verdict = assess(None, [m("creatinine", 3.1), m("sbp", 118)], NOW, threshold=None, unavailable_reason="no model")
    assert verdict.level == UNAVAILABLE
    finding = unscored_finding(verdict)
    assert finding is not None and not finding.shock and finding.to_chart == ()
    assert finding.headline.startswith("Signs of organ dysfunction")


def test_lactate_of_exactly_four_is_shock_and_no_sign_means_no_finding():
    verdict = assess(abstain(("sbp", "Systolic BP", "never measured", None)), [m("lactate", 4.0)], NOW, threshold=0.1)
    assert unscored_finding(verdict).shock
    quiet = assess(abstain(("sbp", "Systolic BP", "never measured", None)), [m("lactate", 1.1)], NOW, threshold=0.1)
    assert unscored_finding(quiet) is None
    old = assess(abstain(("sbp", "Systolic BP", "never measured", None)), [m("map", 50, hours_ago=9)], NOW,
                 threshold=0.1)
    assert unscored_finding(old) is None  # outside the policy's sign window: not a current finding


def test_a_score_is_never_a_finding_but_lists_what_it_was_made_without():
    partial = Risk(probability=0.02, threshold=0.1, above_threshold=False, starred=frozenset(), model_version="m",
                   missing=(Missing("resp_rate", "Respiratory rate", "too old", at(8)),))
    verdict = assess(partial, [m("map", 60)], NOW, threshold=0.1)
    assert verdict.level == LOW and unscored_finding(verdict) is None
    assert scored_without(verdict) == ("Respiratory rate",)
    assert scored_without(assess(risk(0.9, 0.1), [m("map", 60)], NOW, threshold=0.1)) == ()
