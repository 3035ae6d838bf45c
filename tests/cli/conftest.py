"""Fixtures for the command tests: the feedback command mails through the feedback tests' SMTP server."""

from tests.feedback.conftest import closed_port, smtp_server

__all__ = ["closed_port", "smtp_server"]
