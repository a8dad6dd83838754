"""The running service's shared parts: settings, store, clock, key ring and caches.

One :class:`Runtime` per process. :func:`open_runtime` performs the first-start work (master key,
migrations, key ring, default account, root credentials) and is idempotent, so the server, its
workers and CLI commands can all call it against the same store. CLI commands other than
``serve`` pass ``create=False``: they open an existing store only. Every refusal (no store, lost
master key, another store's root-credentials file, bad settings) happens before anything is
created.
"""

from __future__ import annotations

import configparser
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from opensts.access.policy_sets import PolicyCache
from opensts.brute_force import BruteForceGuard
from opensts.cache import BoundedCache, Caches
from opensts.clock import Clock
from opensts.config import Settings
from opensts.credentials_cache import CredentialCache
from opensts.identity import ids
from opensts.store import AccountExists, Store
from opensts.store.errors import AccountNameExists
from opensts.tokens.jwt_keys import (
    ALGORITHMS as JWT_ALGORITHMS,
    JwtKeyRecord,
    JwtSigner,
    jwt_rotation_due,
    missing_jwt_key_records,
    rotate_jwt_key_records,
)
from opensts.tokens.keyring import KeyRecord, KeyRing, initial_key_records, rotate_key_records, rotation_due
from opensts.store.probe import StoreState, probe_store
from opensts.tokens.master_key import MasterKey, load_master_key, load_or_create_master_key
from opensts.tokens.private_file import create_private_file

if TYPE_CHECKING:
    from opensts.federation.oidc import JwksCache
    from opensts.store.outbound_federation import OutboundFederation

log = logging.getLogger("opensts")
T = TypeVar("T")

ROOT_CREDENTIALS_FILE = "root-credentials"
KEYRING_REFRESH_SECONDS = 30.0


class BootstrapError(Exception):
    """First-start configuration that cannot be honoured (bad account id, bad root key id...)."""


class StoreMissing(BootstrapError):
    """A command that only opens an existing store found none."""


@dataclass
class Runtime:
    settings: Settings
    store: Store
    master_key: MasterKey = field(repr=False)
    clock: Clock
    default_account_id: str
    # Every cache of the process (opensts.cache.Caches); the two below are views over some of them.
    caches: Caches = field(repr=False)
    credentials: CredentialCache = field(repr=False)
    # Failed authentication and MFA attempts, counted across nodes (brute_force.py).
    guard: BruteForceGuard = field(repr=False)
    _keyring: KeyRing = field(repr=False)
    # The store's IAM change counter as this process last saw it (see _after_iam_write).
    iam_version: int = 0
    policies: PolicyCache = field(init=False, repr=False)
    _keyring_loaded_at: float = 0.0
    _keyring_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _iam_version_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _jwks: "JwksCache | None" = field(default=None, repr=False)
    _jwks_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Unsealed JWT signing keys (GetWebIdentityToken), opened on first use of each.
    _jwt_signer: JwtSigner | None = field(default=None, repr=False)
    # The JWT signing key records as last read: (clock time read, records); see jwt_keys().
    _jwt_keys: "tuple[float, list[JwtKeyRecord]] | None" = field(default=None, repr=False)

    def iam_cached(self, cache: BoundedCache[Any, Any], key: Any, load: Callable[[], T]) -> T:
        """``load()`` (blocking: it reads IAM data), remembered in ``cache`` under ``key`` until the
        next IAM change: the entry is stamped with the IAM version it was read under, and a value
        read before a ``clear()`` (an IAM change as it commits) is not kept (the generation)."""
        version = self.iam_version
        entry = cache.get(key)
        if entry is not None and entry[0] == version:
            return entry[1]
        generation = cache.generation
        value = load()
        cache.put(key, (version, value), generation)
        return value

    @property
    def keyring(self) -> KeyRing:
        """The current key ring (no I/O). The server reloads it every KEYRING_REFRESH_SECONDS."""
        return self._keyring

    def reload_keyring(self) -> KeyRing:
        """Read the key ring from the store (blocking): sees other nodes' rotations."""
        with self._keyring_lock:
            self._keyring = keyring_from_store(self.store, self.master_key)
            self._keyring_loaded_at = time.monotonic()
        return self._keyring

    def reload_keyring_if_stale(self, min_interval: float = 1.0) -> KeyRing:
        """Reload unless that happened in the last ``min_interval`` seconds (unknown key ids can be a flood)."""
        if time.monotonic() - self._keyring_loaded_at >= min_interval:
            return self.reload_keyring()
        return self._keyring

    @property
    def jwks(self) -> "JwksCache":
        """The process's OIDC signing keys per issuer (fetched, kept for their HTTP lifetime; not
        IAM data). Built on first use: the OIDC module is a heavy import CLI commands never need."""
        jwks = self._jwks
        if jwks is None:
            from opensts.federation.oidc import JwksCache, log_fetch_error

            with self._jwks_lock:
                if self._jwks is None:
                    self._jwks = JwksCache(on_error=log_fetch_error)
                jwks = self._jwks
        return jwks

    @property
    def jwt_signer(self) -> JwtSigner:
        signer = self._jwt_signer
        if signer is None:
            signer = self._jwt_signer = JwtSigner(self.master_key)
        return signer

    def __post_init__(self) -> None:
        self.policies = PolicyCache(self, self.caches)
        self.store.iam_writes.on_commit(self._after_iam_write)

    def _after_iam_write(self) -> None:
        """Every IAM write drops this process's caches as it commits; other processes' go on their next
        poll. The store's counter moved in the write's own transaction (store.meta.CountedWrites), so a
        process that dies before getting here leaves no other node's caches stale."""
        self.refresh_iam_version(force=True)

    def refresh_iam_version(self, force: bool = False) -> None:
        """Read the store's IAM change counter (blocking); on a change, drop every cache of IAM data
        (credentials, callers, policies, providers...: ``Caches.drop_iam_data``)."""
        version = self.store.meta.version("iam")
        with self._iam_version_lock:
            # The counter only grows: a poll that read it before this process's own write committed
            # must not move the version back (entries stamped with the older one would be served).
            if version < self.iam_version:
                return
            if force or version != self.iam_version:
                self.iam_version = version
                self.caches.drop_iam_data()

    def close(self) -> None:
        self.store.close()


