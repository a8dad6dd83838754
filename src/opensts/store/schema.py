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
