"""Roles remember the unique ids of the principals their trust policy names.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("roles") as batch:
        batch.add_column(sa.Column("trust_principal_ids", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("roles") as batch:
        batch.drop_column("trust_principal_ids")
