"""The unit board: every patient the screening found on one unit, as frozen rows sorted by what needs action first.

One row per scope (encounter) whose newest scoring by the screening placed it on the unit within `RECENT`: where
(the Encounter's location), the current risk and its trend (against the scoring before), the status of its newest
alert, time since the alert, when last screened, and who decided. The order is the charge nurse's: a new alert
nobody has looked at, then shock the model cannot score, then alerts being evaluated (a nurse screening saved, no
provider decision yet), confirmed (the bundle's 3 h and 6 h clocks), paused, then patients without an alert by
risk, and dismissed last. Reads the database only (no FHIR), so the whole unit is a few queries. No Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.alerts import store as alerts
from app.alerts.policy import ABSTAIN, Policy
from app.alerts.workflow import ACTIVE, CONFIRMED, DISMISSED, PAUSED
from app.assessment import evaluate
from app.bundle import SIX_HOURS, THREE_HOURS
from app.cds.cards import shock_signs
from app.model import Model
from app.nursing.form import nurse_screenings
from app.screening import history, window

RECENT = timedelta(hours=12)  # a patient not screened on the unit for this long has left it
NEW, SHOCK, EVALUATING, CONFIRMED_S, PAUSED_S, WATCH, SCREENED, DISMISSED_S = (
    "new alert", "cannot be scored, signs of shock", "being evaluated", "confirmed", "paused", "high risk, no sign",
    "screened", "dismissed")
ORDER = {NEW: 0, SHOCK: 1, EVALUATING: 2, CONFIRMED_S: 3, PAUSED_S: 4, WATCH: 5, SCREENED: 6, DISMISSED_S: 7}


@dataclass(frozen=True)
class Row:
    patient_id: str
    encounter_id: str | None
    where: str  # the Encounter's location display, else the Location reference
    status: str
    probability: float | None
    trend: str  # up | down | steady | "" (no earlier score)
    last_screened: datetime
    alert_id: int | None = None
    alert_raised: datetime | None = None
    decided_by: str | None = None
    paused_until: datetime | None = None
    three_hour_due: datetime | None = None
    six_hour_due: datetime | None = None
    to_chart: tuple[str, ...] = ()  # for SHOCK: what the model lacks

    @property
    def order(self) -> tuple:
        return (ORDER[self.status], -(self.probability or 0.0), self.where)


@dataclass(frozen=True)
class Board:
    unit: str
    now: datetime
    rows: tuple[Row, ...]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)


def _trend(newest: float | None, before: float | None) -> str:
    if newest is None or before is None:
        return ""
    if newest - before >= 0.02:
        return "up"
    if before - newest >= 0.02:
        return "down"
    return "steady"


def build(engine: sa.Engine, iss: str, unit: str, now: datetime, *, model: Model | None = None,
          policy: Policy | None = None, lookback: timedelta = timedelta(hours=72)) -> Board:
    """The board of `unit` (a Location reference the screening screens) on the FHIR base `iss`, at `now`."""
    r = history.risk_scores
    with engine.connect() as conn:
        scored = conn.execute(sa.select(r.c.scope_key, r.c.patient_id, r.c.encounter_id, r.c.at, r.c.level,
                                        r.c.probability, r.c.location_display, r.c.location)
                              .where(r.c.iss == iss, r.c.source == history.SCREENING, r.c.location == unit,
                                     r.c.outcome != history.FAILED, r.c.at >= now - RECENT)
                              .order_by(r.c.scope_key, r.c.at.desc(), r.c.id.desc())).all()
        by_scope: dict[str, list] = {}
        for row in scored:
            by_scope.setdefault(row.scope_key, []).append(row)
        keys = list(by_scope)
        newest_alerts = {}
        evaluated: set[int] = set()
        if keys:
            for row in conn.execute(sa.select(alerts.alerts).where(alerts.alerts.c.iss == iss,
                                                                   alerts.alerts.c.scope_key.in_(keys))
                                    .order_by(alerts.alerts.c.seq)).mappings():
                newest_alerts[row["scope_key"]] = alerts.AlertRecord(**{k: row[k] for k in alerts.AlertRecord.__dataclass_fields__})
            ids = [a.id for a in newest_alerts.values()]
            evaluated = set(conn.execute(sa.select(nurse_screenings.c.alert_id).where(
                nurse_screenings.c.alert_id.in_(ids))).scalars()) if ids else set()
    rows = [_row(engine, iss, key, runs, newest_alerts.get(key), evaluated, now, model, policy, lookback)
            for key, runs in by_scope.items()]
    return Board(unit, now, tuple(sorted(rows, key=lambda row: row.order)))


def _row(engine, iss, key, runs, alert, evaluated, now, model, policy, lookback) -> Row:
    newest = runs[0]
    before = next((x.probability for x in runs[1:] if x.probability is not None), None)
    base = dict(patient_id=newest.patient_id, encounter_id=newest.encounter_id,
                where=newest.location_display or newest.location, probability=newest.probability,
                trend=_trend(newest.probability, before), last_screened=newest.at)
    if alert is not None and alert.state in (ACTIVE, PAUSED, CONFIRMED, DISMISSED):
        status = {ACTIVE: EVALUATING if alert.id in evaluated else NEW, PAUSED: PAUSED_S,
                  CONFIRMED: CONFIRMED_S, DISMISSED: DISMISSED_S}[alert.state]
        zero = alert.time_zero
        return Row(**base, status=status, alert_id=alert.id, alert_raised=alert.raised_at,
                   decided_by=alert.decided_by_name or alert.last_action_by_name,
                   paused_until=alert.paused_until if alert.state == PAUSED else None,
                   three_hour_due=zero + THREE_HOURS if zero else None, six_hour_due=zero + SIX_HOURS if zero else None)
    if newest.level == ABSTAIN:
        stored = window.load(engine, iss, key)
        if stored is not None:
            verdict, _ = evaluate(engine, stored.measurements(now, lookback), now, iss=iss, model=model,
                                  policy=policy)
            if verdict.abstain is not None and shock_signs(verdict):
                return Row(**base, status=SHOCK, to_chart=tuple(m.label for m in verdict.abstain.missing))
    return Row(**base, status=WATCH if newest.level == "watch" else SCREENED)
