"""Feedback carries its form's one-time submission id: a form sent again after a lost answer is stored once.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:  # SQLite adds a unique constraint by rebuilding the table
        batch.add_column(sa.Column("submission_id", sa.String(64)))
        batch.create_unique_constraint("uq_feedback_submission_id", ["submission_id"])


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_constraint("uq_feedback_submission_id", type_="unique")
        batch.drop_column("submission_id")
