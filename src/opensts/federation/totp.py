"""TOTP codes of virtual MFA devices (RFC 6238 via pyotp): 30-second steps, 6 digits, SHA-1.

A code is accepted for the current time step or one step either side (clock drift), compared in
constant time, and never for a step at or before the device's last accepted step: each code (and
every older one) is usable once. The caller records the accepted step atomically in the store
(:meth:`opensts.store.iam_mfa.MfaRepository.record_step`), so the one-time rule holds across
worker processes and nodes.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
from datetime import datetime
from urllib.parse import quote

import pyotp

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
SEED_BYTES = 40  # 64 base32 characters, as AWS's virtual MFA seeds
ISSUER = "OpenSTS"


def new_seed() -> str:
    """A fresh random seed, base32 without padding."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode("ascii").rstrip("=")


def _epoch(now: datetime | float | int) -> float:
    return now.timestamp() if isinstance(now, datetime) else float(now)


def time_step(now: datetime | float | int) -> int:
    return int(_epoch(now) // STEP_SECONDS)


def code_at_step(seed_base32: str, step: int) -> str:
    return pyotp.TOTP(seed_base32, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def _well_formed(code: str) -> bool:
    return isinstance(code, str) and len(code) == DIGITS and code.isascii() and code.isdigit()


def verify_totp_code(
    seed_base32: str,
    code: str,
    now: datetime | float | int,
    last_used_step: int | None,
    *,
    drift: int = DRIFT_STEPS,
) -> int | None:
    """The time step ``code`` is valid for (within ±``drift`` steps of ``now``), or None.

    Steps at or before ``last_used_step`` are never accepted (replay). Every candidate step is
    compared, in constant time, so timing does not reveal which step matched.
    """
    if not _well_formed(code):
        return None
    current = time_step(now)
    accepted: int | None = None
    for step in range(current - drift, current + drift + 1):
        if step < 0:
            continue
        match = hmac.compare_digest(code_at_step(seed_base32, step).encode(), code.encode())
        if match and (last_used_step is None or step > last_used_step) and accepted is None:
            accepted = step
    return accepted


def verify_consecutive_codes(
    seed_base32: str,
    code1: str,
    code2: str,
    now: datetime | float | int,
    last_used_step: int | None,
    *,
    drift: int = DRIFT_STEPS,
) -> int | None:
    """EnableMFADevice/ResyncMFADevice: two codes of consecutive steps, the second within ±``drift``
    steps of ``now``. Returns the step of the second code, or None."""
    if not (_well_formed(code1) and _well_formed(code2)):
        return None
    current = time_step(now)
    accepted: int | None = None
    for step in range(current - drift, current + drift + 1):
        if step < 1:
            continue
        first = hmac.compare_digest(code_at_step(seed_base32, step - 1).encode(), code1.encode())
        second = hmac.compare_digest(code_at_step(seed_base32, step).encode(), code2.encode())
        if first and second and (last_used_step is None or step - 1 > last_used_step) and accepted is None:
            accepted = step
    return accepted


def otpauth_uri(seed_base32: str, device_name: str, account_id: str) -> str:
    """The provisioning URI authenticator apps scan (``otpauth://totp/ISSUER:NAME@ACCOUNT?...``)."""
    label = quote(f"{ISSUER}:{device_name}@{account_id}", safe=":@")
    return f"otpauth://totp/{label}?secret={seed_base32}&issuer={quote(ISSUER)}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"


def qr_code_png(uri: str) -> bytes:
    """A PNG image of a QR code holding ``uri``."""
    import segno

    out = io.BytesIO()
    segno.make_qr(uri, error="m").save(out, kind="png", scale=4, border=4)
    return out.getvalue()
