"""What screening did and what every scoring said, in the database: the cycles, and the risk history per patient.

Tables (declared here on `app.db.metadata`; migration 0008):

`screening_cycles`: one row per screening cycle. iss (the FHIR base screened), runner (in-process | procrastinate),
    due_at (when the schedule wanted it), started_at, census_done_at, census_size, census_complete (every census
    page was read), census_fhir_requests, queued (patients handed to a worker), already_queued (a patient whose
    previous screening still waits: not queued twice), error + error_text (why the census could not be read:
    a code and a sentence for the deployment team, never PHI).

`risk_scores`: one row per scoring of one patient, by the screening or at a chart open. iss, scope_key, patient_id,
    encounter_id, at (the clinical time scored at), recorded_at (wall clock, UTC), source (screening | chart),
    cycle_id, outcome (scored | abstained | unavailable | failed), level (alert | watch | low | abstain |
    unavailable), probability (only when scored), threshold, threshold_version, model_version, alert_id (the
    scope's alert afterwards), read (full | incremental), fhir_requests, duration_ms, cpu_ms, error (the FHIR
    error code when the patient's data could not be read), location + location_display (where the census found
    the patient; migration 0010).

Per cycle, the deployment team's figures are one GROUP BY over risk_scores (`cycle_summaries`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.db import TS, metadata

SCREENING, CHART = "screening", "chart"
SCORED, ABSTAINED, UNAVAILABLE, FAILED = "scored", "abstained", "unavailable", "failed"

screening_cycles = sa.Table(
    "screening_cycles", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("runner", sa.String(32), nullable=False),
    sa.Column("due_at", TS, nullable=False),
    sa.Column("started_at", TS, nullable=False, index=True),
    sa.Column("census_done_at", TS),
    sa.Column("census_size", sa.Integer),
    sa.Column("census_complete", sa.Boolean),
    sa.Column("census_fhir_requests", sa.Integer, nullable=False),
    sa.Column("queued", sa.Integer, nullable=False),
    sa.Column("already_queued", sa.Integer, nullable=False),
    sa.Column("error", sa.String(64)),
    sa.Column("error_text", sa.Text),
)

risk_scores = sa.Table(
    "risk_scores", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("scope_key", sa.String(200), nullable=False, index=True),
    sa.Column("patient_id", sa.String(128), nullable=False),
    sa.Column("encounter_id", sa.String(128)),
    sa.Column("at", TS, nullable=False, index=True),
    sa.Column("recorded_at", TS, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("cycle_id", sa.Integer, sa.ForeignKey("screening_cycles.id"), index=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("level", sa.String(16)),
    sa.Column("probability", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("threshold_version", sa.Integer),
    sa.Column("model_version", sa.String(64)),
    sa.Column("alert_id", sa.Integer),
    sa.Column("read", sa.String(16)),
    sa.Column("fhir_requests", sa.Integer, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("cpu_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.String(64)),
    # Where the census found the patient (the screened Location reference and the Encounter's location display),
    # for the unit board; None for a chart open or a CDS prefetch scoring (migration 0010).
    sa.Column("location", sa.String(200), index=True),
    sa.Column("location_display", sa.String(200)),
)


def wall_now() -> datetime:
    """The wall clock (UTC), for durations and lag: the clinical clock may be a demo clock that runs fast."""
    return datetime.now(UTC)


def outcome_of(level: str) -> str:
    return {"abstain": ABSTAINED, "unavailable": UNAVAILABLE}.get(level, SCORED)


def record_score(engine_or_conn, *, iss: str, scope_key: str, patient_id: str, encounter_id: str | None,
                 at: datetime, source: str, assessed=None, cycle_id: int | None = None, read: str | None = None,
                 fhir_requests: int = 0, duration_ms: int = 0, cpu_ms: int = 0, error: str | None = None,
                 location: str | None = None, location_display: str | None = None) -> None:
    """One row of the risk history: a scoring (`assessed`, an app.assessment.Assessed) or a failure (`error`)."""
    row = dict(iss=iss, scope_key=scope_key, patient_id=patient_id, encounter_id=encounter_id, at=at,
               recorded_at=wall_now(), source=source, cycle_id=cycle_id, read=read, fhir_requests=fhir_requests,
               duration_ms=duration_ms, cpu_ms=cpu_ms, error=error, outcome=FAILED,
               location=location[:200] if location else None,
               location_display=location_display[:200] if location_display else None)
    if assessed is not None:
        verdict = assessed.verdict
        risk = verdict.risk
        row.update(outcome=outcome_of(verdict.level), level=verdict.level,
                   probability=risk.probability if risk else None, threshold=verdict.threshold,
                   threshold_version=assessed.site.version if assessed.site else None,
                   model_version=risk.model_version if risk else (verdict.abstain.model_version
                                                                  if verdict.abstain else None),
                   alert_id=assessed.alert.id if assessed.alert else None)
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.begin() as conn:
            conn.execute(risk_scores.insert().values(**row))
    else:
        engine_or_conn.execute(risk_scores.insert().values(**row))


@dataclass(frozen=True)
class Point:
    """One recorded scoring of a patient, as the trend draws it."""

    at: datetime
    source: str
    outcome: str
    probability: float | None
    threshold: float | None


def trend(engine: sa.Engine, iss: str, scope_key: str, since: datetime, limit: int = 500) -> list[Point]:
    """The scope's recorded scorings since `since`, oldest first (the newest `limit` of them)."""
    t = risk_scores
    query = (sa.select(t.c.at, t.c.source, t.c.outcome, t.c.probability, t.c.threshold)
             .where(t.c.iss == iss, t.c.scope_key == scope_key, t.c.at >= since, t.c.outcome != FAILED)
             .order_by(t.c.at.desc(), t.c.id.desc()).limit(limit))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [Point(*row) for row in reversed(rows)]


