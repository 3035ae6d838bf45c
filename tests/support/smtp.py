"""A real SMTP server on a free loopback port (aiosmtpd) for the feedback notices, and a way to make the database
refuse writes (the feedback and web tests)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.feedback.mail import MailSettings
from sandbox.stack import free_port


@dataclass
class Inbox:
    """What the SMTP server received: (envelope sender, recipients, message text)."""

    messages: list[tuple[str, list[str], str]] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refuse:
            return "451 Requested action aborted: local error in processing"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    def settings(self, **changes) -> MailSettings:
        base = dict(host=self.host, port=self.port, user="", password="", starttls=False,
                    sender="sentinel@hospital.test", to="deploy-team@hospital.test", timeout=5.0)
        return MailSettings(**{**base, **changes})


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd's threaded Controller. It checks readiness by connecting to its port, so it needs a real one."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(controller.hostname, controller.port, inbox)
    finally:
        controller.stop()


def refuse_writes_to(engine: sa.Engine, table: str):
    """Make the database fail any INSERT or UPDATE on `table`, as a full disk or a lost connection would."""
    pattern = re.compile(rf'^\s*(INSERT INTO|UPDATE) "?{table}\b', re.IGNORECASE)

    def before(conn, cursor, statement, parameters, context, executemany):
        if pattern.match(statement):
            raise sa.exc.OperationalError(statement, parameters, RuntimeError("disk I/O error"))

    sa.event.listen(engine, "before_cursor_execute", before)
    return lambda: sa.event.remove(engine, "before_cursor_execute", before)
