"""What the CDS Hooks service keeps: the JWT ids it has seen, the cards it returned, and the EHR's feedback on them.

Tables (declared here on `app.db.metadata`; migration 0010):

`cds_jtis`: one row per accepted hook JWT. client (the JWT's iss), jti, expires_at. UNIQUE(client, jti) makes a
    replayed token fail in every worker process at once (the database is the one shared place); rows are deleted
    once their token has expired, since an expired token is refused anyway.

`cds_cards`: one row per card returned. uuid (the card's, which the EHR quotes in its feedback), client, hook_instance,
    alert_id (None for an information card), patient_id, kind (alert | chart), indicator, issued_at.

`cds_feedback`: one row per feedback item. card_uuid, client, outcome (accepted | overridden), reason_code,
    reason_display, user_comment, outcome_at (the EHR's outcomeTimestamp), received_at. UNIQUE(card_uuid, outcome,
    outcome_at): the EHR resending the same feedback is recorded once. An override is what the EHR's user did with
    a card; it never changes the alert (only a provider's decision in the app does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.db import TS, metadata

ACCEPTED, OVERRIDDEN = "accepted", "overridden"

cds_jtis = sa.Table(
    "cds_jtis", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client", sa.Text, nullable=False),
    sa.Column("jti", sa.String(200), nullable=False),
    sa.Column("expires_at", TS, nullable=False, index=True),
    sa.UniqueConstraint("client", "jti", name="uq_cds_jtis_client"),
)

cds_cards = sa.Table(
    "cds_cards", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("client", sa.Text, nullable=False),
    sa.Column("hook_instance", sa.String(100), nullable=False),
    sa.Column("alert_id", sa.Integer, index=True),
    sa.Column("patient_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("indicator", sa.String(16), nullable=False),
    sa.Column("issued_at", TS, nullable=False, index=True),
)

cds_feedback = sa.Table(
    "cds_feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("card_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("client", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason_code", sa.String(64)),
    sa.Column("reason_display", sa.String(200)),
    sa.Column("user_comment", sa.Text),
    sa.Column("outcome_at", TS, nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.UniqueConstraint("card_uuid", "outcome", "outcome_at", name="uq_cds_feedback_card_uuid"),
)


def claim_jti(engine: sa.Engine, client: str, jti: str, expires_at: datetime, now: datetime) -> bool:
    """Record a token id; False when this client already used it (a replay). Expired ids are dropped first."""
    try:
        with engine.begin() as conn:
            conn.execute(cds_jtis.delete().where(cds_jtis.c.expires_at < now))
            conn.execute(cds_jtis.insert().values(client=client, jti=jti, expires_at=expires_at))
    except sa.exc.IntegrityError:
        return False
    return True


def record_cards(engine: sa.Engine, rows: list[dict]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(cds_cards.insert(), rows)


def issued_to(engine: sa.Engine, card_uuid: str, client: str) -> dict | None:
    """The card as it was issued to this client, or None (a card of another client is not theirs to rate)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(cds_cards).where(cds_cards.c.uuid == card_uuid,
                                                      cds_cards.c.client == client)).mappings().first()
    return dict(row) if row else None


def record_feedback(engine: sa.Engine, row: dict) -> bool:
    """One feedback item; False when the same item had already been recorded."""
    try:
        with engine.begin() as conn:
            conn.execute(cds_feedback.insert().values(**row))
    except sa.exc.IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class CardCounts:
    """What the EHR did with the cards, for the adoption page."""

    shown: int
    accepted: int
    overridden: int
    reasons: dict[str, int]


def card_counts(engine: sa.Engine, since: datetime | None = None) -> CardCounts:
    c, f = cds_cards, cds_feedback
    with engine.connect() as conn:
        shown = conn.execute(sa.select(sa.func.count()).select_from(c).where(
            c.c.issued_at >= since if since else sa.true())).scalar_one()
        by_outcome = dict(conn.execute(sa.select(f.c.outcome, sa.func.count()).where(
            f.c.received_at >= since if since else sa.true()).group_by(f.c.outcome)).all())
        rows = conn.execute(sa.select(f.c.reason_display, f.c.reason_code, sa.func.count()).where(
            f.c.outcome == OVERRIDDEN, f.c.received_at >= since if since else sa.true()).group_by(
            f.c.reason_display, f.c.reason_code)).all()
    reasons: dict[str, int] = {}
    for display, code, count in rows:
        reasons[display or code or "no reason given"] = reasons.get(display or code or "no reason given", 0) + count
    return CardCounts(shown, by_outcome.get(ACCEPTED, 0), by_outcome.get(OVERRIDDEN, 0), reasons)
