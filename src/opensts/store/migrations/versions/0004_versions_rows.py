"""The IAM change counter's row exists from the start.

It used to be created by the first IAM write (UPDATE, then INSERT when nothing was updated), and
concurrent first writes on a fresh PostgreSQL store collided on its primary key.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text("INSERT INTO versions (name, value) SELECT 'iam', 0 WHERE NOT EXISTS (SELECT 1 FROM versions WHERE name = 'iam')")
    )


def downgrade() -> None:
    pass  # the row is harmless to older code, which updates it like any other
