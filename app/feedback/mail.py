"""The e-mail that tells the deployment team new feedback arrived: type, number and a link, never patient data.

Delivery is attempted after the feedback is committed, so a mail server that is down, slow or refusing can
delay the notice but never lose the feedback: each item records its delivery status, attempts and last error,
and undelivered items are sent again after the next successful delivery or by `sentinel feedback resend`.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import sqlalchemy as sa

from app.audit import record

from .store import feedback

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # after this many failures an item waits for `sentinel feedback resend --all`


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    user: str
    password: str
    starttls: bool
    sender: str
    to: str
    timeout: float

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.to)

    @classmethod
    def from_settings(cls, s) -> MailSettings:
        return cls(host=s.smtp_host, port=s.smtp_port, user=s.smtp_user, password=s.smtp_password,
                   starttls=s.smtp_starttls, sender=s.mail_from, to=s.deployment_team_email, timeout=s.smtp_timeout)


def message(settings: MailSettings, feedback_id: int, kind: str, link: str) -> EmailMessage:
    """The notification. Deliberately no text, page, patient or alert id: those stay in the app."""
    msg = EmailMessage()
    msg["Subject"] = f"Sepsis Sentinel feedback #{feedback_id}: {kind}"
    msg["From"] = settings.sender
    msg["To"] = settings.to
    msg.set_content(
        f"A {kind} (#{feedback_id}) was sent with Sepsis Sentinel's feedback button.\n\n"
        f"Read and answer it in the feedback inbox (deployment team role):\n{link}\n\n"
        "This e-mail carries no patient information on purpose; the text and its context are in the app.\n"
    )
    return msg


def send(settings: MailSettings, msg: EmailMessage) -> None:
    """One SMTP session (STARTTLS and login when configured). Raises smtplib.SMTPException or OSError."""
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password)
        smtp.send_message(msg)


def deliver(engine: sa.Engine, settings: MailSettings, feedback_id: int, link: str, now: datetime) -> str:
    """Try to send one item's notification once and record the outcome ("sent" or "failed"); never raises
    for mail or database trouble, because the feedback itself is already safe."""
    try:
        with engine.connect() as conn:
            kind = conn.execute(sa.select(feedback.c.kind).where(feedback.c.id == feedback_id)).scalar_one()
    except sa.exc.SQLAlchemyError:
        log.exception("feedback mail: cannot read feedback/%s", feedback_id)
        return "pending"
    error = None
    try:
        send(settings, message(settings, feedback_id, kind, link))
    except (smtplib.SMTPException, OSError) as exc:
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        log.warning("feedback mail failed: feedback=%s error=%s", feedback_id, type(exc).__name__)
    status = "failed" if error else "sent"
    try:
        with engine.begin() as conn:
            conn.execute(feedback.update().where(feedback.c.id == feedback_id).values(
                mail_status=status, mail_attempts=feedback.c.mail_attempts + 1, mail_at=now, mail_error=error))
            record(conn, at=now, user_ref=None, role=None, patient_id=None, action="feedback_mail",
                   outcome=status, target=f"feedback/{feedback_id}")
    except sa.exc.SQLAlchemyError:
        log.exception("feedback mail: outcome of feedback/%s not recorded (%s)", feedback_id, status)
    return status


def undelivered(engine: sa.Engine, *, max_attempts: int | None = MAX_ATTEMPTS) -> list[int]:
    """Ids of items whose notification is pending or failed (and has not used up its attempts), oldest first."""
    query = sa.select(feedback.c.id).where(feedback.c.mail_status.in_(("pending", "failed"))).order_by(feedback.c.id)
    if max_attempts is not None:
        query = query.where(feedback.c.mail_attempts < max_attempts)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def deliver_backlog(engine: sa.Engine, settings: MailSettings, link_for: Callable[[int], str], now: datetime, *,
                    limit: int = 20, max_attempts: int | None = MAX_ATTEMPTS,
                    skip: tuple[int, ...] = ()) -> dict[str, int]:
    """Send undelivered notifications, stopping at the first failure (the server is still unwell)."""
    outcome = {"sent": 0, "failed": 0}
    for feedback_id in [i for i in undelivered(engine, max_attempts=max_attempts) if i not in skip][:limit]:
        status = deliver(engine, settings, feedback_id, link_for(feedback_id), now)
        if status in outcome:
            outcome[status] += 1
        if status != "sent":
            break
    return outcome