def open_runtime(settings: Settings, *, bootstrap: bool = True, create: bool = True) -> Runtime:
    """Open the store of ``settings``; with ``create``, make it on first start (``opensts serve``).

    Every check that can refuse runs before anything is written (no directory, file, database or
    key is created by a refused start):

    - without ``create`` (every CLI command but ``serve``) there must already be an initialised
      store: a typo'd ``--data-dir`` must not start a second deployment (:class:`StoreMissing`);
    - a store that holds sealed data needs its master key: a missing key is reported, never
      replaced by a new one (``MasterKeyMissing``);
    - ``DATA_DIR/root-credentials`` is never overwritten: when this store would have to write
      it and the file already exists, the start is refused (another store's root secret).
    """
    url = settings.resolved_database_url
    if bootstrap and create:
        check_bootstrap_settings(settings)
    state = probe_store(url)
    if not create and not state.initialised:
        raise StoreMissing(
            f"no OpenSTS store at {describe_store(settings)} "
            "(start `opensts serve` first, or pass --data-dir/--database-url)"
        )
    if state.holds_sealed_data or not create:
        master_key = load_master_key(settings.data_dir, settings.master_key)
    else:
        master_key = None
    if bootstrap and create:
        check_root_credentials_file(settings, state, reprobe=lambda: probe_store(url))
    if create:
        # The data dir holds the master key and the database: private to the service's user.
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if master_key is None:
        master_key = load_or_create_master_key(settings.data_dir, settings.master_key)
    store = Store(url, master_key)
    try:
        if bootstrap and create:
            ensure_keyring(store, master_key)
            account_id = ensure_default_account(store, settings)
            ensure_root_credentials(store, settings, account_id)
        else:
            account_id = store.meta.get("default_account_id") or ""
        caches = Caches()
        return Runtime(
            settings=settings,
            store=store,
            master_key=master_key,
            clock=Clock(settings.test_clock_file),
            default_account_id=account_id,
            caches=caches,
            credentials=CredentialCache(store, caches.credentials),
            guard=BruteForceGuard(
                store.auth_failures if settings.brute_force == "on" else None,
                settings.brute_force_max_delay,
                settings.brute_force_exempt,
            ),
            _keyring=keyring_from_store(store, master_key),
            _keyring_loaded_at=time.monotonic(),
            iam_version=store.meta.version("iam"),
        )
    except BaseException:
        store.close()
        raise


def describe_store(settings: Settings) -> str:
    """Where the store is, for messages: the data dir for its default SQLite file, else the URL (no password)."""
    if not settings.database_url:
        return str(settings.data_dir)
    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "(unparseable database URL)"


def keyring_from_store(store: Store, master_key: MasterKey) -> KeyRing:
    return KeyRing.from_records(store.signing_keys.load(), master_key)


def ensure_keyring(store: Store, master_key: MasterKey) -> None:
    if not store.signing_keys.load():
        store.signing_keys.save(initial_key_records(master_key, int(time.time())), only_if_empty=True)


