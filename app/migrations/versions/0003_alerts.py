"""Alerts, their history, nurse screenings and bundle orders (app.alerts.store, .screening, .orders).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope_key", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("encounter_id", sa.String(128)),
        sa.Column("care_unit", sa.String(200), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_at", TS, nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("threshold_version", sa.Integer, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("signs", sa.JSON, nullable=False),
        sa.Column("measurements", sa.JSON, nullable=False),
        sa.Column("latest", sa.JSON),
        sa.Column("first_action_at", TS),
        sa.Column("decision", sa.String(16)),
        sa.Column("decided_at", TS),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_by_name", sa.Text),
        sa.Column("decided_role", sa.String(32)),
        sa.Column("dismiss_reason", sa.String(32)),
        sa.Column("dismiss_note", sa.Text),
        sa.Column("paused_until", TS),
        sa.Column("pause_count", sa.Integer, nullable=False),
        sa.Column("last_action", sa.String(16)),
        sa.Column("last_action_at", TS),
        sa.Column("last_action_by", sa.Text),
        sa.Column("last_action_by_name", sa.Text),
        sa.UniqueConstraint("scope_key", "seq", name="uq_alerts_scope_key"),
    )
    op.create_index("ix_alerts_patient_id", "alerts", ["patient_id"])
    op.create_index("ix_alerts_care_unit", "alerts", ["care_unit"])
    op.create_index("ix_alerts_raised_at", "alerts", ["raised_at"])

    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", name="fk_alert_events_alert_id_alerts"),
                  nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_ref", sa.Text),
        sa.Column("user_name", sa.Text),
        sa.Column("role", sa.String(32)),
        sa.Column("submission_id", sa.String(64)),
        sa.Column("basis", sa.JSON),
        sa.Column("detail", sa.JSON),
        sa.UniqueConstraint("submission_id", name="uq_alert_events_submission_id"),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])

    op.create_table(
        "nurse_screenings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope_key", sa.String(200), nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("encounter_id", sa.String(128)),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", name="fk_nurse_screenings_alert_id_alerts")),
        sa.Column("submitted_at", TS, nullable=False),
        sa.Column("user_ref", sa.Text, nullable=False),
        sa.Column("user_name", sa.Text),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("infection_source", sa.String(32), nullable=False),
        sa.Column("infection_other", sa.Text),
        sa.Column("new_confusion", sa.String(8), nullable=False),
        sa.Column("provider_notified_at", TS),
        sa.Column("submission_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("submission_id", name="uq_nurse_screenings_submission_id"),
    )
    op.create_index("ix_nurse_screenings_scope_key", "nurse_screenings", ["scope_key"])

    op.create_table(
        "bundle_orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", name="fk_bundle_orders_alert_id_alerts"),
                  nullable=False),
        sa.Column("element", sa.String(32), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("identifier", sa.String(64), nullable=False),
        sa.Column("code_system", sa.Text, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("display", sa.Text, nullable=False),
        sa.Column("volume_ml", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fhir_id", sa.String(64)),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_by_name", sa.Text),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("submission_id", sa.String(64), nullable=False),
        sa.Column("placed_at", TS),
        sa.Column("error", sa.String(64)),
        sa.UniqueConstraint("alert_id", "element", name="uq_bundle_orders_alert_id"),
        sa.UniqueConstraint("identifier", name="uq_bundle_orders_identifier"),
        sa.UniqueConstraint("submission_id", name="uq_bundle_orders_submission_id"),
    )


def downgrade() -> None:
    op.drop_table("bundle_orders")
    op.drop_table("nurse_screenings")
    op.drop_index("ix_alert_events_alert_id", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_table("alerts")
