"""The store: SQLAlchemy schema, repositories and migrations. SQLite by default, PostgreSQL to scale."""

from __future__ import annotations

from sqlalchemy import text

from opensts.store.access_keys import AccessKeyRepository
from opensts.store.accounts import AccountExists, AccountRepository
from opensts.store.audit import AuditRepository
from opensts.store.auth_failures import AuthFailureRepository
from opensts.store.console_sessions import ConsoleSessionRepository
from opensts.store.db import Database, create_store_engine
from opensts.store.iam_account_settings import AccountSettingsRepository
from opensts.store.iam_groups import GroupRepository
from opensts.store.iam_instance_profiles import InstanceProfileRepository
from opensts.store.iam_mfa import MfaRepository
from opensts.store.iam_passwords import PasswordRepository
from opensts.store.iam_policies import InlinePolicyRepository, ManagedPolicyRepository
from opensts.store.iam_providers import ProviderRepository
from opensts.store.iam_report_jobs import ReportJobRepository
from opensts.store.iam_reports import AccountReportRepository
from opensts.store.iam_roles import RoleRepository
from opensts.store.iam_server_certificates import ServerCertificateRepository
from opensts.store.iam_service_linked_roles import ServiceLinkedRoleRepository
from opensts.store.iam_user_credentials import UserCredentialRepository
from opensts.store.iam_users import UserRepository
from opensts.store.jwt_signing_keys import JwtSigningKeyRepository
from opensts.store.meta import CountedWrites, MetaRepository
from opensts.store.migrate import schema_revision, upgrade_to_head
from opensts.store.outbound_federation import OutboundFederationRepository
from opensts.store.principal_policies import PrincipalPolicyRepository
from opensts.store.replay import ReplayRepository
from opensts.store.signing_keys import SigningKeyRepository
from opensts.store.usage import UsageRecorder
from opensts.tokens.master_key import MasterKey

__all__ = ["Store", "AccountExists"]


class Store:
    """One database, its repositories, and the master key that seals secrets in it."""

    def __init__(self, url: str, master_key: MasterKey, *, migrate: bool = True) -> None:
        if migrate:
            upgrade_to_head(url)
        self.url = url
        self.engine = create_store_engine(url)
        database = self.database = Database(self.engine)  # reads on connect(), writes on begin()
        # IAM repositories write through this: each write transaction bumps the IAM change counter.
        iam = self.iam_writes = CountedWrites(self.engine)
        self.accounts = AccountRepository(database)
        self.access_keys = AccessKeyRepository(iam, master_key)
        self.signing_keys = SigningKeyRepository(database)
        self.meta = MetaRepository(database)
        self.principal_policies = PrincipalPolicyRepository(database)
        self.reports = AccountReportRepository(database)
        self.report_jobs = ReportJobRepository(database)  # credential report, service last accessed
        self.replay = ReplayRepository(database)
        self.audit = AuditRepository(database)
        self.auth_failures = AuthFailureRepository(database)
        self.console = ConsoleSessionRepository(database, master_key)  # the web console's sessions
        self.mfa = MfaRepository(iam, master_key)
        self.providers = ProviderRepository(iam)
        self.users = UserRepository(iam)
        self.groups = GroupRepository(iam)
        self.access_key_use = UsageRecorder(self.access_keys.record_last_used, "access-key-last-used")
        self.roles = RoleRepository(iam)
        self.role_use = UsageRecorder(self.roles.record_uses, "role-last-used")
        self.instance_profiles = InstanceProfileRepository(iam)
        self.service_linked_roles = ServiceLinkedRoleRepository(iam)
        self.inline_policies = InlinePolicyRepository(iam)
        self.managed_policies = ManagedPolicyRepository(iam)
        self.outbound_federation = OutboundFederationRepository(iam, database)
        self.jwt_signing_keys = JwtSigningKeyRepository(database)
        self.passwords = PasswordRepository(iam)
        self.account_settings = AccountSettingsRepository(iam)
        self.user_credentials = UserCredentialRepository(iam)
        self.server_certificates = ServerCertificateRepository(iam, master_key)

    def ping(self) -> bool:
        try:
            with self.database.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - health checks report, they do not raise
            return False

    def schema_revision(self) -> str | None:
        """The migration the database is at (``migrate.head_revision()`` when current); raises when
        the database cannot be reached."""
        return schema_revision(self.database)

    def close(self) -> None:
        self.audit.close()
        self.engine.dispose()
