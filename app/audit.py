"""The audit trail: who (user reference, role) did what to which patient, when, with what outcome. Ids only.
`iss` says which EHR the user and patient ids belong to (two EHRs may both have Patient/p1)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.db import audit_log


def record(conn_or_engine, *, at: datetime, user_ref: str | None, role: str | None, patient_id: str | None,
           action: str, outcome: str = "ok", target: str | None = None, detail: dict | None = None,
           iss: str | None = None) -> None:
    """Write one audit row. Pass a connection to make it part of the caller's transaction."""
    row = dict(at=at, iss=iss, user_ref=user_ref, role=role, patient_id=patient_id, action=action, outcome=outcome,
               target=target, detail=detail)
    if isinstance(conn_or_engine, sa.Engine):
        with conn_or_engine.begin() as conn:
            conn.execute(audit_log.insert().values(**row))
    else:
        conn_or_engine.execute(audit_log.insert().values(**row))


def entries(engine: sa.Engine, *, patient_id: str | None = None, action: str | None = None,
            limit: int = 200) -> list[dict]:
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if patient_id is not None:
        query = query.where(audit_log.c.patient_id == patient_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
