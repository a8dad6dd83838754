"""The running service's shared parts: settings, store, clock, key ring and caches.

One :class:`Runtime` per process. :func:`open_runtime` performs the first-start work (master key,
migrations, key ring, default account, root credentials) and is idempotent, so the server, its
workers and CLI commands can all call it against the same store.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from opensts.clock import Clock
from opensts.config import Settings
from opensts.credentials_cache import CredentialCache
from opensts.identity import ids
from opensts.store import AccountExists, Store
from opensts.tokens.keyring import KeyRecord, KeyRing, initial_key_records, rotate_key_records, rotation_due
from opensts.tokens.master_key import MasterKey, load_or_create_master_key

if TYPE_CHECKING:
    from opensts.access.policy_sets import PolicyCache

log = logging.getLogger("opensts")

ROOT_CREDENTIALS_FILE = "root-credentials"
KEYRING_REFRESH_SECONDS = 30.0


class BootstrapError(Exception):
    """First-start configuration that cannot be honoured (bad account id, bad root key id...)."""


@dataclass
class Runtime:
    settings: Settings
    store: Store
    master_key: MasterKey = field(repr=False)
    clock: Clock
    default_account_id: str
    credentials: CredentialCache
    _keyring: KeyRing = field(repr=False)
    # The store's IAM change counter as this process last saw it (see bump_iam_version).
    iam_version: int = 0
    policies: "PolicyCache" = field(init=False, repr=False)
    _keyring_loaded_at: float = 0.0
    _keyring_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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

    def __post_init__(self) -> None:
        from opensts.access.policy_sets import PolicyCache

        self.policies = PolicyCache(self)

    def bump_iam_version(self) -> None:
        """Call after every IAM write: drops this process's caches now, other processes' on their next poll.

        The store's counter itself moved in the write's own transaction (store.meta.CountedWrites),
        so a process that dies before getting here leaves no other node's caches stale.
        """
        self.refresh_iam_version(force=True)

    def refresh_iam_version(self, force: bool = False) -> None:
        """Read the store's IAM change counter (blocking); on a change, drop cached credentials and policies."""
        version = self.store.meta.version("iam")
        if force or version != self.iam_version:
            self.iam_version = version
            self.credentials.invalidate()
            self.policies.clear()

    def close(self) -> None:
        self.store.close()


def open_runtime(settings: Settings, *, bootstrap: bool = True) -> Runtime:
    # The data dir holds the master key and the database: private to the service's user.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    master_key = load_or_create_master_key(settings.data_dir, settings.master_key)
    store = Store(settings.resolved_database_url, master_key)
    if bootstrap:
        ensure_keyring(store, master_key)
    account_id = ensure_default_account(store, settings) if bootstrap else (store.meta.get("default_account_id") or "")
    if bootstrap:
        ensure_root_credentials(store, settings, account_id)
    runtime = Runtime(
        settings=settings,
        store=store,
        master_key=master_key,
        clock=Clock.from_env(),
        default_account_id=account_id,
        credentials=CredentialCache(store),
        _keyring=keyring_from_store(store, master_key),
        _keyring_loaded_at=time.monotonic(),
        iam_version=store.meta.version("iam"),
    )
    return runtime


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
    return key_id


def ensure_default_account(store: Store, settings: Settings) -> str:
    wanted = settings.account_id
    if wanted is not None and not ids.is_account_id(wanted):
        raise BootstrapError(f"OPENSTS_ACCOUNT_ID must be 12 digits, got {wanted!r}")
    account_id = store.meta.set_if_absent("default_account_id", wanted or ids.new_account_id())
    if wanted is not None and wanted != account_id:
        log.warning("OPENSTS_ACCOUNT_ID=%s ignored: this store's default account is %s", wanted, account_id)
    if store.accounts.get(account_id) is None:
        try:
            store.accounts.create(account_id, "default")
        except AccountExists:
            pass  # another process created it first
    return account_id


ROOT_KEY_ID_HELP = (
    "OPENSTS_ROOT_ACCESS_KEY_ID must be 16 to 128 characters of A-Z and 0-9; an AKIA id that encodes the "
    "account (as `opensts account create` makes) lets GetAccessKeyInfo answer without a lookup"
)


def valid_root_key_id(key_id: str) -> bool:
    return 16 <= len(key_id) <= 128 and key_id.isascii() and key_id.isalnum() and key_id.upper() == key_id


def ensure_root_credentials(store: Store, settings: Settings, account_id: str) -> None:
    given_id, given_secret = settings.root_access_key_id, settings.root_secret_access_key
    if bool(given_id) != bool(given_secret):
        raise BootstrapError("set both OPENSTS_ROOT_ACCESS_KEY_ID and OPENSTS_ROOT_SECRET_ACCESS_KEY, or neither")
    if given_id and given_secret:
        if not valid_root_key_id(given_id):
            raise BootstrapError(ROOT_KEY_ID_HELP)
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
    key_id = ids.new_long_term_access_key_id(account_id)
    secret = ids.new_secret_access_key()
    write_credentials_file(path, key_id, secret)
    store.access_keys.create(key_id, secret, account_id)
    log.info("Root credentials for account %s written to %s", account_id, path.resolve())


def write_credentials_file(path: Path, access_key_id: str, secret_access_key: str) -> None:
    """AWS credentials-file format, created with mode 0600 (never readable by others, even briefly)."""
    content = f"[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret_access_key}\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
