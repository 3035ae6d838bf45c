"""The bedside page's records: why a confirmation was withdrawn; the launch's display context (the EHR's
need_patient_banner and safe values of its smart_style_url); and people's names stored with the records they
made, resolved once at launch, so the inbox, tuning history and adoption pages never show raw FHIR ids.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

COLUMNS = (
    ("alerts", sa.Column("withdraw_reason", sa.String(32))),
    ("alerts", sa.Column("withdraw_note", sa.Text)),
    ("sessions", sa.Column("display", sa.JSON)),
    ("feedback", sa.Column("user_name", sa.Text)),
    ("feedback_replies", sa.Column("by_user_name", sa.Text)),
    ("site_thresholds", sa.Column("set_by_name", sa.Text)),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(column)


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column.name)
