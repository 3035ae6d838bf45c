"""Alerts and their history in the database: raise, resume or lapse on a page load; decide once, exactly once.

Tables (declared here on `app.db.metadata`; migration 0003):

`alerts`: one row per alert, what it was raised on and where it stands.
    id, iss (the FHIR server the patient and encounter ids belong to; migration 0007), scope_key
    ("Encounter/<id>", or "Patient/<id>" without an encounter), seq (1, 2, ... per scope; UNIQUE(iss, scope_key,
    seq) makes a second, concurrent raise fail), patient_id, encounter_id,
    care_unit (Encounter.location display or reference, else serviceType/type text, else "unknown"),
    raised_at, state (active | paused | confirmed | dismissed | lapsed), state_at,
    probability, threshold, threshold_version (0 = the model card's), model_version,
    signs (JSON list: concept, label, value, unit, time, criterion), measurements (JSON list: concept, value,
    time: every measurement the model was given), latest (JSON: the newest assessment shown while active),
    first_action_at (the first provider decision: confirm, dismiss or pause), decision (confirmed | dismissed),
    decided_at (= time zero when confirmed), decided_by, decided_by_name, decided_role,
    dismiss_reason (a key of workflow.DISMISS_REASONS), dismiss_note, paused_until, pause_count,
    last_action, last_action_at, last_action_by, last_action_by_name (who did what last, for a 409),
    withdraw_reason, withdraw_note (migration 0009: why a provider took back the last confirmation).

`alert_events`: the append-only history. id, alert_id, at, kind (raised | confirmed | dismissed | paused |
    resumed | lapsed | withdrawn), user_ref, user_name, role (empty for raised/resumed/lapsed), submission_id (UNIQUE: a
    resubmitted form is recorded once), basis (JSON: the score, threshold, model version and signs the
    decision was made on), detail (JSON: reason, note, paused_until).

Adoption metrics read these directly, e.g. by care unit and day:
    fired:             SELECT care_unit, date(raised_at), count(*) FROM alerts GROUP BY 1, 2
    % evaluated:       count(first_action_at) / count(*)        time to evaluation: first_action_at - raised_at
    % confirmed:       count(*) FILTER (WHERE decision = 'confirmed') / count(decision)
    pauses:            sum(pause_count), or alert_events WHERE kind = 'paused'
    dismissal reasons: SELECT dismiss_reason, count(*) FROM alerts WHERE decision = 'dismissed' GROUP BY 1
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.db import TS, metadata
from app.model import Measurement

from .errors import AlertNotFound, AlreadyDecided
from .policy import Assessment
from .record import AlertRecord
from .workflow import ACTIVE, CONFIRMED, DISMISSED, LAPSED, PAUSED, Actor, Decision, Scope, Step, next_step

log = logging.getLogger(__name__)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("scope_key", sa.String(200), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("patient_id", sa.String(128), nullable=False, index=True),
    sa.Column("encounter_id", sa.String(128)),
    sa.Column("care_unit", sa.String(200), nullable=False, index=True),
    sa.Column("raised_at", TS, nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_at", TS, nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("threshold_version", sa.Integer, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("signs", sa.JSON, nullable=False),
    sa.Column("measurements", sa.JSON, nullable=False),
    sa.Column("latest", sa.JSON),
    sa.Column("first_action_at", TS),
    sa.Column("decision", sa.String(16)),
    sa.Column("decided_at", TS),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_by_name", sa.Text),
    sa.Column("decided_role", sa.String(32)),
    sa.Column("dismiss_reason", sa.String(32)),
    sa.Column("dismiss_note", sa.Text),
    sa.Column("paused_until", TS),
    sa.Column("pause_count", sa.Integer, nullable=False),
    sa.Column("last_action", sa.String(16)),
    sa.Column("last_action_at", TS),
    sa.Column("last_action_by", sa.Text),
    sa.Column("last_action_by_name", sa.Text),
    sa.Column("withdraw_reason", sa.String(32)),
    sa.Column("withdraw_note", sa.Text),
    sa.UniqueConstraint("iss", "scope_key", "seq", name="uq_alerts_iss"),
)

alert_events = sa.Table(
    "alert_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False, index=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("user_ref", sa.Text),
    sa.Column("user_name", sa.Text),
    sa.Column("role", sa.String(32)),
    sa.Column("submission_id", sa.String(64), unique=True),
    sa.Column("basis", sa.JSON),
    sa.Column("detail", sa.JSON),
)


def _record(row) -> AlertRecord:
    return AlertRecord(**{k: row[k] for k in AlertRecord.__dataclass_fields__})


@dataclass(frozen=True)
class Outcome:
    """A decision's result: the alert afterwards, and whether this submission had already been recorded."""

    alert: AlertRecord
    replayed: bool


