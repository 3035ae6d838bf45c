"""What happens to an alert: its states, who may decide, what a decision must say, and what a page load does.

    active --confirm--> confirmed     (final: never re-fires in the encounter; time zero of the bundle)
    active --dismiss--> dismissed     (final; a reason from DISMISS_REASONS, free text)
    active --pause----> paused        (1, 4 or 12 h, or until a chosen time within MAX_PAUSE)
    confirmed --withdraw--> active    (a provider takes back a mistaken confirmation, with a reason from
                                       WITHDRAW_REASONS; the bundle's clocks stop, the history keeps both)
    paused --pause over, criteria hold at the next page load--> active   (the same alert comes back)
    paused --pause over, criteria do not hold--> lapsed                  (closed; a new alert may fire later)

Alerts are scoped to the launch's encounter. Without one (a standalone launch), they are scoped to the patient,
and a confirmed or dismissed alert holds back new ones for PATIENT_SCOPE_HOLD. Pure rules: no database here;
`app.alerts.store` applies them in transactions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.roles import allowed

ACTIVE, PAUSED, CONFIRMED, DISMISSED, LAPSED = "active", "paused", "confirmed", "dismissed", "lapsed"
STATES = (ACTIVE, PAUSED, CONFIRMED, DISMISSED, LAPSED)
FINAL = frozenset({CONFIRMED, DISMISSED})

DECIDERS = allowed("decide_on_alerts")  # app.roles states who may do what
PAUSE_CHOICES: dict[str, timedelta] = {"1": timedelta(hours=1), "4": timedelta(hours=4), "12": timedelta(hours=12)}
MAX_PAUSE = timedelta(hours=24)
PATIENT_SCOPE_HOLD = timedelta(hours=72)
DISMISS_REASONS: dict[str, str] = {
    "other_explanation": "Another explanation for the findings (not infection)",
    "already_treated": "Already recognised and being treated for sepsis",
    "chronic": "Chronic organ dysfunction (the patient's baseline)",
    "data_error": "Measurement error or artefact",
    "comfort_care": "Comfort care or goals of care",
    "other": "Other (say why below)",
}
WITHDRAW_REASONS: dict[str, str] = {
    "mistake": "confirmed by mistake",
    "wrong_patient": "confirmed on the wrong patient's chart",
    "new_information": "new information: sepsis no longer likely",
    "other": "other (say why below)",
}
WITHDRAWERS = allowed("withdraw_confirmation")
NOTE_MAX = 1000


def may_decide(role: str) -> bool:
    return role in DECIDERS


@dataclass(frozen=True, kw_only=True)
class Scope:
    """Which alerts belong together: the encounter, or without one the patient, on one FHIR server (`iss`). A
    production and a test EHR may both have Patient/p1; their records never meet. Keyword-only, so no caller
    can leave the server out or put a patient id in its place."""

    iss: str
    patient_id: str
    encounter_id: str | None

    @property
    def key(self) -> str:
        return f"Encounter/{self.encounter_id}" if self.encounter_id else f"Patient/{self.patient_id}"

    @property
    def by_encounter(self) -> bool:
        return self.encounter_id is not None


@dataclass(frozen=True)
class Actor:
    user_ref: str
    user_name: str | None
    role: str


@dataclass(frozen=True)
class Decision:
    kind: str  # confirm | dismiss | pause | withdraw
    reason: str | None = None
    note: str | None = None
    paused_until: datetime | None = None

    @property
    def state(self) -> str:
        return {"confirm": CONFIRMED, "dismiss": DISMISSED, "pause": PAUSED, "withdraw": ACTIVE}[self.kind]

    @property
    def from_state(self) -> str:
        """The state the alert must be in for this decision to apply."""
        return applies_to(self.kind)


def applies_to(kind: str) -> str:
    """The state an alert must be in for a decision of this kind: a withdrawal needs a confirmation."""
    return CONFIRMED if kind == "withdraw" else ACTIVE


class DecisionInvalid(ValueError):
    """The decision form is incomplete; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def parse_local_time(text: str, now: datetime) -> datetime | None:
    """An HTML datetime-local value ("2026-11-23T14:05"), read in the site's zone (that of `now`); None if
    unreadable."""
    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M")
    except ValueError:
        return None
    return naive.replace(tzinfo=now.tzinfo)


def parse_decision(kind: str, form: Mapping[str, str], now: datetime) -> Decision:
    """A decision from a submitted form, or DecisionInvalid with a message per field."""
    if kind == "confirm":
        return Decision("confirm")
    if kind in ("dismiss", "withdraw"):
        reason = (form.get("reason") or "").strip()
        note = (form.get("note") or "").strip()
        errors = {}
        if reason not in (DISMISS_REASONS if kind == "dismiss" else WITHDRAW_REASONS):
            errors["reason"] = ("Choose a reason for dismissing the alert." if kind == "dismiss" else
                                "Choose why the confirmation is withdrawn.")
        elif reason == "other" and not note:
            errors["note"] = "Say briefly why, since the reason is 'Other'."
        if len(note) > NOTE_MAX:
            errors["note"] = f"Keep the note under {NOTE_MAX} characters."
        if errors:
            raise DecisionInvalid(errors)
        return Decision(kind, reason=reason, note=note or None)
    if kind == "pause":
        choice = (form.get("duration") or "").strip()
        if choice in PAUSE_CHOICES:
            return Decision("pause", paused_until=now + PAUSE_CHOICES[choice])
        if choice != "until":
            raise DecisionInvalid({"duration": "Choose how long to pause the alert."})
        until = parse_local_time(form.get("until") or "", now)
        if until is None:
            raise DecisionInvalid({"until": "Give the date and time the pause should end."})
        if until <= now:
            raise DecisionInvalid({"until": "The pause must end in the future."})
        if until - now > MAX_PAUSE:
            raise DecisionInvalid({"until": f"A pause can last at most {MAX_PAUSE.total_seconds() / 3600:g} hours."})
        return Decision("pause", paused_until=until)
    raise DecisionInvalid({"kind": "Unknown decision."})


class Step(enum.Enum):
    """What a page load does to the scope's newest alert, given the policy's verdict."""

    NOTHING = "nothing"
    RAISE = "raise"  # a new alert
    RESUME = "resume"  # a paused alert comes back
    LAPSE = "lapse"  # a paused alert ends: the criteria no longer hold


def next_step(state: str | None, *, fires: bool, now: datetime, scope: Scope, paused_until: datetime | None = None,
              decided_at: datetime | None = None) -> Step:
    """`state` is that of the scope's newest alert (None when there is none)."""
    if state is None or state == LAPSED:
        return Step.RAISE if fires else Step.NOTHING
    if state == ACTIVE:
        return Step.NOTHING
    if state == PAUSED:
        if paused_until is not None and now < paused_until:
            return Step.NOTHING
        return Step.RESUME if fires else Step.LAPSE
    # confirmed or dismissed: never again in the encounter; without one, not within PATIENT_SCOPE_HOLD
    if not scope.by_encounter and fires and decided_at is not None and now - decided_at >= PATIENT_SCOPE_HOLD:
        return Step.RAISE
    return Step.NOTHING
