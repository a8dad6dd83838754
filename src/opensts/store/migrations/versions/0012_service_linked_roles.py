"""Service-linked role deletion tasks; OIDC providers' context provider and Identity Center instance.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_linked_role_deletions",
        sa.Column("task_id", sa.String(length=320), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("role_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"],
            name=op.f("fk_service_linked_role_deletions_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_service_linked_role_deletions")),
    )
    op.add_column("oidc_providers", sa.Column("context_provider", sa.Text(), nullable=True))
    op.add_column("oidc_providers", sa.Column("identity_center_instance_arn", sa.String(length=1224), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oidc_providers") as batch:
        batch.drop_column("identity_center_instance_arn")
        batch.drop_column("context_provider")
    op.drop_table("service_linked_role_deletions")
