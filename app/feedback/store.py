"""Feedback and the deployment team's replies: the tables, and every change to them in one audited transaction.

A submission is committed (with its audit row) before the caller may say "sent". Context is ids only: the page
path, the patient id, the alert id and the model version. The free text is the user's own words; the form asks
them not to type patient details into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.audit import record
from app.db import TS, metadata

KINDS = ("question", "problem", "suggestion")
STATUSES = ("new", "answered", "closed")
# Delivery of the e-mail to the deployment team: "off" when no SMTP host or address is configured.
MAIL_STATUSES = ("pending", "sent", "failed", "off")
MAX_TEXT = 4000
MAX_REF = 128

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("user_ref", sa.Text, nullable=False),
    sa.Column("user_name", sa.Text),  # resolved once at launch (fhirUser's Practitioner), shown instead of the id
    # The FHIR server the user (and patient) ids belong to: Practitioner/7 on one EHR is not Practitioner/7 on
    # another, so ownership is (iss, user_ref). Migration 0007.
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("page", sa.Text),  # the path the user was on, without its query string
    sa.Column("patient_id", sa.String(128)),
    sa.Column("alert_id", sa.String(128)),
    sa.Column("model_version", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("status_at", TS, nullable=False),
    sa.Column("mail_status", sa.String(16), nullable=False),
    sa.Column("mail_attempts", sa.Integer, nullable=False),
    sa.Column("mail_at", TS),
    sa.Column("mail_error", sa.Text),
    sa.Column("submission_id", sa.String(64), unique=True),  # the form's one-time id (NULL: sent without one)
    sa.Index("ix_feedback_iss_user_ref", "iss", "user_ref"),
)

feedback_replies = sa.Table(
    "feedback_replies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("feedback_id", sa.Integer, sa.ForeignKey("feedback.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("by_user_ref", sa.Text, nullable=False),
    sa.Column("by_user_name", sa.Text),
    sa.Column("by_role", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("read_at", TS),  # when the asker dismissed it; None = shown at their next page
)


class FeedbackError(Exception):
    """Base of the feedback package's errors."""


class Invalid(FeedbackError):
    """The submission or reply cannot be accepted; `errors` maps each field to a message for the form."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SaveFailed(FeedbackError):
    """The database did not take the write. Nothing was saved; the caller keeps the user's text and says so."""


class NotFound(FeedbackError):
    pass


@dataclass(frozen=True)
class Context:
    """Captured by the app, not typed by the user: where they were when they pressed the button."""

    page: str | None = None
    patient_id: str | None = None
    alert_id: str | None = None
    model_version: str | None = None


@dataclass(frozen=True)
class Reply:
    id: int
    feedback_id: int
    at: datetime
    by_user_ref: str
    by_role: str
    text: str
    read_at: datetime | None
    by_user_name: str | None = None  # resolved once at launch; shown instead of the id


@dataclass(frozen=True)
class Item:
    id: int
    created_at: datetime
    kind: str
    text: str
    user_ref: str
    iss: str
    role: str
    context: Context
    status: str
    status_at: datetime
    mail_status: str
    mail_attempts: int
    mail_error: str | None
    reply_count: int = 0
    replies: tuple[Reply, ...] = ()  # filled by `get`; the listing carries only `reply_count`
    user_name: str | None = None  # resolved once at launch; shown instead of the id


@dataclass(frozen=True)
class Answer:
    """A reply the asker has not dismissed yet, with enough of their question to recognise it."""

    reply: Reply
    kind: str
    asked_at: datetime
    question: str


def _clip(value: str | None, n: int = MAX_REF) -> str | None:
    value = (value or "").strip()
    return value[:n] or None


def check(kind: str | None, text: str | None) -> tuple[str, str]:
    """The cleaned (kind, text), or Invalid with one message per field."""
    errors = {}
    kind = (kind or "").strip()
    text = (text or "").strip()
    if kind not in KINDS:
        errors["kind"] = "Choose question, problem or suggestion."
    if not text:
        errors["text"] = "Please write your question, problem or suggestion."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"Please keep it under {MAX_TEXT} characters (this has {len(text)})."
    if errors:
        raise Invalid(errors)
    return kind, text


def submit(engine: sa.Engine, *, kind: str | None, text: str | None, user_ref: str, iss: str, role: str,
           context: Context, now: datetime, mail_enabled: bool, submission_id: str | None = None,
           user_name: str | None = None) -> int:
    """Store one piece of feedback and its audit row in one transaction; returns its id.

    A form sent again with the same `submission_id` (its first answer was lost) returns the stored one's id.
    Raises Invalid (nothing stored) or SaveFailed (the database refused; nothing stored)."""
    kind, text = check(kind, text)
    values = dict(created_at=now, kind=kind, text=text, user_ref=user_ref, user_name=_clip(user_name, 200), iss=iss,
                  role=role, page=_clip(context.page, 512), patient_id=_clip(context.patient_id),
                  alert_id=_clip(context.alert_id),
                  model_version=_clip(context.model_version, 64), status="new", status_at=now,
                  mail_status="pending" if mail_enabled else "off", mail_attempts=0, submission_id=submission_id)
    try:
        with engine.begin() as conn:
            new_id = conn.execute(feedback.insert().values(**values)).inserted_primary_key[0]
            record(conn, at=now, iss=iss, user_ref=user_ref, role=role, patient_id=values["patient_id"],
                   action="feedback_submit", target=f"feedback/{new_id}", detail={"kind": kind})
    except sa.exc.IntegrityError as exc:
        stored = _already_sent(engine, submission_id, user_ref, iss)
        if stored is None:
            raise SaveFailed(type(exc).__name__) from exc
        return stored
    except sa.exc.SQLAlchemyError as exc:
        raise SaveFailed(type(exc).__name__) from exc
    return int(new_id)


