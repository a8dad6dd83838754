"""AWS-style errors shared by every layer.

Actions raise these; only the HTTP edge turns them into XML/JSON. Each class carries the AWS error
code, the HTTP status and whether the fault is the sender's or ours, so a raise site only supplies
the message.
"""

from __future__ import annotations


class AwsError(Exception):
    """An error with an AWS error code, an HTTP status and a human message."""

    code: str = "InternalFailure"
    status: int = 500
    sender_fault: bool = True

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def fault_type(self) -> str:
        return "Sender" if self.sender_fault else "Receiver"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


# --- Protocol and validation -------------------------------------------------------------------
class ValidationError(AwsError):
    code, status = "ValidationError", 400


class MissingParameter(AwsError):
    code, status = "MissingParameter", 400


class MissingAction(AwsError):
    code, status = "MissingAction", 400


class InvalidAction(AwsError):
    code, status = "InvalidAction", 400


class InvalidParameterValue(AwsError):
    code, status = "InvalidParameterValue", 400


class InvalidParameterCombination(AwsError):
    code, status = "InvalidParameterCombination", 400


class MalformedQueryString(AwsError):
    code, status = "MalformedQueryString", 400


class InvalidInput(AwsError):
    """IAM's name for bad parameter values."""

    code, status = "InvalidInput", 400


class MalformedPolicyDocument(AwsError):
    code, status = "MalformedPolicyDocument", 400


class PackedPolicyTooLarge(AwsError):
    code, status = "PackedPolicyTooLarge", 400


# --- Authentication ----------------------------------------------------------------------------
class MissingAuthenticationToken(AwsError):
    code, status = "MissingAuthenticationToken", 403


class InvalidClientTokenId(AwsError):
    code, status = "InvalidClientTokenId", 403


class SignatureDoesNotMatch(AwsError):
    code, status = "SignatureDoesNotMatch", 403


class IncompleteSignature(AwsError):
    code, status = "IncompleteSignature", 400


class RequestExpired(AwsError):
    """A presigned URL past X-Amz-Expires, or a signed request outside the allowed clock skew."""

    code, status = "RequestExpired", 400


class ExpiredToken(AwsError):
    """A request made with session credentials whose session has ended (ours: 403)."""

    code, status = "ExpiredToken", 403


class AccessDenied(AwsError):
    code, status = "AccessDenied", 403


# --- IAM entity errors -------------------------------------------------------------------------
class NoSuchEntity(AwsError):
    code, status = "NoSuchEntity", 404


class EntityAlreadyExists(AwsError):
    code, status = "EntityAlreadyExists", 409


class LimitExceeded(AwsError):
    code, status = "LimitExceeded", 409


class DeleteConflict(AwsError):
    code, status = "DeleteConflict", 409


class UnmodifiableEntity(AwsError):
    """A change to a service-linked role, which only its service may change (400, as AWS)."""

    code, status = "UnmodifiableEntity", 400


class PolicyNotAttachable(AwsError):
    code, status = "PolicyNotAttachable", 400


# --- STS federation ----------------------------------------------------------------------------
class ExpiredTokenException(AwsError):
    code, status = "ExpiredTokenException", 400


class InvalidIdentityToken(AwsError):
    code, status = "InvalidIdentityToken", 400


class IDPRejectedClaim(AwsError):
    code, status = "IDPRejectedClaim", 403


class IDPCommunicationError(AwsError):
    code, status = "IDPCommunicationError", 400


class InvalidAuthorizationMessage(AwsError):
    code, status = "InvalidAuthorizationMessageException", 400


class Throttling(AwsError):
    """Too many requests (a rate limit), or too many failed attempts to authenticate (AWS's code and
    status for both; SDKs retry it with backoff)."""

    code, status = "Throttling", 400

    def __init__(self, message: str = "Rate exceeded", **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]


# --- STS: GetScopedCredentials, and actions OpenSTS answers without serving ---------------------
class InvalidSubjectCredentials(AwsError):
    """GetScopedCredentials called with credentials that are not a session's."""

    code, status = "InvalidSubjectCredentials", 400


class InsufficientSessionLifetime(AwsError):
    """GetScopedCredentials asked for a DurationSeconds beyond the calling session's expiry."""

    code, status = "InsufficientSessionLifetime", 400


class RegionDisabled(AwsError):
    """The modelled error of AssumeRoot and GetDelegatedAccessToken that says "not available here"."""

    code, status = "RegionDisabledException", 403


# --- Server faults -----------------------------------------------------------------------------
class InternalFailure(AwsError):
    code, status, sender_fault = "InternalFailure", 500, False


class ServiceUnavailable(AwsError):
    code, status, sender_fault = "ServiceUnavailable", 503, False


def validation_message(failures: list[str]) -> str:
    """AWS's aggregated validation message: '1 validation error detected: ...; ...'."""
    n = len(failures)
    noun = "error" if n == 1 else "errors"
    return f"{n} validation {noun} detected: " + "; ".join(failures)


# --- SigV4 additions (S3's codes for the same conditions; STS documents none) --------------------
class AuthorizationQueryParametersError(AwsError):
    """A presigned URL's X-Amz-Expires is not a number, < 1 or > 604800 seconds."""

    code, status = "AuthorizationQueryParametersError", 400


class XAmzContentSHA256Mismatch(AwsError):
    """The x-amz-content-sha256 header is a SHA-256 of something other than the body."""

    code, status = "XAmzContentSHA256Mismatch", 400


# --- MFA ---------------------------------------------------------------------------------------
class InvalidAuthenticationCode(AwsError):
    """EnableMFADevice / ResyncMFADevice with codes that are not two fresh consecutive TOTP codes."""

    code, status = "InvalidAuthenticationCode", 403

    def __init__(self, message: str = "Authentication code for device is not valid.", **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
