"""Fixtures for the feedback tests: an SMTP server on loopback, a port nobody listens on."""

import pytest

from tests.support.smtp import free_port, running_smtp_server


@pytest.fixture
def smtp_server():
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening: connections are refused at once."""
    return free_port()
