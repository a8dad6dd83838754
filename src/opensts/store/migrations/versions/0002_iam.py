"""IAM entities: groups, roles, tags, inline and managed policies, MFA devices, identity providers,
and the replay cache.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

from opensts.store import schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Created from the table definitions as they stood when this migration was written; later changes
# to these tables get migrations of their own.
TABLES = (
    "groups", "group_members", "roles", "tags", "inline_policies", "managed_policies", "policy_versions",
    "policy_attachments", "mfa_devices", "oidc_providers", "saml_providers", "replay_cache",
)


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        schema.metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        schema.metadata.tables[name].drop(bind)
