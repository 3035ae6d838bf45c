"""The cards the hook returns (CDS Hooks 2.0 Card): one for an active, undecided alert, one for a patient in shock
whom the model cannot score, none otherwise. Pure functions over what the alert store and the policy say.

An alert card is `critical` when its newest assessment still shows a sign of organ dysfunction, `warning` when the
signs it was raised on are no longer recent. Its summary (under 140 characters, as the spec requires) carries the
risk and the sign; `source` links the model's transparency page; the one link is a SMART app link whose
`appContext` names the alert, so the launch opens that alert's bedside page. The card offers override reasons
(Card.overrideReasons) so the EHR's feedback says why a card was set aside; an override is not a decision.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from app.alerts.policy import Assessment
from app.alerts.store import AlertRecord

CRITICAL, WARNING, INFO = "critical", "warning", "info"
MAX_SUMMARY = 139
SHOCK_CONCEPTS = frozenset({"sbp", "map", "lactate"})  # SEP-1 septic shock: hypotension or a raised lactate
OVERRIDE_SYSTEM = "urn:sepsis-sentinel:cds-override-reason"
OVERRIDE_REASONS = (
    ("already-evaluated", "Already evaluated for sepsis"),
    ("treating", "Already being treated"),
    ("not-now", "Not now; will open later"),
    ("disagree", "Disagree with the alert"),
)
APP_NAME = "Sepsis Sentinel"


@dataclass(frozen=True)
class Links:
    """Where the cards point: the app's SMART launch URL and the model's transparency page."""

    launch_url: str
    transparency_url: str


def _percent(p: float | None) -> str:
    return f"{p * 100:.0f}%" if p is not None else "n/a"


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _sign_text(sign: dict) -> str:
    unit = f" {sign['unit']}" if sign.get("unit") else ""
    return f"{sign['label']} {_number(float(sign['value']))}{unit}"


def _fit(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else text[:MAX_SUMMARY - 1].rstrip() + "…"


def _source(links: Links) -> dict:
    return {"label": f"{APP_NAME} (how the model works)", "url": links.transparency_url}


def app_context(alert_id: int) -> str:
    """What the SMART link hands the app through the launch: the alert to open (a string, as the spec says)."""
    return json.dumps({"alert": alert_id}, separators=(",", ":"))


def alert_of(context: str | None) -> int | None:
    """The alert an appContext names (what `app_context` wrote), or None: it came back through the EHR and the
    browser, so anything else in it, or anything malformed, is ignored."""
    try:
        value = json.loads(context) if context else None
    except ValueError:
        return None
    alert = value.get("alert") if isinstance(value, dict) else None
    return alert if isinstance(alert, int) and not isinstance(alert, bool) and 0 < alert < 2**31 else None


def alert_card(alert: AlertRecord, links: Links) -> dict:
    latest = alert.latest or {}
    current_signs = latest.get("signs") or []
    signs = current_signs or alert.signs or []
    probability = latest.get("probability", alert.probability)
    sign = max(signs, key=lambda s: s.get("time", "")) if signs else None
    summary = _fit(f"Sepsis risk {_percent(probability)}" + (f" with {_sign_text(sign)}" if sign else "")
                   + ": evaluate for sepsis")
    lines = [f"**Sepsis Sentinel** raised this alert; the risk is {_percent(probability)} "
             f"(the site's threshold is {_percent(latest.get('threshold', alert.threshold))})."]
    if signs:
        lines.append("Signs of organ dysfunction: " + "; ".join(
            f"{_sign_text(s)} ({s.get('criterion', '')})" for s in signs) + ".")
    if not current_signs:
        lines.append("The signs it was raised on are no longer recent.")
    lines.append("Open Sepsis Sentinel to confirm, dismiss or pause the alert.")
    return {
        "uuid": str(uuid.uuid4()),
        "summary": summary,
        "indicator": CRITICAL if current_signs else WARNING,
        "detail": "\n\n".join(lines),
        "source": _source(links),
        "overrideReasons": [{"system": OVERRIDE_SYSTEM, "code": c, "display": d} for c, d in OVERRIDE_REASONS],
        "links": [{"label": f"Open {APP_NAME}", "url": links.launch_url, "type": "smart",
                   "appContext": app_context(alert.id)}],
    }


def shock_signs(verdict: Assessment) -> tuple:
    return tuple(s for s in verdict.signs if s.concept in SHOCK_CONCEPTS)


def chart_card(verdict: Assessment, links: Links) -> dict | None:
    """The information card for a patient with signs of shock whom the model cannot score: what to chart."""
    signs = shock_signs(verdict)
    if verdict.abstain is None or not signs:
        return None
    missing = [m.label for m in verdict.abstain.missing]
    sign = max(signs, key=lambda s: s.time)
    wanted = ", ".join(missing) if missing else "recent vital signs"
    summary = _fit(f"{sign.label} {_number(sign.value)}"
                   f"{' ' + sign.unit if sign.unit else ''}: chart {wanted} for a sepsis risk")
    detail = ("Sepsis Sentinel cannot score this patient's sepsis risk: "
              + "; ".join(f"{m.label} ({m.reason})" for m in verdict.abstain.missing)
              + f". A sign of shock is present: {sign.label} {_number(sign.value)} {sign.unit} ({sign.criterion}).")
    return {"uuid": str(uuid.uuid4()), "summary": summary, "indicator": INFO, "detail": detail,
            "source": _source(links)}
