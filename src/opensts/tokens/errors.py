"""Exceptions of the token layer.

They carry no AWS error code on purpose: ``opensts.tokens`` is pure and imports nothing else from
OpenSTS. The STS/server layer maps them to AWS errors (for example ``InvalidSessionToken`` to
``InvalidClientTokenId`` and ``AuthorizationMessageInvalid`` to ``opensts.errors.InvalidAuthorizationMessage``,
code ``InvalidAuthorizationMessageException``).

Messages never contain key material, secrets or token contents.
"""

from __future__ import annotations


class TokenError(Exception):
    """Base class of every error raised by ``opensts.tokens``."""


class SealError(TokenError):
    """A sealed blob does not open: wrong master key, wrong purpose, tampered, truncated or unknown format."""


class KeyRingError(TokenError):
    """The key-ring records are inconsistent (no active key, bad key id, duplicate ids...)."""


class _DecodeError(TokenError):
    """Common shape of the codec errors: a machine-readable ``reason`` and, when known, the ``key_id``."""

    #: reasons, stable strings for logs and metrics
    MALFORMED = "malformed"  # not base64, wrong length, bad header
    VERSION = "unsupported-version"  # a format version this code does not know
    UNKNOWN_KEY = "unknown-key"  # key id not in the key ring (foreign, pruned, or ring not reloaded yet)
    AUTHENTICATION = "authentication"  # AEAD tag does not verify: tampered, truncated or foreign
    PAYLOAD = "payload"  # authenticated, but the content is not a valid payload of this version

    def __init__(self, reason: str, detail: str = "", *, key_id: str | None = None) -> None:
        self.reason = reason
        self.key_id = key_id
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class InvalidSessionToken(_DecodeError):
    """A session token that is not a valid, authentic token of this deployment.

    ``reason == UNKNOWN_KEY`` may also mean this process's key ring is stale (another node rotated
    keys); the caller may reload the ring once and retry before rejecting the request.
    """


class AuthorizationMessageInvalid(_DecodeError):
    """An encoded authorization message that is not authentic or not well formed (the AWS error
    answered for it is ``opensts.errors.InvalidAuthorizationMessage``)."""
