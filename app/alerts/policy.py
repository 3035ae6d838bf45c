"""When an alert fires: the model's risk at or above the site threshold AND a recent sign of organ dysfunction.

The signs are the SEP-1 ("Severe Sepsis and Septic Shock: Management Bundle", CMS/The Joint Commission)
organ-dysfunction criteria a clinician can verify at the bedside: SBP < 90 or MAP < 65 mmHg, lactate > 2 mmol/L,
creatinine > 2.0 mg/dL, total bilirubin > 2 mg/dL, platelets < 100 x10^3/uL, INR > 1.5. SEP-1 looks for them
within 6 hours of the other criteria, hence the default window. A site may change the list and the window
(`Policy.from_dict`). High risk without a sign is "watch", never an alert (TREWS: wait for a sign the clinician
can check). Pure functions: no database, no Flask.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.model import CONCEPTS, Abstain, Measurement, Risk

ALERT, WATCH, LOW, ABSTAIN, UNAVAILABLE = "alert", "watch", "low", "abstain", "unavailable"


class PolicyError(ValueError):
    """A site's policy settings cannot be used; the message names the problem."""


def display_unit(concept: str) -> str:
    c = CONCEPTS[concept]
    return c.display_unit if c.display_unit is not None else c.unit


@dataclass(frozen=True)
class Criterion:
    """One organ-dysfunction sign: `concept` `comparison` `limit`, in the concept's canonical unit."""

    concept: str
    comparison: str  # "<" or ">"
    limit: float

    def met(self, value: float) -> bool:
        return value < self.limit if self.comparison == "<" else value > self.limit

    @property
    def text(self) -> str:
        unit = display_unit(self.concept)
        return f"{CONCEPTS[self.concept].label} {self.comparison} {self.limit:g}" + (f" {unit}" if unit else "")


SEP1_SIGNS: tuple[Criterion, ...] = (
    Criterion("sbp", "<", 90), Criterion("map", "<", 65), Criterion("lactate", ">", 2.0),
    Criterion("creatinine", ">", 2.0), Criterion("bilirubin_total", ">", 2.0), Criterion("platelets", "<", 100),
    Criterion("inr", ">", 1.5),
)


@dataclass(frozen=True)
class Policy:
    signs: tuple[Criterion, ...] = SEP1_SIGNS
    sign_window: timedelta = timedelta(hours=6)

    @classmethod
    def from_dict(cls, data: Mapping) -> Policy:
        """{"sign_window_hours": 6, "signs": [{"concept": "sbp", "comparison": "<", "limit": 90}, ...]}."""
        try:
            hours = float(data.get("sign_window_hours", 6))
            signs = tuple(Criterion(str(s["concept"]), str(s["comparison"]), float(s["limit"]))
                          for s in data.get("signs", [c.__dict__ for c in SEP1_SIGNS]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PolicyError(f"alert policy is malformed: {exc}") from None
        if not (0 < hours <= 72):
            raise PolicyError("sign_window_hours must be between 0 and 72")
        for s in signs:
            if s.concept not in CONCEPTS or s.comparison not in ("<", ">") or not math.isfinite(s.limit):
                raise PolicyError(f"alert policy sign not usable: {s.concept} {s.comparison} {s.limit}")
        if not signs:
            raise PolicyError("the alert policy needs at least one organ-dysfunction sign")
        return cls(signs=signs, sign_window=timedelta(hours=hours))


@dataclass(frozen=True)
class Sign:
    """A sign that was present: the measurement that showed it, so a clinician can verify it."""

    concept: str
    label: str
    value: float
    unit: str
    time: datetime
    criterion: str  # e.g. "Systolic BP < 90 mmHg"

    def as_json(self) -> dict:
        return {"concept": self.concept, "label": self.label, "value": self.value, "unit": self.unit,
                "time": self.time.isoformat(), "criterion": self.criterion}


@dataclass(frozen=True)
class Assessment:
    """The policy's verdict for one page load. `risk` is set only when the model gave a number."""

    level: str  # alert | watch | low | abstain | unavailable
    signs: tuple[Sign, ...]
    threshold: float | None
    risk: Risk | None = None
    abstain: Abstain | None = None
    unavailable_reason: str | None = None
    policy: Policy = field(default_factory=Policy, compare=False, repr=False)

    @property
    def fires(self) -> bool:
        return self.level == ALERT


def organ_dysfunction(measurements: Iterable[Measurement], now: datetime, policy: Policy) -> tuple[Sign, ...]:
    """Each criterion met by a measurement in (now - window, now], shown by its most recent such value."""
    since = now - policy.sign_window
    recent = [m for m in measurements if since < m.time <= now]
    out = []
    for criterion in policy.signs:
        hits = [m for m in recent if m.concept == criterion.concept and criterion.met(m.value)]
        if hits:
            m = max(hits, key=lambda m: m.time)
            out.append(Sign(m.concept, CONCEPTS[m.concept].label, m.value, display_unit(m.concept), m.time,
                            criterion.text))
    return tuple(out)


def assess(outcome: Risk | Abstain | None, measurements: Iterable[Measurement], now: datetime, *,
           threshold: float | None, policy: Policy | None = None, unavailable_reason: str | None = None
           ) -> Assessment:
    """Risk or abstention + organ-dysfunction signs -> alert, watch, low, abstain or unavailable.

    `outcome` None means there is no model to ask. `threshold` is the site threshold the risk was scored
    against (Risk.above_threshold already applies it).
    """
    policy = policy or Policy()
    signs = organ_dysfunction(measurements, now, policy)
    if outcome is None:
        return Assessment(UNAVAILABLE, signs, threshold, unavailable_reason=unavailable_reason, policy=policy)
    if isinstance(outcome, Abstain):
        return Assessment(ABSTAIN, signs, threshold, abstain=outcome, policy=policy)
    if outcome.above_threshold:
        return Assessment(ALERT if signs else WATCH, signs, threshold, risk=outcome, policy=policy)
    return Assessment(LOW, signs, threshold, risk=outcome, policy=policy)
