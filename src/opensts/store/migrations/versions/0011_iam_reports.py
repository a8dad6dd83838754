"""IAM reports: the account's credential report and service-last-accessed jobs.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credential_reports",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("generated_at", UtcDateTime(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_credential_reports_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_credential_reports")),
    )
    op.create_table(
        "service_access_jobs",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("granularity", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=2048), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_service_access_jobs_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_service_access_jobs")),
    )
    op.create_index(
        "ix_service_access_jobs_account_created", "service_access_jobs", ["account_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_service_access_jobs_account_created", table_name="service_access_jobs")
    op.drop_table("service_access_jobs")
    op.drop_table("credential_reports")
