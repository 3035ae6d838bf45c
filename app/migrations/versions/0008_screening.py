"""Background screening: each cycle, each patient's stored window, and the risk history (app.screening).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "screening_cycles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("iss", sa.Text, nullable=False),
        sa.Column("runner", sa.String(32), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("census_done_at", TS),
        sa.Column("census_size", sa.Integer),
        sa.Column("census_complete", sa.Boolean),
        sa.Column("census_fhir_requests", sa.Integer, nullable=False),
        sa.Column("queued", sa.Integer, nullable=False),
        sa.Column("already_queued", sa.Integer, nullable=False),
        sa.Column("error", sa.String(64)),
        sa.Column("error_text", sa.Text),
    )
    op.create_index("ix_screening_cycles_started_at", "screening_cycles", ["started_at"])

    op.create_table(
        "risk_scores",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("iss", sa.Text, nullable=False),
        sa.Column("scope_key", sa.String(200), nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("encounter_id", sa.String(128)),
        sa.Column("at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("cycle_id", sa.Integer, sa.ForeignKey("screening_cycles.id",
                                                        name="fk_risk_scores_cycle_id_screening_cycles")),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16)),
        sa.Column("probability", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("threshold_version", sa.Integer),
        sa.Column("model_version", sa.String(64)),
        sa.Column("alert_id", sa.Integer),
        sa.Column("read", sa.String(16)),
        sa.Column("fhir_requests", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("cpu_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.String(64)),
    )
    op.create_index("ix_risk_scores_scope_key", "risk_scores", ["scope_key"])
    op.create_index("ix_risk_scores_cycle_id", "risk_scores", ["cycle_id"])
    op.create_index("ix_risk_scores_at", "risk_scores", ["at"])

    op.create_table(
        "screening_windows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("iss", sa.Text, nullable=False),
        sa.Column("scope_key", sa.String(200), nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("encounter_id", sa.String(128)),
        sa.Column("watermark", sa.String(40), nullable=False),
        sa.Column("read_at", TS, nullable=False),
        sa.Column("full_read_at", TS, nullable=False),
        sa.Column("birth_date", sa.String(10)),
        sa.Column("sex", sa.String(16)),
        sa.Column("observations", sa.JSON, nullable=False),
        sa.UniqueConstraint("iss", "scope_key", name="uq_screening_windows_iss"),
    )


def downgrade() -> None:
    op.drop_table("screening_windows")
    op.drop_index("ix_risk_scores_at", "risk_scores")
    op.drop_index("ix_risk_scores_cycle_id", "risk_scores")
    op.drop_index("ix_risk_scores_scope_key", "risk_scores")
    op.drop_table("risk_scores")
    op.drop_index("ix_screening_cycles_started_at", "screening_cycles")
    op.drop_table("screening_cycles")
