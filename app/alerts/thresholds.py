"""The site's alert threshold: versioned, audited, and applied only to alerts raised after a change.

Until the deployment team sets one, the model card's threshold (chosen on held-out data) applies as version 0.
Each FHIR server (`iss`) has its own: a test EHR's tuning never moves the production EHR's alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.audit import record
from app.db import TS, metadata

site_thresholds = sa.Table(
    "site_thresholds", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # the version
    sa.Column("iss", sa.Text, nullable=False),  # the FHIR server whose alerts it applies to (migration 0007)
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("previous_value", sa.Float, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("set_by", sa.Text, nullable=False),
    sa.Column("set_by_name", sa.Text),  # resolved once at launch, shown in the history instead of the id
    sa.Column("set_role", sa.String(32), nullable=False),
    sa.Column("set_at", TS, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    # The version this one replaced (0: the card's default). UNIQUE per server: two changes from one version
    # cannot both land.
    sa.Column("based_on", sa.Integer, nullable=False),
    sa.UniqueConstraint("iss", "based_on", name="uq_site_thresholds_iss"),
)


class ThresholdError(ValueError):
    """The requested threshold cannot be used; the message says why, `field` what: value, reason or conflict."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SiteThreshold:
    value: float
    version: int  # 0 = the model card's default
    set_by: str | None
    set_at: datetime | None
    reason: str | None
    set_by_name: str | None = None


def current(engine: sa.Engine, default: float, *, iss: str) -> SiteThreshold:
    """The threshold in force for alerts of this FHIR server."""
    t = site_thresholds
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.iss == iss).order_by(t.c.id.desc()).limit(1)).mappings().first()
    if row is None:
        return SiteThreshold(value=default, version=0, set_by=None, set_at=None, reason=None)
    return SiteThreshold(value=row["value"], version=row["id"], set_by=row["set_by"], set_at=row["set_at"],
                         reason=row["reason"], set_by_name=row["set_by_name"])


def history(engine: sa.Engine, *, iss: str) -> list[dict]:
    t = site_thresholds
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).where(t.c.iss == iss).order_by(t.c.id.desc())).mappings()]


def set_threshold(engine: sa.Engine, *, iss: str, value: float, default: float, expected_version: int,
                  model_version: str, user_ref: str, role: str, reason: str, now: datetime,
                  user_name: str | None = None) -> SiteThreshold:
    """Record a new threshold version and its audit row in one transaction.

    `expected_version` is the version the user was looking at: if someone changed it meanwhile, ThresholdError
    (the caller shows the newer value) rather than silently overwriting their decision.
    """
    if not (0.0 < value < 1.0):
        raise ThresholdError("The threshold must be a probability between 0 and 1.", "value")
    reason = (reason or "").strip()
    if not reason:
        raise ThresholdError("Please give a reason for the change; it is kept in the audit log.", "reason")
    t = site_thresholds
    changed_meanwhile = ThresholdError("The threshold was changed by someone else meanwhile; review the new value "
                                       "first.", "conflict")
    try:
        with engine.begin() as conn:
            latest = conn.execute(sa.select(t).where(t.c.iss == iss).order_by(t.c.id.desc()).limit(1)
                                  ).mappings().first()
            version = latest["id"] if latest else 0
            if version != expected_version:
                raise changed_meanwhile
            previous = latest["value"] if latest else default
            new_id = conn.execute(t.insert().values(
                iss=iss, value=value, previous_value=previous, model_version=model_version, set_by=user_ref,
                set_by_name=user_name[:200] if user_name else None, set_role=role, set_at=now, reason=reason[:2000],
                based_on=version)).inserted_primary_key[0]
            record(conn, at=now, iss=iss, user_ref=user_ref, role=role, patient_id=None, action="set_threshold",
                   target=f"site_threshold/{new_id}", detail={"old": previous, "new": value})
    except sa.exc.IntegrityError:  # another change from the same version landed between our read and our write
        raise changed_meanwhile from None
    return SiteThreshold(value=value, version=new_id, set_by=user_ref, set_at=now, reason=reason, set_by_name=user_name)
