"""Empty databases for tests: PostgreSQL's public schema dropped and made again."""

from __future__ import annotations

import sqlalchemy as sa


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