def _already_sent(engine: sa.Engine, submission_id: str | None, user_ref: str, iss: str) -> int | None:
    """The id of this user's feedback sent with this submission id, if there is one."""
    if submission_id is None:
        return None
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(feedback.c.id).where(feedback.c.submission_id == submission_id,
                                                               feedback.c.user_ref == user_ref,
                                                               feedback.c.iss == iss)).scalar()
    except sa.exc.SQLAlchemyError:
        return None


def _reply(row) -> Reply:
    return Reply(id=row["id"], feedback_id=row["feedback_id"], at=row["at"], by_user_ref=row["by_user_ref"],
                 by_role=row["by_role"], text=row["text"], read_at=row["read_at"], by_user_name=row["by_user_name"])


def _item(row, replies: tuple[Reply, ...] = (), reply_count: int | None = None) -> Item:
    return Item(id=row["id"], created_at=row["created_at"], kind=row["kind"], text=row["text"],
                user_ref=row["user_ref"], user_name=row["user_name"], iss=row["iss"], role=row["role"],
                context=Context(page=row["page"], patient_id=row["patient_id"], alert_id=row["alert_id"],
                                model_version=row["model_version"]),
                status=row["status"], status_at=row["status_at"], mail_status=row["mail_status"],
                mail_attempts=row["mail_attempts"], mail_error=row["mail_error"],
                reply_count=len(replies) if reply_count is None else reply_count, replies=replies)


def get(engine: sa.Engine, feedback_id: int) -> Item:
    """One item with its replies, oldest first; NotFound if there is none."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(feedback).where(feedback.c.id == feedback_id)).mappings().first()
        if row is None:
            raise NotFound(f"feedback/{feedback_id}")
        replies = conn.execute(sa.select(feedback_replies).where(feedback_replies.c.feedback_id == feedback_id)
                               .order_by(feedback_replies.c.id)).mappings().all()
    return _item(row, tuple(_reply(r) for r in replies))


def listing(engine: sa.Engine, *, status: str | None = None, kind: str | None = None, role: str | None = None,
            limit: int = 500) -> list[Item]:
    """The inbox, newest first, filtered by status, kind and the asker's role (unknown filter values: ignored)."""
    query = sa.select(feedback).order_by(feedback.c.id.desc()).limit(limit)
    if status in STATUSES:
        query = query.where(feedback.c.status == status)
    if kind in KINDS:
        query = query.where(feedback.c.kind == kind)
    if role:
        query = query.where(feedback.c.role == role)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        counts = dict(conn.execute(
            sa.select(feedback_replies.c.feedback_id, sa.func.count())
            .where(feedback_replies.c.feedback_id.in_([r["id"] for r in rows]))
            .group_by(feedback_replies.c.feedback_id)).all()) if rows else {}
    return [_item(r, reply_count=counts.get(r["id"], 0)) for r in rows]


def created_times(engine: sa.Engine, since: datetime | None = None) -> list[datetime]:
    """When each item was sent (since `since`): for counts per week in one query."""
    query = sa.select(feedback.c.created_at)
    if since is not None:
        query = query.where(feedback.c.created_at >= since)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def counts(engine: sa.Engine, since: datetime | None = None, until: datetime | None = None) -> dict[str, dict]:
    """How many items by status and by kind (created in [since, until) when given)."""
    query = sa.select(feedback.c.status, feedback.c.kind, sa.func.count()).group_by(feedback.c.status,
                                                                                   feedback.c.kind)
    if since is not None:
        query = query.where(feedback.c.created_at >= since)
    if until is not None:
        query = query.where(feedback.c.created_at < until)
    by_status = dict.fromkeys(STATUSES, 0)
    by_kind = dict.fromkeys(KINDS, 0)
    with engine.connect() as conn:
        for status, kind, n in conn.execute(query):
            by_status[status] = by_status.get(status, 0) + n
            by_kind[kind] = by_kind.get(kind, 0) + n
    return {"total": sum(by_status.values()), "status": by_status, "kind": by_kind}