def rotate_keyring(runtime: "Runtime", *, only_if_due: bool = False) -> str | None:
    """Make a new key active; old keys keep verifying until every session they sealed has expired.

    The read and the write are one locked transaction, so concurrent rotations (several workers or
    nodes) happen one after the other. ``only_if_due``: rotate only if the active key is older than
    30 days, judged under the lock. Returns the new active key id, or None when nothing was due.
    """
    now = int(time.time())

    def compute(current: list[KeyRecord]) -> list[KeyRecord] | None:
        if only_if_due and not rotation_due(current, now):
            return None
        return list(rotate_key_records(current, runtime.master_key, now))

    if not runtime.store.signing_keys.change(compute):
        return None
    return runtime.reload_keyring().active_key_id


def rotate_keyring_if_due(runtime: "Runtime") -> str | None:
    """Rotate when the active key is older than 30 days (servers check hourly); the new key id, or None."""
    key_id = rotate_keyring(runtime, only_if_due=True)
    if key_id is not None:
        log.info("rotated the session-token signing key (new key %s)", key_id)
    jwt_ids = rotate_jwt_keys(runtime, only_if_due=True)
    if jwt_ids is not None:
        log.info("rotated the JWT signing keys (new keys %s)", ", ".join(f"{a} {k}" for a, k in sorted(jwt_ids.items())))
    return key_id


JWT_KEYS_REFRESH_SECONDS = 30.0


def jwt_keys(runtime: "Runtime") -> list[JwtKeyRecord]:
    """The JWT signing keys, created on first need (one transaction across nodes), read again at
    most every JWT_KEYS_REFRESH_SECONDS (blocking when it reads). Safe to keep that long: a new key
    is published PUBLISH_AHEAD (10 minutes) before any node signs with it, and a retired one stays
    published until every token it signed has expired (tokens/jwt_keys.py), so a node with a set 30 s
    old still signs with a published key and publishes every key in use."""
    cached = runtime._jwt_keys
    now = runtime.clock.timestamp()  # the server's clock, which tests may move
    if cached is not None and 0 <= now - cached[0] < JWT_KEYS_REFRESH_SECONDS:
        return cached[1]
    records = runtime.store.jwt_signing_keys.load()
    if not {r.algorithm for r in records if r.active} >= set(JWT_ALGORITHMS):
        records = runtime.store.jwt_signing_keys.change(
            lambda current: missing_jwt_key_records(current, runtime.master_key, int(runtime.clock.timestamp()))
        )
    runtime._jwt_keys = (now, records)
    return records


def outbound_federation(runtime: "Runtime", *, account_id: str | None = None,
                        issuer_id: str | None = None) -> "OutboundFederation | None":
    """An account's outbound identity federation state, by account or by issuer id; kept until the
    next IAM change (enabling and disabling are IAM writes: ``runtime.caches.outbound_federation``)."""
    repository = runtime.store.outbound_federation
    if issuer_id is not None:
        return runtime.iam_cached(runtime.caches.outbound_federation, ("issuer", issuer_id),
                                  lambda: repository.by_issuer(issuer_id))
    account = account_id or ""
    return runtime.iam_cached(runtime.caches.outbound_federation, ("account", account), lambda: repository.get(account))


def rotate_jwt_keys(runtime: "Runtime", *, only_if_due: bool = False) -> dict[str, str] | None:
    """New RS256 and ES384 keys; the old ones stay published until every token they signed has
    expired. Only once keys exist (the feature was used). Returns the new kid per algorithm, or None."""
    now = int(runtime.clock.timestamp())
    made: dict[str, str] = {}

    def compute(current: list[JwtKeyRecord]) -> list[JwtKeyRecord] | None:
        made.clear()
        if not current or (only_if_due and not jwt_rotation_due(current, now)):
            return None
        rotated = rotate_jwt_key_records(current, runtime.master_key, now)
        made.update({r.algorithm: r.key_id for r in rotated if r.active})
        return list(rotated)

    runtime.store.jwt_signing_keys.change(compute)
    return dict(made) or None


def check_bootstrap_settings(settings: Settings) -> None:
    """Refuse a first-start configuration that cannot be honoured, before anything is created."""
    if settings.account_id is not None and not ids.is_account_id(settings.account_id):
        raise BootstrapError(f"OPENSTS_ACCOUNT_ID must be 12 digits, got {settings.account_id!r}")
    given_id, given_secret = settings.root_access_key_id, settings.root_secret_access_key
    if bool(given_id) != bool(given_secret):
        raise BootstrapError("set both OPENSTS_ROOT_ACCESS_KEY_ID and OPENSTS_ROOT_SECRET_ACCESS_KEY, or neither")
    if given_id and not valid_root_key_id(given_id):
        raise BootstrapError(ROOT_KEY_ID_HELP)


