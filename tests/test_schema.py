"""The migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import app
from app.db import metadata


def _import_all_modules():
    # Tables live beside the code that queries them; importing every module registers them all.
    for info in pkgutil.walk_packages(app.__path__, "app."):
        if not info.name.startswith(("app.migrations", "app.wsgi")):
            importlib.import_module(info.name)


def test_migrations_match_declared_tables(engine):
    _import_all_modules()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"schema drift between migrations and tables: {diff}"
