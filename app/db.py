"""The database: one SQLAlchemy Core engine from DATABASE_URL (SQLite default, PostgreSQL by URL), the tables, and
Alembic migrations. Every table is declared here so the schema reads in one place; packages own the queries."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)



class UtcDateTime(sa.TypeDecorator):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UtcDateTime()

# A launch between /launch and /callback. Keyed by a hash of `state`; bound to the browser by a hash of a
# cookie value; consumed once (used_at). Secrets (code_verifier) are encrypted at rest.
pending_launches = sa.Table(
    "pending_launches", metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
    sa.Column("browser_hash", sa.String(64), nullable=False),
    # A hash of the client address that began it, to bound pending launches per address (migration 0007).
    sa.Column("client_hash", sa.String(64), index=True),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("launch", sa.Text),
    sa.Column("code_verifier_enc", sa.Text, nullable=False),
    sa.Column("nonce", sa.String(64), nullable=False),
    sa.Column("endpoints", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("used_at", TS),
)

# A launched session: what the opaque cookie id stands for. Tokens never leave this table unencrypted.
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("token_endpoint", sa.Text, nullable=False),
    sa.Column("patient_id", sa.String(128), nullable=False),
    sa.Column("encounter_id", sa.String(128)),
    sa.Column("user_ref", sa.Text, nullable=False),
    sa.Column("user_name", sa.Text),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("access_token_enc", sa.Text, nullable=False),
    sa.Column("refresh_token_enc", sa.Text),
    sa.Column("token_expires_at", TS, nullable=False),
    sa.Column("token_lifetime_s", sa.Integer),  # expires_in as issued; NULL for sessions from before 0007
    sa.Column("csrf_secret", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_seen_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("ended_at", TS),
    sa.Column("display", sa.JSON),  # the launch's need_patient_banner and safe smart_style_url values
    # The launch's appContext (a CDS card's SMART link) and fhirContext references, as the token response gave
    # them: untrusted, bounded (app.smart.oauth); migration 0010.
    sa.Column("app_context", sa.Text),
    sa.Column("fhir_context", sa.JSON),
)

# Who did what to which patient, when. Ids only, never names or values.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", TS, nullable=False, index=True),
    sa.Column("iss", sa.Text),  # the EHR the ids belong to (migration 0007; NULL before it, or for none)
    sa.Column("user_ref", sa.Text),
    sa.Column("role", sa.String(32)),
    sa.Column("patient_id", sa.String(128), index=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.Text),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("detail", sa.JSON),
)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT = 5  # seconds to open a PostgreSQL connection (libpq connect_timeout; 2 is its minimum)


def make_engine(url: str) -> sa.Engine:
    """An engine that behaves the same on SQLite and PostgreSQL (foreign keys on, sane pool)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

        return engine
    # Without connect_timeout, libpq waits for ever on a server that accepts the connection but does not answer,
    # and minutes on an unreachable host, and the page with it. A URL that sets its own connect_timeout keeps it.
    connect_args = {} if "connect_timeout" in sa.engine.make_url(url).query else {"connect_timeout": CONNECT_TIMEOUT}
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)


def _alembic_config(engine: sa.Engine, iss_allowlist: tuple[str, ...] | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    if iss_allowlist is not None:  # migration 0007 binds old rows to the only allow-listed EHR, if there is one
        cfg.attributes["iss_allowlist"] = tuple(iss_allowlist)
    return cfg


MIGRATION_LOCK_ID = 0x53454E54  # "SENT": the PostgreSQL advisory lock that serializes migrations


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    """One migrating process at a time per database: two workers (or instances) starting together on a new
    database would otherwise both create the same tables, and one would crash. PostgreSQL: a session advisory
    lock; SQLite: an exclusive lock on a file beside the database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        return
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade(engine: sa.Engine, iss_allowlist: tuple[str, ...] | None = None) -> None:
    """Bring the schema to the newest migrations (idempotent). Features may add migration branches; all apply.
    Safe when several processes start at once on one database (`_migration_lock`)."""
    with _migration_lock(engine):
        migrating = _migration_engine(engine)
        try:
            command.upgrade(_alembic_config(migrating, iss_allowlist), "heads")
            _check_foreign_keys(migrating)
        finally:
            if migrating is not engine:
                migrating.dispose()


def _migration_engine(engine: sa.Engine) -> sa.Engine:
    """The engine migrations run on. SQLite changes a constraint by copying the table, dropping the old one and
    renaming the copy (Alembic "batch" mode); with foreign keys enforced, dropping a table that other rows refer
    to fails, so on SQLite migrations run on a connection without `PRAGMA foreign_keys` (SQLite's own advice,
    "Making Other Kinds Of Table Schema Changes"), and `_check_foreign_keys` checks the result afterwards."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        return engine
    return sa.create_engine(engine.url, connect_args={"check_same_thread": False, "timeout": 15})


def _check_foreign_keys(engine: sa.Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"migration left {len(broken)} row(s) whose foreign key points nowhere")


def is_current(engine: sa.Engine) -> bool:
    """True when the database schema is at the newest migration of every branch."""
    heads = set(ScriptDirectory.from_config(_alembic_config(engine)).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads


class SchemaOutOfDate(RuntimeError):
    pass


def check_schema(engine: sa.Engine) -> None:
    if not is_current(engine):
        raise SchemaOutOfDate(
            "The database schema is not at the newest version. Run `sentinel db upgrade` (with the same "
            "SENTINEL_DATABASE_URL) before starting the app."
        )
