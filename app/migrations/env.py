"""Alembic environment: runs migrations on the engine the app hands over (no alembic.ini, no second URL)."""

from alembic import context

from app.db import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
