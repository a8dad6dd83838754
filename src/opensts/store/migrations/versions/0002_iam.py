"""IAM entities: groups, roles, tags, inline and managed policies, MFA devices, identity providers,
and the replay cache.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from opensts.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inline_policies',
    sa.Column('owner_type', sa.String(length=8), nullable=False),
    sa.Column('owner_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('owner_type', 'owner_id', 'name', name=op.f('pk_inline_policies'))
    )
    op.create_table('replay_cache',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('item', sa.String(length=512), nullable=False),
    sa.Column('expires_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'item', name=op.f('pk_replay_cache'))
    )
    op.create_index(op.f('ix_replay_cache_expires_at'), 'replay_cache', ['expires_at'], unique=False)
    op.create_table('tags',
    sa.Column('entity_type', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.String(length=2048), nullable=False),
    sa.Column('key_lower', sa.String(length=128), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('entity_type', 'entity_id', 'key_lower', name=op.f('pk_tags'))
    )
    op.create_table('groups',
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('name_key', sa.String(length=128), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], name=op.f('fk_groups_account_id_accounts')),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_groups')),
    sa.UniqueConstraint('account_id', 'name_key', name='uq_groups_account_name')
    )
    op.create_table('managed_policies',
    sa.Column('policy_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('arn', sa.String(length=2048), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('name_key', sa.String(length=128), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('default_version_id', sa.String(length=16), nullable=False),
    sa.Column('next_version', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('updated_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], name=op.f('fk_managed_policies_account_id_accounts')),
    sa.PrimaryKeyConstraint('policy_id', name=op.f('pk_managed_policies')),
    sa.UniqueConstraint('account_id', 'name_key', name='uq_managed_policies_account_name'),
    sa.UniqueConstraint('arn', name=op.f('uq_managed_policies_arn'))
    )
    op.create_table('oidc_providers',
    sa.Column('arn', sa.String(length=2048), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('url', sa.String(length=255), nullable=False),
    sa.Column('client_ids', sa.Text(), nullable=False),
    sa.Column('thumbprints', sa.Text(), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], name=op.f('fk_oidc_providers_account_id_accounts')),
    sa.PrimaryKeyConstraint('arn', name=op.f('pk_oidc_providers'))
    )
    op.create_table('roles',
    sa.Column('role_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('name_key', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('max_session_duration', sa.Integer(), nullable=False),
    sa.Column('assume_role_policy', sa.Text(), nullable=False),
    sa.Column('permissions_boundary_arn', sa.String(length=2048), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('last_used_at', UtcDateTime(), nullable=True),
    sa.Column('last_used_region', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], name=op.f('fk_roles_account_id_accounts')),
    sa.PrimaryKeyConstraint('role_id', name=op.f('pk_roles')),
    sa.UniqueConstraint('account_id', 'name_key', name='uq_roles_account_name')
    )
    op.create_table('saml_providers',
    sa.Column('arn', sa.String(length=2048), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('metadata_document', sa.Text(), nullable=False),
    sa.Column('valid_until', UtcDateTime(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], name=op.f('fk_saml_providers_account_id_accounts')),
    sa.PrimaryKeyConstraint('arn', name=op.f('pk_saml_providers'))
    )
    op.create_table('group_members',
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.group_id'], name=op.f('fk_group_members_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], name=op.f('fk_group_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id', name=op.f('pk_group_members'))
    )
    op.create_table('mfa_devices',
    sa.Column('serial_number', sa.String(length=2048), nullable=False),
    sa.Column('account_id', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('seed_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('enabled_at', UtcDateTime(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.Column('last_used_step', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], name=op.f('fk_mfa_devices_account_id_accounts')),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], name=op.f('fk_mfa_devices_user_id_users')),
    sa.PrimaryKeyConstraint('serial_number', name=op.f('pk_mfa_devices'))
    )
    op.create_table('policy_attachments',
    sa.Column('policy_id', sa.String(length=32), nullable=False),
    sa.Column('entity_type', sa.String(length=8), nullable=False),
    sa.Column('entity_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['managed_policies.policy_id'], name=op.f('fk_policy_attachments_policy_id_managed_policies')),
    sa.PrimaryKeyConstraint('policy_id', 'entity_type', 'entity_id', name=op.f('pk_policy_attachments'))
    )
    op.create_table('policy_versions',
    sa.Column('policy_id', sa.String(length=32), nullable=False),
    sa.Column('version_id', sa.String(length=16), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['managed_policies.policy_id'], name=op.f('fk_policy_versions_policy_id_managed_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('policy_id', 'version_id', name=op.f('pk_policy_versions'))
    )


def downgrade() -> None:
    op.drop_table('policy_versions')
    op.drop_table('policy_attachments')
    op.drop_table('mfa_devices')
    op.drop_table('group_members')
    op.drop_table('saml_providers')
    op.drop_table('roles')
    op.drop_table('oidc_providers')
    op.drop_table('managed_policies')
    op.drop_table('groups')
    op.drop_table('tags')
    op.drop_table('replay_cache')
    op.drop_table('inline_policies')
