"""Cryptographic layer of OpenSTS: master key and sealing, key ring and rotation, session tokens,
authorization messages. Pure: no database, no HTTP, nothing else from ``opensts`` imported.

Safe API (this package) over a hazardous one (``opensts.tokens.hazmat``: raw AEAD and HKDF).
Formats and threat model: ``docs/SESSION-TOKENS.md``.
"""

from .authorization_message import decode_authorization_message, encode_authorization_message
from .errors import AuthorizationMessageInvalid, InvalidSessionToken, KeyRingError, SealError, TokenError
from .keyring import (
    MAX_SESSION_LIFETIME,
    KeyRecord,
    KeyRing,
    SigningKey,
    initial_key_records,
    new_key_record,
    prune_key_records,
    rotate_key_records,
    rotation_due,
)
from .master_key import (
    PURPOSE_ACCESS_KEY_SECRET,
    PURPOSE_SIGNING_KEY,
    PURPOSE_TOTP_SEED,
    MasterKey,
    MasterKeyMissing,
    load_master_key,
    load_or_create_master_key,
)
from .session_token import (
    KINDS,
    PACKED_POLICY_BUDGET,
    SessionClaims,
    decode_session_token,
    encode_session_token,
    packed_policy_size_percent,
)

__all__ = [
    "TokenError", "SealError", "KeyRingError", "InvalidSessionToken", "AuthorizationMessageInvalid",
    "MasterKey", "MasterKeyMissing", "load_master_key", "load_or_create_master_key",
    "PURPOSE_ACCESS_KEY_SECRET", "PURPOSE_TOTP_SEED", "PURPOSE_SIGNING_KEY",
    "KeyRing", "SigningKey", "KeyRecord", "MAX_SESSION_LIFETIME",
    "initial_key_records", "new_key_record", "rotate_key_records", "prune_key_records", "rotation_due",
    "SessionClaims", "KINDS", "encode_session_token", "decode_session_token",
    "packed_policy_size_percent", "PACKED_POLICY_BUDGET",
    "encode_authorization_message", "decode_authorization_message",
]