def reply(engine: sa.Engine, feedback_id: int, *, text: str | None, user_ref: str, role: str, now: datetime,
          user_name: str | None = None) -> Reply:
    """Add a reply (the asker sees it on their next page) and mark the item answered, audited, in one transaction."""
    text = (text or "").strip()
    if not text:
        raise Invalid({"reply": "Write a reply first."})
    if len(text) > MAX_TEXT:
        raise Invalid({"reply": f"Please keep the reply under {MAX_TEXT} characters (this has {len(text)})."})
    try:
        with engine.begin() as conn:
            row = conn.execute(sa.select(feedback.c.id, feedback.c.patient_id, feedback.c.iss)
                               .where(feedback.c.id == feedback_id)
                               .with_for_update()).first()
            if row is None:
                raise NotFound(f"feedback/{feedback_id}")
            new_id = conn.execute(feedback_replies.insert().values(
                feedback_id=feedback_id, at=now, by_user_ref=user_ref, by_user_name=_clip(user_name, 200), by_role=role,
                text=text)).inserted_primary_key[0]
            conn.execute(feedback.update().where(feedback.c.id == feedback_id).values(status="answered",
                                                                                      status_at=now))
            record(conn, at=now, iss=row.iss, user_ref=user_ref, role=role, patient_id=row.patient_id,
                   action="feedback_reply",
                   target=f"feedback/{feedback_id}", detail={"reply": new_id})
    except sa.exc.SQLAlchemyError as exc:
        raise SaveFailed(type(exc).__name__) from exc
    return Reply(id=int(new_id), feedback_id=feedback_id, at=now, by_user_ref=user_ref, by_user_name=user_name,
                 by_role=role, text=text,
                 read_at=None)


def set_status(engine: sa.Engine, feedback_id: int, status: str, *, user_ref: str, role: str, now: datetime) -> str:
    """Move an item to new, answered or closed (audited with old -> new); returns the previous status."""
    if status not in STATUSES:
        raise Invalid({"status": "Choose new, answered or closed."})
    try:
        with engine.begin() as conn:
            row = conn.execute(sa.select(feedback.c.status, feedback.c.patient_id, feedback.c.iss)
                               .where(feedback.c.id == feedback_id).with_for_update()).first()
            if row is None:
                raise NotFound(f"feedback/{feedback_id}")
            conn.execute(feedback.update().where(feedback.c.id == feedback_id).values(status=status, status_at=now))
            record(conn, at=now, iss=row.iss, user_ref=user_ref, role=role, patient_id=row.patient_id,
                   action="feedback_status",
                   target=f"feedback/{feedback_id}", detail={"old": row.status, "new": status})
    except sa.exc.SQLAlchemyError as exc:
        raise SaveFailed(type(exc).__name__) from exc
    return row.status


def unread_answers(engine: sa.Engine, user_ref: str, iss: str) -> list[Answer]:
    """Replies to this user's feedback (the user on this FHIR server) that they have not dismissed, oldest first."""
    f, r = feedback, feedback_replies
    query = (sa.select(r, f.c.kind, f.c.created_at.label("asked_at"), f.c.text.label("question"))
             .join(f, f.c.id == r.c.feedback_id)
             .where(f.c.user_ref == user_ref, f.c.iss == iss, r.c.read_at.is_(None)).order_by(r.c.id))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [Answer(reply=_reply(row), kind=row["kind"], asked_at=row["asked_at"], question=row["question"])
            for row in rows]


def mark_read(engine: sa.Engine, reply_id: int, *, user_ref: str, iss: str, role: str, now: datetime) -> bool:
    """The asker dismisses a reply. Only the asker's own replies; False if not theirs or already read."""
    f, r = feedback, feedback_replies
    owned = sa.select(f.c.id).where(f.c.id == r.c.feedback_id, f.c.user_ref == user_ref, f.c.iss == iss).exists()
    try:
        with engine.begin() as conn:
            done = conn.execute(r.update().where(r.c.id == reply_id, r.c.read_at.is_(None), owned)
                                .values(read_at=now)).rowcount
            if done:
                record(conn, at=now, iss=iss, user_ref=user_ref, role=role, patient_id=None,
                       action="feedback_reply_read",
                       target=f"feedback_reply/{reply_id}")
    except sa.exc.SQLAlchemyError as exc:
        raise SaveFailed(type(exc).__name__) from exc
    return bool(done)


def export(engine: sa.Engine, status: str | None = None) -> list[dict]:
    """Every item (oldest first) as plain values, with its replies, for `sentinel feedback export`."""
    query = sa.select(feedback).order_by(feedback.c.id)
    if status is not None:
        query = query.where(feedback.c.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        replies = conn.execute(sa.select(feedback_replies).order_by(feedback_replies.c.id)).mappings().all()
    by_item: dict[int, list[dict]] = {}
    for r in replies:
        by_item.setdefault(r["feedback_id"], []).append(
            {"id": r["id"], "at": r["at"].isoformat(), "by": r["by_user_ref"], "by_name": r["by_user_name"], "role": r["by_role"],
             "text": r["text"],
             "read_at": r["read_at"].isoformat() if r["read_at"] else None})
    out = []
    for row in rows:
        item = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        item["replies"] = by_item.get(row["id"], [])
        out.append(item)
    return out
