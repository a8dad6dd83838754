"""Foundation: accounts, users, access keys, signing keys, meta, versions.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.account_id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("permissions_boundary_arn", sa.String(2048)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("account_id", "name_key", name="uq_users_account_name"),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.account_id"), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id")),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_used_at", UtcDateTime),
        sa.Column("last_used_service", sa.String(32)),
        sa.Column("last_used_region", sa.String(32)),
    )
    op.create_index("ix_access_keys_account_id", "access_keys", ["account_id"])
    op.create_index("ix_access_keys_user_id", "access_keys", ["user_id"])
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("key_sealed", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("not_after", UtcDateTime),
    )
    op.create_table(
        "versions",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("versions", "signing_keys", "access_keys", "users", "accounts", "meta"):
        op.drop_table(table)
