"""Fixtures shared across test folders, registered as a plugin in tests/conftest.py."""

from __future__ import annotations

import pytest

from sandbox.stack import Postgres, postgres_available


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
