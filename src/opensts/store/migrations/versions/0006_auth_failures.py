"""Failed authentication and MFA attempts per subject, shared by every node (brute_force.py).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.Float(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_auth_failures")),
    )
    op.create_index("ix_auth_failures_last_failure_at", "auth_failures", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_failures_last_failure_at", table_name="auth_failures")
    op.drop_table("auth_failures")
