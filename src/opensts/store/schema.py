"""The store's tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

Names are stored twice where AWS compares them case-insensitively: ``name`` as given and
``name_key`` lower-cased under a unique constraint.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_key", String(64), nullable=False),
    Column("path", String(512), nullable=False, default="/"),
    Column("permissions_boundary_arn", String(2048)),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "name_key", name="uq_users_account_name"),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False, index=True),
    # NULL user: a root key of the account.
    Column("user_id", String(32), ForeignKey("users.user_id"), index=True),
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False, default="Active"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("last_used_service", String(32)),
    Column("last_used_region", String(32)),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("key_sealed", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    Column("not_after", UtcDateTime),
)

# Monotonic counters that tell every process when cached IAM state is stale.
versions = Table(
    "versions",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Integer, nullable=False),
)


# --- IAM entities (migration 0002) -----------------------------------------------------------
groups = Table(
    "groups",
    metadata,
    Column("group_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "name_key", name="uq_groups_account_name"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(32), ForeignKey("groups.group_id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True),
)

roles = Table(
    "roles",
    metadata,
    Column("role_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("name_key", String(64), nullable=False),
    Column("path", String(512), nullable=False),
    Column("description", String(1000)),
    Column("max_session_duration", Integer, nullable=False),
    Column("assume_role_policy", Text, nullable=False),
    Column("permissions_boundary_arn", String(2048)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
    Column("last_used_region", String(32)),
    # The unique ids of the users and roles the trust policy names, when it was written (JSON
    # {arn: id}): a principal deleted and re-created under the same name is not trusted again.
    Column("trust_principal_ids", Text),
    UniqueConstraint("account_id", "name_key", name="uq_roles_account_name"),
)

# Tags of users, roles, managed policies, OIDC/SAML providers, MFA devices. Keys are unique per
# entity case-insensitively (key_lower), as AWS compares them.
tags = Table(
    "tags",
    metadata,
    Column("entity_type", String(16), primary_key=True),  # user | role | policy | oidc | saml | mfa
    Column("entity_id", String(2048), primary_key=True),  # user_id / role_id / policy_id / provider ARN / serial
    Column("key_lower", String(128), primary_key=True),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
)

inline_policies = Table(
    "inline_policies",
    metadata,
    Column("owner_type", String(8), primary_key=True),  # user | role | group
    Column("owner_id", String(32), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("document", Text, nullable=False),
)

managed_policies = Table(
    "managed_policies",
    metadata,
    Column("policy_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("description", String(1000)),
    Column("default_version_id", String(16), nullable=False),
    Column("next_version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "name_key", name="uq_managed_policies_account_name"),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("policy_id", String(32), ForeignKey("managed_policies.policy_id", ondelete="CASCADE"), primary_key=True),
    Column("version_id", String(16), primary_key=True),  # v1, v2, ...
    Column("document", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

policy_attachments = Table(
    "policy_attachments",
    metadata,
    Column("policy_id", String(32), ForeignKey("managed_policies.policy_id"), primary_key=True),
    Column("entity_type", String(8), primary_key=True),  # user | role | group
    Column("entity_id", String(32), primary_key=True),
)

mfa_devices = Table(
    "mfa_devices",
    metadata,
    Column("serial_number", String(2048), primary_key=True),  # arn:aws:iam::ACCT:mfa/PATH/NAME
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("seed_sealed", LargeBinary, nullable=False),  # sealed base32 seed (purpose totp-seed)
    Column("user_id", String(32), ForeignKey("users.user_id")),  # NULL until enabled
    Column("enabled_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    # The newest TOTP time step accepted: a code (and any older one) is accepted once only.
    Column("last_used_step", Integer),
)

oidc_providers = Table(
    "oidc_providers",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("url", String(255), nullable=False),  # as given, with https://
    Column("client_ids", Text, nullable=False),  # JSON list
    Column("thumbprints", Text, nullable=False),  # JSON list
    Column("created_at", UtcDateTime, nullable=False),
)

saml_providers = Table(
    "saml_providers",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("metadata_document", Text, nullable=False),
    Column("valid_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
)

# One-time-use facts shared by every node: SAML assertion ids, kept until they expire.
replay_cache = Table(
    "replay_cache",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("item", String(512), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# Failed authentication and MFA attempts per subject (an address, a key id from an address, an MFA
# device), shared by every node: brute_force.py. Times are epoch seconds.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("subject", String(320), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", Float, nullable=False, index=True),
    Column("blocked_until", Float, nullable=False),
)

# --- The audit trail (opensts/audit, store/audit.py) ---------------------------------------------
# One row per recorded event. ``seq`` numbers each account's events 1, 2, 3...; ``chain_hash``
# commits to the event's record and to the previous event's hash (store/audit_chain.py).
audit_events = Table(
    "audit_events",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_time", UtcDateTime, nullable=False),
    Column("event_source", String(64), nullable=False),
    Column("event_name", String(128), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("username", String(512)),
    Column("access_key_id", String(128)),
    Column("error_code", String(128)),
    Column("record", Text, nullable=False),  # the CloudTrail record, JSON
    Column("chain_hash", String(64), nullable=False),
)
Index("ix_audit_events_account_time", audit_events.c.account_id, audit_events.c.event_time)
# LookupEvents by these attributes reads only the matching events (newest first), never the account's
# whole window: an index each (EventId has its unique one; EventSource and ReadOnly match many).
Index("ix_audit_events_name", audit_events.c.account_id, audit_events.c.event_name, audit_events.c.seq)
Index("ix_audit_events_username", audit_events.c.account_id, audit_events.c.username, audit_events.c.seq)
Index("ix_audit_events_key", audit_events.c.account_id, audit_events.c.access_key_id, audit_events.c.seq)

# The resources an event names (LookupEvents' ResourceType/ResourceName attributes).
audit_resources = Table(
    "audit_resources",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("resource_type", String(64), nullable=False),
    Column("resource_name", String(2048), nullable=False),
)
Index("ix_audit_resources_name", audit_resources.c.account_id, audit_resources.c.resource_name)

# Each account's chain: the newest event's seq and hash, and where retention cut the chain off.
audit_chain_heads = Table(
    "audit_chain_heads",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    # Retention removed events 1..pruned_seq; the first kept event links to pruned_hash.
    Column("pruned_seq", Integer, nullable=False, default=0),
    Column("pruned_hash", String(64), nullable=False),
)

# Signed statements "account A's chain had reached seq N with hash H at time T" (audit/verify.py).
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("chain_hash", String(64), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("signature", String(128), nullable=False),
)

# --- Outbound identity federation (migration 0007) ------------------------------------------------
# Per account: whether GetWebIdentityToken may be called, and the opaque id of its issuer URL
# (``<public-url>/oidc/<issuer_id>``), kept across disable and enable so that the URL never changes.
outbound_federation = Table(
    "outbound_federation",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("issuer_id", String(32), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("enabled_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime),
)

# The deployment's JWT signing keys (tokens/jwt_keys.py): private keys sealed, public JWKs in clear.
jwt_signing_keys = Table(
    "jwt_signing_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("algorithm", String(8), nullable=False),
    Column("key_sealed", LargeBinary, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("not_after", UtcDateTime),
)

# --- IAM instance profiles (migration 0008) -------------------------------------------------------
# Names are unique per account case-insensitively, as for roles. Tags live in ``tags`` under
# entity type ``instance_profile``.
instance_profiles = Table(
    "instance_profiles",
    metadata,
    Column("instance_profile_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "name_key", name="uq_instance_profiles_account_name"),
)

# The role of each instance profile. The profile id alone is the key: AWS allows one role per
# profile, and the key keeps two concurrent AddRoleToInstanceProfile calls from both succeeding.
# No cascade from roles: DeleteRole refuses while a role is in a profile (DeleteConflict).
instance_profile_roles = Table(
    "instance_profile_roles",
    metadata,
    Column(
        "instance_profile_id", String(32), ForeignKey("instance_profiles.instance_profile_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role_id", String(32), ForeignKey("roles.role_id"), nullable=False, index=True),
)

# --- Passwords and account settings (migration 0009) ----------------------------------------------
# An IAM user's console password (its "login profile"): only an argon2id hash (store/iam_passwords.py),
# never sealed or returned. ``password_changed_at`` is when the current password was set (the
# account's MaxPasswordAge counts from it).
login_profiles = Table(
    "login_profiles",
    metadata,
    Column("user_id", String(32), ForeignKey("users.user_id"), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("password_reset_required", Boolean, nullable=False),
    Column("max_signin_session_duration", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("password_changed_at", UtcDateTime, nullable=False),
    Column("password_last_used", UtcDateTime),
)

# The hashes of a user's recent passwords, the current one included (PasswordReusePrevention: at most
# 24), kept while the user exists — also across DeleteLoginProfile — and dropped with the user.
password_history = Table(
    "password_history",
    metadata,
    Column("user_id", String(32), ForeignKey("users.user_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
)

# The account password policy (UpdateAccountPasswordPolicy); no row: none set (AWS's default rules).
# Optional members are NULL when not given (they are then left out of GetAccountPasswordPolicy).
account_password_policies = Table(
    "account_password_policies",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("minimum_password_length", Integer, nullable=False),
    Column("require_symbols", Boolean, nullable=False),
    Column("require_numbers", Boolean, nullable=False),
    Column("require_uppercase_characters", Boolean, nullable=False),
    Column("require_lowercase_characters", Boolean, nullable=False),
    Column("allow_users_to_change_password", Boolean, nullable=False),
    Column("max_password_age", Integer),
    Column("password_reuse_prevention", Integer),
    Column("hard_expiry", Boolean),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Account aliases: one per account, unique across every account of the deployment.
account_aliases = Table(
    "account_aliases",
    metadata,
    Column("alias", String(63), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# Per-account settings with no table of their own: SetSecurityTokenServicePreferences.
account_settings = Table(
    "account_settings",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("global_endpoint_token_version", String(16)),
    Column("updated_at", UtcDateTime, nullable=False),
)

# --- User credentials and server certificates (migration 0010) -------------------------------------
# SSH public keys of IAM users (UploadSSHPublicKey): public material only. ``fingerprint`` is the
# MD5 of the key's SSH wire form, colon hex (as AWS answers it); a user holds each key once.
ssh_public_keys = Table(
    "ssh_public_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.user_id"), nullable=False, index=True),
    Column("body", Text, nullable=False),  # as uploaded (ssh-rsa or PEM)
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    UniqueConstraint("user_id", "fingerprint", name="uq_ssh_public_keys_user_fingerprint"),
)

# X.509 signing certificates of IAM users, or of the account root (NULL user_id). ``fingerprint``:
# SHA-256 of the DER certificate, unique per account (AWS's DuplicateCertificate).
signing_certificates = Table(
    "signing_certificates",
    metadata,
    Column("certificate_id", String(128), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.user_id"), index=True),
    Column("body", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "fingerprint", name="uq_signing_certificates_account_fingerprint"),
)

# Server certificates: the certificate and chain in clear, the private key sealed under the master
# key (purpose ``server-certificate-key``) and never answered. Names unique per account,
# case-insensitively. Tags in ``tags`` under entity type ``server-cert``.
server_certificates = Table(
    "server_certificates",
    metadata,
    Column("certificate_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("name_key", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("body", Text, nullable=False),
    Column("chain", Text),
    Column("key_sealed", LargeBinary, nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    UniqueConstraint("account_id", "name_key", name="uq_server_certificates_account_name"),
)

# Service-specific credentials (CodeCommit and Keyspaces passwords, Bedrock and CloudWatch Logs API
# keys). The password or secret is stored only as a scrypt hash (``scrypt$N$r$p$salt$hash``), never
# sealed: it is answered once, by Create or Reset, and can only be checked, never read back.
service_specific_credentials = Table(
    "service_specific_credentials",
    metadata,
    Column("credential_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.user_id"), nullable=False, index=True),
    Column("service_name", String(128), nullable=False),
    Column("service_user_name", String(200), nullable=False),  # or the API key's alias
    Column("secret_hash", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
)

# --- IAM reports (issue 17: credential report, service last accessed; migration 0011) ------------
# One credential report per account (store/iam_report_jobs.py): INPROGRESS while a node generates it
# (``started_at`` tells an abandoned generation from a live one), COMPLETE with the CSV afterwards.
credential_reports = Table(
    "credential_reports",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("state", String(16), nullable=False),  # INPROGRESS | COMPLETE
    Column("started_at", UtcDateTime, nullable=False),
    Column("generated_at", UtcDateTime),  # the report's GeneratedTime (None until the first completes)
    Column("content", LargeBinary),  # the CSV, UTF-8
)

# GenerateServiceLastAccessedDetails jobs: the parameters and the computed report (JSON), kept 30 days.
service_access_jobs = Table(
    "service_access_jobs",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("granularity", String(16), nullable=False),  # SERVICE_LEVEL | ACTION_LEVEL
    Column("created_by", String(2048), nullable=False),  # the caller's ARN: only it may read the job
    Column("created_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime, nullable=False),
    Column("result", Text, nullable=False),
)
Index("ix_service_access_jobs_account_created", service_access_jobs.c.account_id, service_access_jobs.c.created_at)

# --- Service-linked roles and OIDC provider configuration (migration 0012) --------------------------
# DeleteServiceLinkedRole's deletion tasks, so that GetServiceLinkedRoleDeletionStatus can answer for
# them (iam/service_linked_roles.py). The task id is AWS's
# ``task/aws-service-role/SERVICE/ROLE/UUID``; rows are kept (one per deleted role).
service_linked_role_deletions = Table(
    "service_linked_role_deletions",
    metadata,
    Column("task_id", String(320), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("role_name", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # SUCCEEDED | IN_PROGRESS | FAILED | NOT_STARTED
    Column("reason", Text),  # why a FAILED task failed
    Column("created_at", UtcDateTime, nullable=False),
)

# UpdateOpenIDConnectProvider's attributes (iam/providers.py): the trusted identity propagation
# context provider (JSON, as given) and the associated IAM Identity Center instance ARN.
oidc_providers.append_column(Column("context_provider", Text))
oidc_providers.append_column(Column("identity_center_instance_arn", String(1224)))

# --- AWS managed policies (migration 0013) ---------------------------------------------------------
# The AWS managed policies themselves are shipped read-only data (store/aws_policies.py), not rows;
# this table holds their attachments to the account's users, roles and groups (policy_attachments'
# policy_id can only name the account's own policies). Boundaries are ARNs on users and roles already.
aws_policy_attachments = Table(
    "aws_policy_attachments",
    metadata,
    Column("policy_arn", String(2048), primary_key=True),  # arn:aws:iam::aws:policy/PATH/NAME
    Column("entity_type", String(8), primary_key=True),  # user | role | group
    Column("entity_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
)
Index("ix_aws_policy_attachments_entity", aws_policy_attachments.c.entity_type, aws_policy_attachments.c.entity_id)
Index("ix_aws_policy_attachments_account", aws_policy_attachments.c.account_id, aws_policy_attachments.c.policy_arn)

# The web console (opensts.console): single-use sign-in tokens of the federation endpoint, and
# signed-in console sessions. Both are keyed by the SHA-256 of what the browser holds (the sign-in
# token, the session cookie), never by the value itself; the temporary credentials a session signs
# its calls with are kept as their session token, sealed under the master key.
console_signin_tokens = Table(
    "console_signin_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_token_sealed", LargeBinary, nullable=False),
    Column("session_expires_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("principal_arn", String(2048), nullable=False),
    Column("session_token_sealed", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)
