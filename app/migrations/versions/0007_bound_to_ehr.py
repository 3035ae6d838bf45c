"""Every stored fact is bound to its EHR (the FHIR server, `iss`); sessions record their token's lifetime.

Alerts, nurse screenings, bundle orders, feedback and site thresholds gain `iss`, and the keys that made two
records the same thing now include it: UNIQUE(iss, scope_key, seq) for alerts, UNIQUE(iss, based_on) for
thresholds; screenings are looked up by (iss, scope_key) and feedback is owned by (iss, user_ref).

Existing rows are given the server they came from by this rule, first match wins:
1. bundle orders: their alert's server;
2. the one server the sessions table knows for the row's patient (alerts, screenings) or user (feedback:
   the asker, thresholds: who set it), when it knows exactly one;
3. the only server on SENTINEL_ISS_ALLOWLIST, when exactly one is listed;
4. otherwise "" (no server): the row is kept for the record and the audit, but answers for no EHR, rather than
   being guessed onto the wrong one.

Revision ID: 0007
Revises: 0003, 0006
"""

import os

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = ("0003", "0006")  # both branches: it changes tables of each

UNKNOWN = ""


def _only_listed_server() -> str:
    """The single allow-listed FHIR base (normalized as the app compares them), or UNKNOWN."""
    listed = op.get_context().config.attributes.get("iss_allowlist")
    if listed is None:
        listed = [p for p in os.environ.get("SENTINEL_ISS_ALLOWLIST", "").split(",") if p.strip()]
    servers = {p.strip().rstrip("/") for p in listed if p.strip()}
    return servers.pop() if len(servers) == 1 else UNKNOWN


def _from_sessions(column: str, table: str, own: str) -> str:
    """SQL: the one iss the sessions table knows for this row's `own` value, else NULL."""
    known = f"FROM sessions s WHERE s.{column} = {table}.{own}"
    return f"CASE WHEN (SELECT COUNT(DISTINCT s.iss) {known}) = 1 THEN (SELECT MIN(s.iss) {known}) END"  # noqa: S608


def _add_iss(table: str, backfill_sql: str | None, default: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("iss", sa.Text))
    if backfill_sql:
        op.execute(f"UPDATE {table} SET iss = {backfill_sql}")  # noqa: S608 - fixed SQL, no input
    op.get_bind().execute(sa.text(f"UPDATE {table} SET iss = :d WHERE iss IS NULL"), {"d": default})  # noqa: S608


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("token_lifetime_s", sa.Integer))
    with op.batch_alter_table("pending_launches") as batch:
        batch.add_column(sa.Column("client_hash", sa.String(64)))
    with op.batch_alter_table("audit_log") as batch:  # new rows say which EHR; old ones stay as they were
        batch.add_column(sa.Column("iss", sa.Text))
    op.create_index("ix_pending_launches_client_hash", "pending_launches", ["client_hash"])
    default = _only_listed_server()

    _add_iss("alerts", _from_sessions("patient_id", "alerts", "patient_id"), default)
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("iss", existing_type=sa.Text, nullable=False)
        batch.drop_constraint("uq_alerts_scope_key", type_="unique")
        batch.create_unique_constraint("uq_alerts_iss", ["iss", "scope_key", "seq"])

    _add_iss("nurse_screenings", _from_sessions("patient_id", "nurse_screenings", "patient_id"), default)
    op.drop_index("ix_nurse_screenings_scope_key", table_name="nurse_screenings")
    with op.batch_alter_table("nurse_screenings") as batch:
        batch.alter_column("iss", existing_type=sa.Text, nullable=False)
    op.create_index("ix_nurse_screenings_iss_scope_key", "nurse_screenings", ["iss", "scope_key"])

    _add_iss("bundle_orders", "(SELECT a.iss FROM alerts a WHERE a.id = bundle_orders.alert_id)", default)
    with op.batch_alter_table("bundle_orders") as batch:
        batch.alter_column("iss", existing_type=sa.Text, nullable=False)

    _add_iss("feedback", _from_sessions("user_ref", "feedback", "user_ref"), default)
    op.drop_index("ix_feedback_user_ref", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.alter_column("iss", existing_type=sa.Text, nullable=False)
    op.create_index("ix_feedback_iss_user_ref", "feedback", ["iss", "user_ref"])

    _add_iss("site_thresholds", _from_sessions("user_ref", "site_thresholds", "set_by"), default)
    with op.batch_alter_table("site_thresholds") as batch:
        batch.alter_column("iss", existing_type=sa.Text, nullable=False)
        batch.drop_constraint("uq_site_thresholds_based_on", type_="unique")
        batch.create_unique_constraint("uq_site_thresholds_iss", ["iss", "based_on"])


def downgrade() -> None:
    with op.batch_alter_table("site_thresholds") as batch:
        batch.drop_constraint("uq_site_thresholds_iss", type_="unique")
        batch.create_unique_constraint("uq_site_thresholds_based_on", ["based_on"])
        batch.drop_column("iss")
    op.drop_index("ix_feedback_iss_user_ref", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("iss")
    op.create_index("ix_feedback_user_ref", "feedback", ["user_ref"])
    with op.batch_alter_table("bundle_orders") as batch:
        batch.drop_column("iss")
    op.drop_index("ix_nurse_screenings_iss_scope_key", table_name="nurse_screenings")
    with op.batch_alter_table("nurse_screenings") as batch:
        batch.drop_column("iss")
    op.create_index("ix_nurse_screenings_scope_key", "nurse_screenings", ["scope_key"])
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("uq_alerts_iss", type_="unique")
        batch.create_unique_constraint("uq_alerts_scope_key", ["scope_key", "seq"])
        batch.drop_column("iss")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("iss")
    op.drop_index("ix_pending_launches_client_hash", table_name="pending_launches")
    with op.batch_alter_table("pending_launches") as batch:
        batch.drop_column("client_hash")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("token_lifetime_s")
