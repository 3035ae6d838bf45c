"""Feedback to the deployment team and their replies.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("user_ref", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("page", sa.Text),
        sa.Column("patient_id", sa.String(128)),
        sa.Column("alert_id", sa.String(128)),
        sa.Column("model_version", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_at", TS, nullable=False),
        sa.Column("mail_status", sa.String(16), nullable=False),
        sa.Column("mail_attempts", sa.Integer, nullable=False),
        sa.Column("mail_at", TS),
        sa.Column("mail_error", sa.Text),
    )
    op.create_index("ix_feedback_user_ref", "feedback", ["user_ref"])
    op.create_index("ix_feedback_status", "feedback", ["status"])
    op.create_table(
        "feedback_replies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("feedback_id", sa.Integer, sa.ForeignKey("feedback.id", ondelete="CASCADE",
                                                           name="fk_feedback_replies_feedback_id_feedback"),
                  nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("by_user_ref", sa.Text, nullable=False),
        sa.Column("by_role", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("read_at", TS),
    )
    op.create_index("ix_feedback_replies_feedback_id", "feedback_replies", ["feedback_id"])


def downgrade() -> None:
    op.drop_table("feedback_replies")
    op.drop_table("feedback")
