"""Outbound identity federation: each account's issuer and the deployment's JWT signing keys.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbound_federation",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("issuer_id", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("enabled_at", UtcDateTime(), nullable=False),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_outbound_federation_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_outbound_federation")),
        sa.UniqueConstraint("issuer_id", name=op.f("uq_outbound_federation_issuer_id")),
    )
    op.create_table(
        "jwt_signing_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("not_after", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_jwt_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("jwt_signing_keys")
    op.drop_table("outbound_federation")
