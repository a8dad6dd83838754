"""The audit trail: events, the resources they name, chain heads and signed checkpoints.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_time", UtcDateTime(), nullable=False),
        sa.Column("event_source", sa.String(length=64), nullable=False),
        sa.Column("event_name", sa.String(length=128), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("username", sa.String(length=512), nullable=True),
        sa.Column("access_key_id", sa.String(length=128), nullable=True),
        sa.Column("error_code", sa.String(length=128), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_events_event_id")),
    )
    op.create_index("ix_audit_events_account_time", "audit_events", ["account_id", "event_time"])
    op.create_index("ix_audit_events_name", "audit_events", ["account_id", "event_name", "seq"])
    op.create_index("ix_audit_events_username", "audit_events", ["account_id", "username", "seq"])
    op.create_index("ix_audit_events_key", "audit_events", ["account_id", "access_key_id", "seq"])
    op.create_table(
        "audit_resources",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_name", sa.String(length=2048), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", "position", name=op.f("pk_audit_resources")),
    )
    op.create_index("ix_audit_resources_name", "audit_resources", ["account_id", "resource_name"])
    op.create_table(
        "audit_chain_heads",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("pruned_seq", sa.Integer(), nullable=False),
        sa.Column("pruned_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_audit_chain_heads")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", name=op.f("pk_audit_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_heads")
    op.drop_index("ix_audit_resources_name", table_name="audit_resources")
    op.drop_table("audit_resources")
    for index in ("ix_audit_events_key", "ix_audit_events_username", "ix_audit_events_name",
                  "ix_audit_events_account_time"):
        op.drop_index(index, table_name="audit_events")
    op.drop_table("audit_events")