def open_cycle(engine: sa.Engine, *, iss: str, runner: str, due_at: datetime) -> int:
    with engine.begin() as conn:
        return conn.execute(screening_cycles.insert().values(
            iss=iss, runner=runner, due_at=due_at, started_at=wall_now(), census_fhir_requests=0, queued=0,
            already_queued=0)).inserted_primary_key[0]


def census_read(engine: sa.Engine, cycle_id: int, *, size: int | None, complete: bool | None, fhir_requests: int,
                queued: int = 0, already_queued: int = 0, error: str | None = None,
                error_text: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(screening_cycles.update().where(screening_cycles.c.id == cycle_id).values(
            census_done_at=wall_now(), census_size=size, census_complete=complete,
            census_fhir_requests=fhir_requests, queued=queued, already_queued=already_queued, error=error,
            error_text=error_text))


@dataclass(frozen=True)
class CycleSummary:
    """One cycle as the deployment team sees it."""

    id: int
    iss: str
    runner: str
    due_at: datetime
    started_at: datetime
    census_size: int | None
    census_complete: bool | None
    queued: int
    already_queued: int
    error: str | None
    error_text: str | None
    screened: int
    scored: int
    abstained: int
    unavailable: int
    failed: int
    fhir_requests: int
    cpu_ms: int
    last_done_at: datetime | None

    @property
    def pending(self) -> int:
        return max(0, self.queued - self.screened)

    @property
    def duration(self) -> timedelta | None:
        """From the cycle's start to its last patient screened (None before the first)."""
        return self.last_done_at - self.started_at if self.last_done_at else None

    @property
    def lag(self) -> timedelta | None:
        """From when the cycle was due to its last patient screened: how stale the screening is at worst."""
        return self.last_done_at - self.due_at if self.last_done_at else None

    @property
    def requests_per_patient(self) -> float | None:
        return self.fhir_requests / self.screened if self.screened else None


def cycle_summaries(engine: sa.Engine, limit: int = 50) -> list[CycleSummary]:
    """The newest cycles with their per-patient outcomes counted (one query)."""
    c, r = screening_cycles, risk_scores

    def count(outcome: str):
        return sa.func.coalesce(sa.func.sum(sa.case((r.c.outcome == outcome, 1), else_=0)), 0)

    per_cycle = (sa.select(r.c.cycle_id, sa.func.count().label("screened"), count(SCORED).label("scored"),
                           count(ABSTAINED).label("abstained"), count(UNAVAILABLE).label("unavailable"),
                           count(FAILED).label("failed"),
                           sa.func.coalesce(sa.func.sum(r.c.fhir_requests), 0).label("fhir_requests"),
                           sa.func.coalesce(sa.func.sum(r.c.cpu_ms), 0).label("cpu_ms"),
                           sa.func.max(r.c.recorded_at).label("last_done_at"))
                 .where(r.c.cycle_id.is_not(None)).group_by(r.c.cycle_id).subquery())
    query = (sa.select(c, per_cycle).select_from(c.outerjoin(per_cycle, per_cycle.c.cycle_id == c.c.id))
             .order_by(c.c.id.desc()).limit(limit))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    out = []
    for row in rows:
        last = row["last_done_at"]
        if last is not None and not isinstance(last, datetime):  # SQLite returns max() of a TS column as text
            last = datetime.fromisoformat(str(last))
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        out.append(CycleSummary(
            id=row["id"], iss=row["iss"], runner=row["runner"], due_at=row["due_at"], started_at=row["started_at"],
            census_size=row["census_size"], census_complete=row["census_complete"], queued=row["queued"],
            already_queued=row["already_queued"], error=row["error"], error_text=row["error_text"],
            screened=row["screened"] or 0, scored=row["scored"] or 0, abstained=row["abstained"] or 0,
            unavailable=row["unavailable"] or 0, failed=row["failed"] or 0,
            fhir_requests=(row["fhir_requests"] or 0) + row["census_fhir_requests"], cpu_ms=row["cpu_ms"] or 0,
            last_done_at=last))
    return out