def get(engine_or_conn, alert_id: int) -> AlertRecord | None:
    query = sa.select(alerts).where(alerts.c.id == alert_id)
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.connect() as conn:
            row = conn.execute(query).mappings().first()
    else:
        row = engine_or_conn.execute(query).mappings().first()
    return _record(row) if row else None


def newest(engine: sa.Engine, scope: Scope) -> AlertRecord | None:
    """The scope's newest alert, on the scope's FHIR server only."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.iss == scope.iss, alerts.c.scope_key == scope.key)
                           .order_by(alerts.c.seq.desc()).limit(1)).mappings().first()
    return _record(row) if row else None


def newest_for_patient(engine: sa.Engine, iss: str, patient_id: str, encounter_id: str | None = None
                       ) -> AlertRecord | None:
    """The patient's most recently raised alert on that FHIR server (of that encounter when one is named),
    whatever its state."""
    query = sa.select(alerts).where(alerts.c.iss == iss, alerts.c.patient_id == patient_id)
    if encounter_id:
        query = query.where(alerts.c.encounter_id == encounter_id)
    with engine.connect() as conn:
        row = conn.execute(query.order_by(alerts.c.raised_at.desc(), alerts.c.id.desc()).limit(1)).mappings().first()
    return _record(row) if row else None


def for_patient(engine: sa.Engine, alert_id: int, scope: Scope) -> AlertRecord:
    """The alert, which must be this patient's on this FHIR server; AlertNotFound otherwise (never another
    patient's alert, nor the alert of a same-named patient on another EHR)."""
    alert = get(engine, alert_id)
    if alert is None or alert.patient_id != scope.patient_id or alert.iss != scope.iss:
        raise AlertNotFound(f"alert {alert_id}")
    return alert


def events(engine: sa.Engine, alert_id: int) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(alert_events).where(alert_events.c.alert_id == alert_id)
                                              .order_by(alert_events.c.id)).mappings()]


def basis_of(assessment: Assessment, threshold_version: int, at: datetime) -> dict:
    """What a page showed: the numbers a decision is made on (never a probability when the model abstained)."""
    risk = assessment.risk
    return {"at": at.isoformat(), "level": assessment.level,
            "probability": risk.probability if risk else None, "threshold": assessment.threshold,
            "threshold_version": threshold_version, "model_version": risk.model_version if risk else None,
            "signs": [s.as_json() for s in assessment.signs]}


def _measurements_json(measurements: Iterable[Measurement]) -> list[dict]:
    return [{"concept": m.concept, "value": m.value, "time": m.time.isoformat()}
            for m in sorted(measurements, key=lambda m: (m.concept, m.time))]


def sync(engine: sa.Engine, scope: Scope, assessment: Assessment, now: datetime, *, threshold_version: int,
         measurements: Iterable[Measurement], care_unit: Callable[[], str]) -> AlertRecord | None:
    """Apply a page load's verdict to the scope's newest alert: raise, resume, lapse, or nothing. Returns the
    scope's newest alert afterwards. Safe when the chart is opened twice at once: one raise wins, the other
    finds it. `care_unit` is called only when an alert is raised (it may cost a FHIR read)."""
    current = newest(engine, scope)
    step = next_step(current.state if current else None, fires=assessment.fires, now=now, scope=scope,
                     paused_until=current.paused_until if current else None,
                     decided_at=current.decided_at if current else None)
    basis = basis_of(assessment, threshold_version, now)
    if step is Step.RAISE:
        return _raise(engine, scope, assessment, now, threshold_version, measurements, care_unit(),
                      current.seq + 1 if current else 1, basis)
    if step in (Step.RESUME, Step.LAPSE):
        state, kind = (ACTIVE, "resumed") if step is Step.RESUME else (LAPSED, "lapsed")
        with engine.begin() as conn:  # conditional: of two page loads, one moves it
            moved = conn.execute(alerts.update().where(
                alerts.c.id == current.id, alerts.c.state == PAUSED,
                alerts.c.paused_until <= now).values(state=state, state_at=now, latest=basis)).rowcount
            if moved:
                conn.execute(alert_events.insert().values(alert_id=current.id, at=now, kind=kind, basis=basis))
        if moved:  # else another page load moved it
            log.info("alert %s %s after pause", current.id, kind)
        return get(engine, current.id)
    if current is not None and current.state == ACTIVE and assessment.level != "unavailable":
        with engine.begin() as conn:
            conn.execute(alerts.update().where(alerts.c.id == current.id, alerts.c.state == ACTIVE)
                         .values(latest=basis))
        return get(engine, current.id)
    return current


