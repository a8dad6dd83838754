"""The console's sign-in errors: typed, each with the HTTP status and the message a person reads.

Like AWS's sign-in page, a failed password sign-in never says which part was wrong (account, user
name or password), so that it does not tell which users exist.
"""

from __future__ import annotations

from opensts.errors import AwsError


class SigninFailed(AwsError):
    code, status = "SigninFailed", 401


class MfaRequired(AwsError):
    """The password was right and the user has an MFA device: ask for its code (no session yet)."""

    code, status = "MfaRequired", 401


class PasswordChangeRequired(AwsError):
    code, status = "PasswordChangeRequired", 403


class InvalidSigninToken(AwsError):
    code, status = "InvalidSigninToken", 400


class InvalidSession(AwsError):
    """getSigninToken's Session parameter: not temporary credentials this server issued and honours."""

    code, status = "InvalidSession", 400


WRONG_CREDENTIALS = "Your authentication information is incorrect. Please try again."
