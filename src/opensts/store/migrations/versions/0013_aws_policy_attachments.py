"""AWS managed policies: their attachments to users, roles and groups.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aws_policy_attachments",
        sa.Column("policy_arn", sa.String(length=2048), nullable=False),
        sa.Column("entity_type", sa.String(length=8), nullable=False),
        sa.Column("entity_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_aws_policy_attachments_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("policy_arn", "entity_type", "entity_id", name=op.f("pk_aws_policy_attachments")),
    )
    op.create_index("ix_aws_policy_attachments_entity", "aws_policy_attachments", ["entity_type", "entity_id"])
    op.create_index("ix_aws_policy_attachments_account", "aws_policy_attachments", ["account_id", "policy_arn"])


def downgrade() -> None:
    op.drop_index("ix_aws_policy_attachments_account", table_name="aws_policy_attachments")
    op.drop_index("ix_aws_policy_attachments_entity", table_name="aws_policy_attachments")
    op.drop_table("aws_policy_attachments")
