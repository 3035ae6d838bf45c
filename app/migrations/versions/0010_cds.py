"""CDS Hooks: the hook JWT ids seen (replay), the cards returned and the EHR's feedback on them (app.cds.store);
where the screening found each patient (risk_scores.location, for the unit board); the launch's appContext and
fhirContext with its session.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The launch's appContext and fhirContext, kept with the session (app.db.sessions).
    op.add_column("sessions", sa.Column("app_context", sa.Text))
    op.add_column("sessions", sa.Column("fhir_context", sa.JSON))
    # Where the screening's census found each patient, for the unit board (app.screening.history.risk_scores).
    op.add_column("risk_scores", sa.Column("location", sa.String(200)))
    op.add_column("risk_scores", sa.Column("location_display", sa.String(200)))
    op.create_index("ix_risk_scores_location", "risk_scores", ["location"])

    op.create_table(
        "cds_jtis",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client", sa.Text, nullable=False),
        sa.Column("jti", sa.String(200), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.UniqueConstraint("client", "jti", name="uq_cds_jtis_client"),
    )
    op.create_index("ix_cds_jtis_expires_at", "cds_jtis", ["expires_at"])

    op.create_table(
        "cds_cards",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("client", sa.Text, nullable=False),
        sa.Column("hook_instance", sa.String(100), nullable=False),
        sa.Column("alert_id", sa.Integer),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.UniqueConstraint("uuid", name="uq_cds_cards_uuid"),
    )
    op.create_index("ix_cds_cards_alert_id", "cds_cards", ["alert_id"])
    op.create_index("ix_cds_cards_issued_at", "cds_cards", ["issued_at"])

    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("card_uuid", sa.String(36), nullable=False),
        sa.Column("client", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason_code", sa.String(64)),
        sa.Column("reason_display", sa.String(200)),
        sa.Column("user_comment", sa.Text),
        sa.Column("outcome_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.UniqueConstraint("card_uuid", "outcome", "outcome_at", name="uq_cds_feedback_card_uuid"),
    )
    op.create_index("ix_cds_feedback_card_uuid", "cds_feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_index("ix_cds_feedback_card_uuid", "cds_feedback")
    op.drop_table("cds_feedback")
    op.drop_index("ix_cds_cards_issued_at", "cds_cards")
    op.drop_index("ix_cds_cards_alert_id", "cds_cards")
    op.drop_table("cds_cards")
    op.drop_index("ix_cds_jtis_expires_at", "cds_jtis")
    op.drop_table("cds_jtis")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("fhir_context")
        batch.drop_column("app_context")
    op.drop_index("ix_risk_scores_location", "risk_scores")
    with op.batch_alter_table("risk_scores") as batch:  # SQLite drops columns by copying the table
        batch.drop_column("location_display")
        batch.drop_column("location")
