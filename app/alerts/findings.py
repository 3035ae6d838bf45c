"""What the page says when there is no risk score but the data show organ dysfunction or shock, and what a
score made on partial data was made without.

A nurse who sees a MAP of 48 and a lactate of 4.9 answered with "no risk score" (because no respiratory rate
was charted) stops trusting the tool. So whenever the model gives no number (it abstains, or is not
available) and the policy's organ-dysfunction signs are present, the page shows those signs as an
alert-level finding of their own, says whether they are signs of shock (SBP < 90 or MAP < 65 mmHg, or
lactate >= 4 mmol/L: the Sepsis-3 and SEP-1 markers of hypoperfusion), and names what to chart for a score.
It is a finding, not the model's alert: the alert workflow (and its audit) still starts only from a score.
Pure functions over the policy's Assessment: no database, no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.alerts.policy import ABSTAIN, UNAVAILABLE, Assessment, Sign

# Shock: hypotension or hypoperfusion (Singer et al., JAMA 2016;315:801; SEP-1 "septic shock" lactate >= 4).
SHOCK = {"sbp": ("<", 90.0), "map": ("<", 65.0), "lactate": (">=", 4.0)}


def is_shock(sign: Sign) -> bool:
    rule = SHOCK.get(sign.concept)
    if rule is None:
        return False
    comparison, limit = rule
    return sign.value < limit if comparison == "<" else sign.value >= limit


@dataclass(frozen=True)
class UnscoredFinding:
    """Organ dysfunction (or shock) in the data while the model gives no number: shown at alert level."""

    shock: bool
    signs: tuple[Sign, ...]
    to_chart: tuple[str, ...]  # what to measure for a risk score (empty when the model itself is unavailable)
    headline: str
    level: str = "alert"


def unscored_finding(verdict: Assessment) -> UnscoredFinding | None:
    """The alert-level finding for a verdict without a score but with signs; None otherwise."""
    if verdict.level not in (ABSTAIN, UNAVAILABLE) or not verdict.signs:
        return None
    shock = any(is_shock(s) for s in verdict.signs)
    to_chart = tuple(m.label for m in verdict.abstain.missing) if verdict.abstain else ()
    what = "Signs of shock" if shock else "Signs of organ dysfunction"
    return UnscoredFinding(shock=shock, signs=verdict.signs, to_chart=to_chart,
                           headline=f"{what} with no risk score: assess the patient now.")


def scored_without(verdict: Assessment) -> tuple[str, ...]:
    """Expected measurements a risk score was made without (not recent enough): the score is on partial data."""
    return tuple(m.label for m in verdict.risk.missing) if verdict.risk else ()
