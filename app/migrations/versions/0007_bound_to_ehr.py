"""Every stored fact is bound to its EHR; sessions record their token's lifetime.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("token_lifetime_s", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("token_lifetime_s")
