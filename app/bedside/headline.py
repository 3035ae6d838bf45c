"""The bedside page's headline: where the patient's alert stands, in one line a clinician reads first.

The wording comes from the alert's state (confirmed at / by whom with the bundle's clock, dismissed with the
reason, paused until) and, before any decision, from the site's alert threshold ("above this site's alert
threshold"), never from a fixed adjective: a 5% risk can be above a 4% site threshold, and calling it "high"
would mislead. No Flask, no database: the panels hand in what they read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.alerts.policy import ABSTAIN, ALERT, LOW, UNAVAILABLE, WATCH
from app.alerts.workflow import CONFIRMED, DISMISS_REASONS, DISMISSED, PAUSED, WITHDRAW_REASONS
from app.bundle import SIX_HOURS, THREE_HOURS

from .timewords import clock_text, duration_text

RISK_WORDS = {
    ALERT: "Sepsis alert: risk above this site's alert threshold, with a sign of organ dysfunction",
    WATCH: "Risk above this site's alert threshold, no sign of organ dysfunction yet: watch",
    LOW: "Risk below this site's alert threshold",
    ABSTAIN: "No risk score: not enough recent data",
    UNAVAILABLE: "No risk score: the risk model is not available",
}


@dataclass(frozen=True)
class Headline:
    kind: str  # the CSS modifier and data-state: alert | watch | low | abstain | unavailable | confirmed | ...
    title: str
    detail: str | None  # the numbers behind it ("Estimated risk 12%; this site alerts at 10% or more.")


def _pct(p: float) -> str:
    return f"{p * 100:.0f}%"


def risk_detail(probability: float | None, threshold: float | None) -> str | None:
    if probability is None or threshold is None:
        return None
    return f"Estimated risk {_pct(probability)}; this site alerts at {_pct(threshold)} or more."


def bundle_clock(time_zero: datetime, now: datetime) -> str:
    """ "3-h bundle: 2 h 59 min left", then the 6-h clock once the first has run out."""
    three, six = time_zero + THREE_HOURS, time_zero + SIX_HOURS
    if now < three:
        return f"3-h bundle: {duration_text(three - now)} left"
    if now < six:
        return f"3-h bundle time is over; 6-h bundle: {duration_text(six - now)} left"
    return "3-h and 6-h bundle times are over"


def headline(level: str | None, probability: float | None, threshold: float | None, alert, now: datetime) -> Headline:
    """`alert` is the scope's newest AlertRecord or None; `level` the page's verdict (None on a fragment refresh,
    which then words the risk from what the alert was last shown with)."""
    latest = (alert.latest or {}) if alert is not None else {}
    if level is None:
        level = latest.get("level") or (ALERT if alert is not None else None)
        probability = latest.get("probability", probability)
        threshold = latest.get("threshold", threshold)
    risk = risk_detail(probability, threshold)
    who = (alert.decided_by_name or "a provider") if alert is not None else ""
    if alert is not None and alert.state == CONFIRMED and alert.decided_at is not None:
        return Headline("confirmed", f"Sepsis confirmed {clock_text(alert.decided_at, now)} by {who}, "
                                     f"{bundle_clock(alert.decided_at, now)}", risk)
    if alert is not None and alert.state == DISMISSED:
        reason = DISMISS_REASONS.get(alert.dismiss_reason or "", alert.dismiss_reason or "no reason given")
        return Headline("dismissed", f"Alert dismissed {clock_text(alert.decided_at or alert.state_at, now)} by {who}: "
                                     f"{reason}", risk)
    if alert is not None and alert.state == PAUSED and alert.paused_until is not None:
        if now < alert.paused_until:
            return Headline("paused", f"Alert paused until {clock_text(alert.paused_until, now)} by "
                                      f"{alert.last_action_by_name or 'a provider'}", risk)
        return Headline("paused", f"The alert's pause ended {clock_text(alert.paused_until, now)}: reload to "
                                  "re-check", risk)
    if level is None:  # a refresh with no alert and no score at hand: say so rather than guess
        return Headline(ABSTAIN, "No alert for this patient: reload the page for the current risk", None)
    words = RISK_WORDS.get(level, RISK_WORDS[ABSTAIN])
    if alert is not None and alert.state == "active" and alert.last_action == "withdrawn":
        reason = WITHDRAW_REASONS.get(alert.withdraw_reason or "", alert.withdraw_reason or "")
        return Headline(ALERT, f"{RISK_WORDS[ALERT]}; the confirmation was withdrawn "
                               f"{clock_text(alert.last_action_at, now)} by {alert.last_action_by_name or 'a provider'}"
                               f" ({reason})", risk)
    return Headline(level or ABSTAIN, words, risk)
