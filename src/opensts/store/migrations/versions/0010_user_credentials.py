"""User credentials and server certificates: SSH public keys, signing certificates, server
certificates (private keys sealed), service-specific credentials (secrets hashed).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"], ["accounts.account_id"], name=op.f(f"fk_{table}_account_id_accounts")
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f(f"fk_{table}_user_id_users"))


def upgrade() -> None:
    op.create_table(
        "ssh_public_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("uploaded_at", UtcDateTime(), nullable=False),
        _account_fk("ssh_public_keys"),
        _user_fk("ssh_public_keys"),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_ssh_public_keys")),
        sa.UniqueConstraint("user_id", "fingerprint", name="uq_ssh_public_keys_user_fingerprint"),
    )
    op.create_index(op.f("ix_ssh_public_keys_user_id"), "ssh_public_keys", ["user_id"])
    op.create_table(
        "signing_certificates",
        sa.Column("certificate_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("uploaded_at", UtcDateTime(), nullable=False),
        _account_fk("signing_certificates"),
        _user_fk("signing_certificates"),
        sa.PrimaryKeyConstraint("certificate_id", name=op.f("pk_signing_certificates")),
        sa.UniqueConstraint("account_id", "fingerprint", name="uq_signing_certificates_account_fingerprint"),
    )
    op.create_index(op.f("ix_signing_certificates_user_id"), "signing_certificates", ["user_id"])
    op.create_table(
        "server_certificates",
        sa.Column("certificate_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_key", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=True),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        _account_fk("server_certificates"),
        sa.PrimaryKeyConstraint("certificate_id", name=op.f("pk_server_certificates")),
        sa.UniqueConstraint("account_id", "name_key", name="uq_server_certificates_account_name"),
    )
    op.create_table(
        "service_specific_credentials",
        sa.Column("credential_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("service_name", sa.String(length=128), nullable=False),
        sa.Column("service_user_name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        _account_fk("service_specific_credentials"),
        _user_fk("service_specific_credentials"),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_service_specific_credentials")),
    )
    op.create_index(
        op.f("ix_service_specific_credentials_user_id"), "service_specific_credentials", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_service_specific_credentials_user_id"), table_name="service_specific_credentials")
    op.drop_table("service_specific_credentials")
    op.drop_table("server_certificates")
    op.drop_index(op.f("ix_signing_certificates_user_id"), table_name="signing_certificates")
    op.drop_table("signing_certificates")
    op.drop_index(op.f("ix_ssh_public_keys_user_id"), table_name="ssh_public_keys")
    op.drop_table("ssh_public_keys")