def ensure_default_account(store: Store, settings: Settings) -> str:
    check_bootstrap_settings(settings)
    wanted = settings.account_id
    try:
        account_id = store.meta.set_if_absent("default_account_id", wanted or ids.new_account_id())
    except IntegrityError:  # PostgreSQL: a concurrent first start inserted it between our read and write
        account_id = store.meta.get("default_account_id") or ""
        if not account_id:
            raise
    if wanted is not None and wanted != account_id:
        log.warning("OPENSTS_ACCOUNT_ID=%s ignored: this store's default account is %s", wanted, account_id)
    if store.accounts.get(account_id) is None:
        try:
            store.accounts.create(account_id, "default")
        except AccountExists:
            pass  # another process created it first
        except AccountNameExists:
            raise BootstrapError(
                f"cannot create the default account {account_id}: another account is already named 'default'"
            ) from None
    return account_id


ROOT_KEY_ID_HELP = (
    "OPENSTS_ROOT_ACCESS_KEY_ID must be 16 to 128 characters of A-Z and 0-9; an AKIA id that encodes the "
    "account (as `opensts account create` makes) lets GetAccessKeyInfo answer without a lookup"
)


def valid_root_key_id(key_id: str) -> bool:
    return 16 <= len(key_id) <= 128 and key_id.isascii() and key_id.isalnum() and key_id.upper() == key_id


def ensure_root_credentials(store: Store, settings: Settings, account_id: str) -> None:
    check_bootstrap_settings(settings)
    given_id, given_secret = settings.root_access_key_id, settings.root_secret_access_key
    if given_id and given_secret:
        existing = store.access_keys.get(given_id)
        if existing is None:
            store.access_keys.create(given_id, given_secret, account_id)
        elif existing.account_id != account_id or not existing.is_root:
            raise BootstrapError(f"access key {given_id} already belongs to another identity")
        elif existing.secret_access_key != given_secret:
            store.access_keys.replace_secret(given_id, given_secret)
        return
    path = settings.data_dir / ROOT_CREDENTIALS_FILE
    if store.access_keys.root_key_ids(account_id):
        if path.exists():
            log.debug("Root credentials for account %s are in %s", account_id, path.resolve())
        return
    # The file first, created exclusively: a secret only in the store would be lost, and an
    # existing file (another store's root secret) is never replaced.
    key_id = ids.new_long_term_access_key_id(account_id)
    secret = ids.new_secret_access_key()
    if not write_credentials_file(path, key_id, secret):
        other = read_credentials_key_id(path)
        if other is not None and ids.account_from_access_key_id(other) == account_id:
            return  # a concurrent first start of this store wrote it and creates that key
        raise BootstrapError(root_credentials_conflict(path))
    store.access_keys.create(key_id, secret, account_id)
    log.info("Root credentials for account %s written to %s", account_id, path.resolve())


def root_credentials_conflict(path: Path) -> str:
    return (
        f"{path} already exists and holds no root key of this store (another deployment's root "
        "credentials?); refusing to overwrite it: use another --data-dir, or move the file away"
    )


def check_root_credentials_file(settings: Settings, state: StoreState, reprobe: Callable[[], StoreState]) -> None:
    """Refuse a start that would have to write DATA_DIR/root-credentials over an existing file.

    The file is written when the default account has no root key yet (a new store, or an
    interrupted first start) and no root key is configured by environment. Checked before anything
    is created, from the probe of the store. A file that names a root key of the store's default
    account was written by a concurrent first start of this same store (another node sharing the
    data directory): that start sets the default account before it writes the file, so ``reprobe``
    (a fresh look at the store, taken once the file is seen) tells it from another store's file.
    """
    if settings.root_access_key_id and settings.root_secret_access_key:
        return
    if state.initialised and state.root_key_ids:
        return  # nothing to write
    path = settings.data_dir / ROOT_CREDENTIALS_FILE
    if not (path.exists() or path.is_symlink()):
        return
    fresh = reprobe()
    if fresh.initialised and fresh.root_key_ids:
        return  # the concurrent start finished: nothing to write
    key_id = read_credentials_key_id(path)
    if fresh.default_account_id and key_id and ids.account_from_access_key_id(key_id) == fresh.default_account_id:
        return  # ensure_root_credentials then leaves the file as it is
    raise BootstrapError(root_credentials_conflict(path))


def read_credentials_key_id(path: Path) -> str | None:
    """The ``aws_access_key_id`` of a credentials file's [default] profile; None if unreadable."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace")[:65536])
        return parser.get("default", "aws_access_key_id", fallback=None)
    except (OSError, configparser.Error):
        return None


def write_credentials_file(path: Path, access_key_id: str, secret_access_key: str) -> bool:
    """Create ``path`` in AWS credentials-file format, mode 0600, iff it does not exist (never
    replaced). True if this call created it."""
    content = f"[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret_access_key}\n"
    return create_private_file(path, content.encode())
