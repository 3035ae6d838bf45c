"""Fixtures shared across test folders, registered as a plugin in tests/conftest.py."""

from __future__ import annotations

import pytest

from sandbox.stack import Postgres, free_port, postgres_available
from tests.support.smtp import running_smtp_server


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL of the tests' own (not the suite's TEST_DATABASE_URL server): the tests that use it
    stop and restart it, and make their databases on it."""
    why_not = postgres_available()
    if why_not:
        pytest.skip(why_not)
    server = Postgres()
    yield server
    server.close()


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free loopback port (aiosmtpd), its inbox to read."""
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening: connections are refused at once."""
    return free_port()
