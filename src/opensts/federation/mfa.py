"""Checking an MFA code for STS (GetSessionToken / AssumeRole with SerialNumber + TokenCode).

The device must be a virtual MFA device enabled for the given user; the code must be valid for
the current TOTP step or one step either side; and each code is accepted once: the accepted step
is recorded with a compare-and-set in the store, so a replay is refused by whichever process or
node sees it second.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from opensts.federation.totp import verify_totp_code

if TYPE_CHECKING:
    from opensts.store.iam_mfa import MfaRepository


def check_mfa_code(mfa: "MfaRepository", serial_number: str, user_id: str, code: str, now: datetime | float) -> bool:
    """Whether ``code`` is a fresh, valid TOTP code of the device ``serial_number`` enabled for
    ``user_id`` at time ``now``. Blocking (reads and writes the store). A True answer consumes the
    code: the same code (or an older one) is refused from then on."""
    if not serial_number or not code:
        return False
    device = mfa.get(serial_number)
    if device is None or device.user_id is None or device.user_id != user_id:
        return False
    seed = mfa.seed(serial_number)
    if seed is None:
        return False
    step = verify_totp_code(seed, code, now, device.last_used_step)
    if step is None:
        return False
    return mfa.record_step(serial_number, step)
