"""Who this request acts for: the launched user and patient as the bedside use cases take them, and the audit rows
written in their name (ids, counts and codes only)."""

from __future__ import annotations

from flask import g, request

from app.audit import record
from app.bedside import PageContext

from .guards import services


def context() -> PageContext:
    return PageContext.of(g.session)


def audit(action: str, *, outcome: str = "ok", target: str | None = None, detail: dict | None = None) -> None:
    """One audit row for the current user and patient: ids, counts and codes only."""
    svc, s = services(), g.session
    record(svc.engine, at=svc.clock(), iss=s.iss, user_ref=s.user_ref, role=s.role, patient_id=s.patient_id, action=action,
           outcome=outcome, target=target, detail=detail)


def audit_refusal(action: str, outcome: str, *, role: str | None = None, target: str | None = None) -> None:
    """The audit row of a refused request: the session may be missing (the refusal can come before it is found);
    `role` defaults to the session's."""
    svc, session = services(), g.get("session")
    record(svc.engine, at=svc.clock(), iss=session.iss if session else None,
           user_ref=session.user_ref if session else None,
           role=role if role is not None else session.role if session else None,
           patient_id=session.patient_id if session else None, action=action, outcome=outcome, target=target)


def alert_target() -> str | None:
    """The alert the URL names, as an audit target (`alert/<id>`), or None."""
    return f"alert/{request.view_args['alert_id']}" if "alert_id" in (request.view_args or {}) else None
