"""Checking an MFA code passed to an STS action (SerialNumber + TokenCode).

The device must be an enabled MFA device of the calling IAM user; each code is accepted once,
across every process and node (the accepted TOTP step is recorded in the store). Wrong codes are
counted per device and per source address, and slow down (``brute_force.py``): while blocked, the
caller hears ``Throttling`` and the code is not checked. See
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html
"""

from __future__ import annotations

from opensts.actions import ActionContext
from opensts.errors import AccessDenied
from opensts.identity.principal import Caller, PrincipalKind
from opensts.sts.session_params import MfaInput

INVALID_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
NOT_A_USER = "MultiFactorAuthentication failed: only an IAM user can authenticate with an MFA device."


def verify_mfa(ctx: ActionContext, caller: Caller, mfa: MfaInput) -> int:
    """The time of a successful MFA check (epoch seconds), or AccessDenied."""
    from opensts.federation.mfa import check_mfa_code

    if caller.kind is not PrincipalKind.USER or not caller.entity_id:
        raise AccessDenied(NOT_A_USER)
    guard = ctx.runtime.guard
    now = ctx.request_time.timestamp()
    subjects = guard.mfa_subjects(mfa.serial_number, ctx.source_ip) if guard.enabled else ()
    guard.check_store(subjects, now)  # Throttling while blocked: the code is not even looked at
    if not check_mfa_code(ctx.runtime.store.mfa, mfa.serial_number, caller.entity_id, mfa.token_code, ctx.request_time):
        guard.count_failure(subjects, now)
        raise AccessDenied(INVALID_CODE)
    return int(ctx.request_time.timestamp())
