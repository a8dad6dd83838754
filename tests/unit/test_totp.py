"""TOTP verification: pyotp codes verify within ±1 step, never twice, never older than the last
accepted step; consecutive codes for EnableMFADevice; the store's compare-and-set."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensts.federation.totp import (
    new_seed,
    otpauth_uri,
    qr_code_png,
    time_step,
    verify_consecutive_codes,
    verify_totp_code,
)

SEED = new_seed()
seeds = st.binary(min_size=16, max_size=40).map(lambda b: base64.b32encode(b).decode().rstrip("="))
times = st.floats(min_value=1_000_000_000, max_value=4_000_000_000, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, now=times, offset=st.integers(min_value=-1, max_value=1))
def test_pyotp_codes_verify_within_one_step_and_never_twice(seed: str, now: float, offset: int) -> None:
    totp = pyotp.TOTP(seed)
    code = totp.at(now, counter_offset=offset)
    step = verify_totp_code(seed, code, now, None)
    assert step is not None
    # The code matches its own step (or, by HMAC coincidence, a neighbour with the same code).
    assert totp.at(step * 30) == code and abs(step - time_step(now)) <= 1
    assert verify_totp_code(seed, code, now, step) is None or totp.at((step + 1) * 30) == code


@settings(max_examples=100, deadline=None)
@given(seed=seeds, now=times, offset=st.integers(min_value=2, max_value=50))
def test_codes_outside_the_window_are_refused(seed: str, now: float, offset: int) -> None:
    totp = pyotp.TOTP(seed)
    step = time_step(now)
    for far in (step - offset, step + offset):
        code = totp.generate_otp(far)
        if all(totp.generate_otp(s) != code for s in range(step - 1, step + 2)):
            assert verify_totp_code(seed, code, now, None) is None


def test_steps_at_or_before_the_last_used_are_refused() -> None:
    now = 1_700_000_000.0
    step = time_step(now)
    totp = pyotp.TOTP(SEED)
    code = totp.generate_otp(step)
    assert verify_totp_code(SEED, code, now, step - 1) == step
    assert verify_totp_code(SEED, code, now, step) is None
    assert verify_totp_code(SEED, code, now, step + 1) is None
    assert verify_totp_code(SEED, totp.generate_otp(step + 1), now, step) == step + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", " 12345", None])
def test_malformed_codes(code) -> None:  # type: ignore[no-untyped-def]
    assert verify_totp_code(SEED, code, 1_700_000_000, None) is None


def test_datetime_now() -> None:
    when = datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    code = pyotp.TOTP(SEED).at(when)
    assert verify_totp_code(SEED, code, when, None) == time_step(when.timestamp())


@settings(max_examples=100, deadline=None)
@given(seed=seeds, now=times, offset=st.integers(min_value=-1, max_value=1))
def test_consecutive_codes(seed: str, now: float, offset: int) -> None:
    totp = pyotp.TOTP(seed)
    step = time_step(now) + offset
    c1, c2 = totp.generate_otp(step - 1), totp.generate_otp(step)
    accepted = verify_consecutive_codes(seed, c1, c2, now, None)
    assert accepted is not None and totp.generate_otp(accepted) == c2
    assert verify_consecutive_codes(seed, c1, c2, now, accepted) is None
    if c1 != c2:
        assert verify_consecutive_codes(seed, c2, c1, now, None) is None or totp.generate_otp(step + 1) == c1


def test_otpauth_uri_and_png() -> None:
    uri = otpauth_uri(SEED, "alice", "123456789012")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == SEED and parsed.name == "alice@123456789012" and parsed.issuer == "OpenSTS"
    png = qr_code_png(uri)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_seed_shape() -> None:
    seed = new_seed()
    assert len(seed) == 64 and base64.b32decode(seed)
    assert new_seed() != seed


# --- store compare-and-set ----------------------------------------------------------------------
@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    from opensts.store import Store
    from opensts.tokens.master_key import MasterKey

    s = Store(database_url, MasterKey.generate())
    yield s
    s.close()


def test_record_step_is_compare_and_set(store) -> None:  # type: ignore[no-untyped-def]
    from opensts.store import schema

    now = datetime.now(timezone.utc)
    with store.engine.begin() as conn:
        conn.execute(schema.accounts.insert().values(account_id="123456789012", name="t", created_at=now))
    serial = "arn:aws:iam::123456789012:mfa/dev"
    store.mfa.create(serial, "123456789012", "dev", "/", SEED, [("k", "v")], now)
    assert store.mfa.seed(serial) == SEED
    with store.engine.connect() as conn:
        sealed = conn.execute(schema.mfa_devices.select()).first().seed_sealed
    assert SEED.encode() not in sealed  # sealed at rest
    assert store.mfa.record_step(serial, 10)
    assert not store.mfa.record_step(serial, 10)
    assert not store.mfa.record_step(serial, 9)
    assert store.mfa.record_step(serial, 11)
    assert store.mfa.get(serial).last_used_step == 11
    assert not store.mfa.record_step(serial + "x", 12)