def _raise(engine, scope, assessment, now, threshold_version, measurements, care_unit, seq, basis):
    risk = assessment.risk
    values = dict(
        iss=scope.iss, scope_key=scope.key, seq=seq, patient_id=scope.patient_id, encounter_id=scope.encounter_id,
        care_unit=(care_unit or "unknown")[:200], raised_at=now, state=ACTIVE, state_at=now,
        probability=risk.probability, threshold=assessment.threshold, threshold_version=threshold_version,
        model_version=risk.model_version, signs=[s.as_json() for s in assessment.signs],
        measurements=_measurements_json(measurements), latest=basis, pause_count=0)
    try:
        with engine.begin() as conn:
            new_id = conn.execute(alerts.insert().values(**values)).inserted_primary_key[0]
            conn.execute(alert_events.insert().values(alert_id=new_id, at=now, kind="raised", basis=basis))
    except sa.exc.IntegrityError:
        log.info("alert for %s raised concurrently; using the other one", scope.key)
        return newest(engine, scope)
    log.info("alert %s raised (seq %d)", new_id, seq)
    return get(engine, new_id)


def decide(engine: sa.Engine, alert_id: int, decision: Decision, actor: Actor, submission_id: str,
           now: datetime) -> Outcome:
    """Record one decision on an active alert (a withdrawal: on a confirmed one), atomically with its event;
    commit before the caller answers.

    A resubmitted form (same `submission_id`) gets the stored outcome (`replayed`). If the alert is no longer
    active, AlreadyDecided carries the alert as it is (who did what, when). The UPDATE runs first so that on
    SQLite the transaction takes the write lock before it reads anything.
    """
    kind = "withdrawn" if decision.kind == "withdraw" else decision.state
    values = dict(state=decision.state, state_at=now, last_action=kind, last_action_at=now,
                  last_action_by=actor.user_ref, last_action_by_name=actor.user_name,
                  first_action_at=sa.func.coalesce(alerts.c.first_action_at, sa.literal(now, TS)))
    if decision.kind == "withdraw":  # back to active: the bundle's time zero is gone, the events keep it
        values.update(decision=None, decided_at=None, decided_by=None, decided_by_name=None, decided_role=None,
                      withdraw_reason=decision.reason, withdraw_note=decision.note)
    elif decision.kind == "pause":
        values.update(paused_until=decision.paused_until, pause_count=alerts.c.pause_count + 1)
    else:
        values.update(decision=decision.state, decided_at=now, decided_by=actor.user_ref,
                      decided_by_name=actor.user_name, decided_role=actor.role)
        if decision.kind == "dismiss":
            values.update(dismiss_reason=decision.reason, dismiss_note=decision.note)
    detail = {k: v for k, v in (("reason", decision.reason), ("note", decision.note),
                                ("paused_until", decision.paused_until.isoformat() if decision.paused_until
                                 else None)) if v is not None}
    try:
        with engine.begin() as conn:
            moved = conn.execute(alerts.update().where(alerts.c.id == alert_id,
                                                       alerts.c.state == decision.from_state)
                                 .values(**values)).rowcount
            if moved:
                alert = get(conn, alert_id)
                conn.execute(alert_events.insert().values(
                    alert_id=alert_id, at=now, kind=kind, user_ref=actor.user_ref,
                    user_name=actor.user_name, role=actor.role, submission_id=submission_id,
                    basis=alert.latest, detail=detail or None))
                log.info("alert %s %s by role %s", alert_id, kind, actor.role)
                return Outcome(alert, replayed=False)
    except sa.exc.IntegrityError:
        pass  # the same submission recorded concurrently: answer with the stored outcome below
    alert = get(engine, alert_id)
    if alert is None:
        raise AlertNotFound(f"alert {alert_id}")
    if _submitted(engine, submission_id, alert_id):
        return Outcome(alert, replayed=True)
    raise AlreadyDecided(alert, decision.state)


def _submitted(engine: sa.Engine, submission_id: str, alert_id: int) -> bool:
    with engine.connect() as conn:
        found = conn.execute(sa.select(alert_events.c.alert_id).where(
            alert_events.c.submission_id == submission_id)).first()
    return found is not None and found[0] == alert_id


STATE_WORDS = {ACTIVE: "active", PAUSED: "paused", CONFIRMED: "confirmed", DISMISSED: "dismissed",
               LAPSED: "closed (criteria no longer met after a pause)"}
