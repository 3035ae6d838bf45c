"""Each threshold version records the version it replaced, once: of two changes made from the same version,
the database keeps one (UNIQUE), and the other is told someone changed it meanwhile.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("site_thresholds") as batch:
        batch.add_column(sa.Column("based_on", sa.Integer))
    op.execute("UPDATE site_thresholds SET based_on = COALESCE((SELECT MAX(t2.id) FROM site_thresholds t2 "
               "WHERE t2.id < site_thresholds.id), 0)")
    with op.batch_alter_table("site_thresholds") as batch:
        batch.alter_column("based_on", existing_type=sa.Integer, nullable=False)
        batch.create_unique_constraint("uq_site_thresholds_based_on", ["based_on"])


def downgrade() -> None:
    with op.batch_alter_table("site_thresholds") as batch:
        batch.drop_constraint("uq_site_thresholds_based_on", type_="unique")
        batch.drop_column("based_on")
