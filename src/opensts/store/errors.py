"""The exceptions the store's repositories raise, each defined once.

A repository raises one of these when a write cannot be made as asked (a name taken, a quota
reached, something still in the way); nothing is stored then, since the check and the write share
one transaction. The IAM actions turn them into AWS errors; the store knows nothing of those.
(:class:`opensts.store.db.StoreAccessDeferred` is not here: it is control flow, not an error.)
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's refusals."""


# --- accounts -----------------------------------------------------------------------------------
class AccountExists(StoreError):
    """An account with this id exists."""


class AccountNameExists(StoreError):
    """Another account has this name."""


# --- users, groups, roles, managed policies --------------------------------------------------------
class NameTaken(StoreError):
    """Another user or group of the account already has this name (compared case-insensitively)."""


class EntityExists(StoreError):
    """A role (or managed policy) of that name already exists in the account."""


class DeleteBlocked(StoreError):
    """The entity still owns something that must be removed first; ``args[0]`` says what:
    ``login_profile``, ``access_keys``, ``signing_certificates``, ``ssh_public_keys``,
    ``service_specific_credentials``, ``policies`` (inline), ``attached_policies``, ``mfa_devices`` or
    ``groups``."""

    @property
    def reason(self) -> str:
        return str(self.args[0])


class TooManyTags(StoreError):
    """The entity would have more distinct tag keys than ``limit``."""

    @property
    def limit(self) -> int:
        return int(self.args[0])


class KeyLimitExceeded(StoreError):
    """The owner already has as many access keys as allowed."""


# --- MFA devices --------------------------------------------------------------------------------
class DeviceExists(StoreError):
    """A device with this serial number exists in the account."""


class NoSuchDevice(StoreError):
    """No such device (or, to deactivate, not assigned to that user)."""


class DeviceInUse(StoreError):
    """The device is assigned to a user (enable: to someone already; delete: still enabled)."""


class TooManyDevices(StoreError):
    """The user already has as many MFA devices as allowed."""


class CodeReplayed(StoreError):
    """The TOTP step was already used (another request recorded it first)."""


# --- identity providers ---------------------------------------------------------------------------
class ProviderExists(StoreError):
    """A provider with this URL (OIDC) or name (SAML) already exists in the account."""


class NoSuchProvider(StoreError):
    """No provider with this ARN."""


class TooManyClientIds(StoreError):
    """The OIDC provider would have more client ids (audiences) than allowed."""


# --- outbound identity federation ------------------------------------------------------------------
class FederationAlreadyEnabled(StoreError):
    """The account's outbound identity federation is already on."""


class FederationAlreadyDisabled(StoreError):
    """The account's outbound identity federation is already off (or was never on)."""
