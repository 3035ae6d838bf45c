"""Fixtures for every test: databases (SQLite and PostgreSQL), Debian's Chromium for Playwright, and the shared
fixtures plugin (tests/support/fixtures.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from app import db
from tests.support.databases import reset_postgres

pytest_plugins = ["tests.support.fixtures"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A fresh, empty database of each kind. PostgreSQL comes from TEST_DATABASE_URL (scripts/test.sh sets it)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sentinel.db'}"
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL not set (scripts/test.sh starts a PostgreSQL and sets it)")
    reset_postgres(url)
    return url


@pytest.fixture
def engine(database_url):
    engine = db.make_engine(database_url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
