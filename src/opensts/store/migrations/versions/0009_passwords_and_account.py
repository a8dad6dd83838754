"""Passwords and account settings: login profiles, password history, the account password policy,
account aliases and per-account settings (SetSecurityTokenServicePreferences).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_profiles",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("password_reset_required", sa.Boolean(), nullable=False),
        sa.Column("max_signin_session_duration", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("password_changed_at", UtcDateTime(), nullable=False),
        sa.Column("password_last_used", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_login_profiles_user_id_users")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_login_profiles_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_login_profiles")),
    )
    op.create_table(
        "password_history",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("set_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name=op.f("fk_password_history_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "seq", name=op.f("pk_password_history")),
    )
    op.create_table(
        "account_password_policies",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("minimum_password_length", sa.Integer(), nullable=False),
        sa.Column("require_symbols", sa.Boolean(), nullable=False),
        sa.Column("require_numbers", sa.Boolean(), nullable=False),
        sa.Column("require_uppercase_characters", sa.Boolean(), nullable=False),
        sa.Column("require_lowercase_characters", sa.Boolean(), nullable=False),
        sa.Column("allow_users_to_change_password", sa.Boolean(), nullable=False),
        sa.Column("max_password_age", sa.Integer(), nullable=True),
        sa.Column("password_reuse_prevention", sa.Integer(), nullable=True),
        sa.Column("hard_expiry", sa.Boolean(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_account_password_policies_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_password_policies")),
    )
    op.create_table(
        "account_aliases",
        sa.Column("alias", sa.String(length=63), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_account_aliases_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_account_aliases")),
        sa.UniqueConstraint("account_id", name=op.f("uq_account_aliases_account_id")),
    )
    op.create_table(
        "account_settings",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("global_endpoint_token_version", sa.String(length=16), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_account_settings_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_settings")),
    )


def downgrade() -> None:
    op.drop_table("account_settings")
    op.drop_table("account_aliases")
    op.drop_table("account_password_policies")
    op.drop_table("password_history")
    op.drop_table("login_profiles")
