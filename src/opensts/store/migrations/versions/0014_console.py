"""The web console: federation sign-in tokens and console sessions.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_signin_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("session_token_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("session_expires_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_signin_tokens")),
    )
    op.create_index(op.f("ix_console_signin_tokens_expires_at"), "console_signin_tokens", ["expires_at"])
    op.create_table(
        "console_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("principal_arn", sa.String(length=2048), nullable=False),
        sa.Column("session_token_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_expires_at"), "console_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_console_sessions_expires_at"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index(op.f("ix_console_signin_tokens_expires_at"), table_name="console_signin_tokens")
    op.drop_table("console_signin_tokens")
