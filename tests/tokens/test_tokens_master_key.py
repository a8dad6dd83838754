from __future__ import annotations

import base64
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from opensts.tokens import (
    PURPOSE_ACCESS_KEY_SECRET,
    PURPOSE_SIGNING_KEY,
    PURPOSE_TOTP_SEED,
    MasterKey,
    SealError,
    load_or_create_master_key,
)

RAW = bytes(range(32))


class TestFromText:
    @pytest.mark.parametrize(
        "text",
        [
            RAW.hex(),
            RAW.hex().upper(),
            base64.b64encode(RAW).decode(),
            base64.b64encode(RAW).decode().rstrip("="),
            base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),
            "  " + base64.b64encode(RAW).decode() + "\n",
        ],
    )
    def test_accepted_forms(self, text):
        key = MasterKey.from_text(text)
        assert key == MasterKey.from_text(key.to_text())

    def test_hex_and_base64_agree(self):
        assert MasterKey.from_text(RAW.hex()) == MasterKey.from_text(base64.b64encode(RAW).decode())
        assert MasterKey.from_text(base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode()) == MasterKey(b"\xfb\xff" * 16)

    @pytest.mark.parametrize(
        "text",
        ["", "   ", "abc", RAW.hex()[:-1], RAW.hex() + "00", "zz" * 32, base64.b64encode(RAW[:31]).decode(),
         base64.b64encode(RAW + b"x").decode(), base64.b64encode(RAW).decode() + "==", "é" * 44, "*" * 44],
    )
    def test_rejected_forms(self, text):
        with pytest.raises(ValueError) as exc:
            MasterKey.from_text(text)
        assert "32 bytes" in str(exc.value) or "empty" in str(exc.value)
        if len(text) > 8:
            assert text.strip() not in str(exc.value)  # never echo key material

    def test_generate_is_random_and_round_trips(self):
        a, b = MasterKey.generate(), MasterKey.generate()
        assert a != b
        assert MasterKey.from_text(a.to_text()) == a
        assert len(a.to_text()) == 44

    def test_repr_hides_key(self):
        key = MasterKey(RAW)
        assert key.to_text() not in repr(key) and RAW.hex() not in repr(key)
        assert key.fingerprint() in repr(key)

    def test_wrong_length(self):
        with pytest.raises(ValueError):
            MasterKey(b"x" * 31)


class TestSealing:
    @pytest.mark.parametrize("purpose", [PURPOSE_ACCESS_KEY_SECRET, PURPOSE_TOTP_SEED, PURPOSE_SIGNING_KEY])
    @pytest.mark.parametrize("plaintext", [b"", b"x", b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", os.urandom(5000)],
                             ids=["empty", "one-byte", "aws-example-secret", "random-5000-bytes"])
    def test_round_trip(self, purpose, plaintext):
        key = MasterKey.generate()
        sealed = key.seal(plaintext, purpose)
        assert sealed[0] == 1 and len(sealed) == 1 + 12 + len(plaintext) + 16
        if len(plaintext) > 8:
            assert plaintext not in sealed
        assert key.open(sealed, purpose) == plaintext

    def test_random_nonce(self):
        key = MasterKey.generate()
        assert key.seal(b"same", "totp-seed") != key.seal(b"same", "totp-seed")

    def test_purpose_separation(self):
        key = MasterKey.generate()
        sealed = key.seal(b"secret", PURPOSE_ACCESS_KEY_SECRET)
        for other in (PURPOSE_TOTP_SEED, PURPOSE_SIGNING_KEY, "access-key-secreT", "access-key-secret "):
            with pytest.raises(SealError):
                key.open(sealed, other)

    def test_wrong_master_key(self):
        sealed = MasterKey.generate().seal(b"secret", PURPOSE_TOTP_SEED)
        with pytest.raises(SealError):
            MasterKey.generate().open(sealed, PURPOSE_TOTP_SEED)

    def test_every_bit_flip_rejected(self):
        key = MasterKey.generate()
        sealed = key.seal(b"0123456789", PURPOSE_TOTP_SEED)
        for i in range(len(sealed)):
            for bit in range(8):
                bad = bytearray(sealed)
                bad[i] ^= 1 << bit
                with pytest.raises(SealError):
                    key.open(bytes(bad), PURPOSE_TOTP_SEED)

    def test_truncation_and_garbage(self):
        key = MasterKey.generate()
        sealed = key.seal(b"secret", PURPOSE_TOTP_SEED)
        for n in range(len(sealed)):
            with pytest.raises(SealError):
                key.open(sealed[:n], PURPOSE_TOTP_SEED)
        for junk in (b"", b"\x01", b"\x02" + sealed[1:], sealed + b"\x00", "text"):
            with pytest.raises(SealError):
                key.open(junk, PURPOSE_TOTP_SEED)

    def test_empty_purpose_rejected(self):
        with pytest.raises(ValueError):
            MasterKey.generate().seal(b"x", "")


class TestLoadOrCreate:
    def test_env_wins(self, tmp_path: Path):
        (tmp_path / "master-key").write_text(MasterKey.generate().to_text())
        key = load_or_create_master_key(tmp_path, RAW.hex())
        assert key == MasterKey(RAW)

    def test_invalid_env_is_a_clear_error(self, tmp_path: Path):
        with pytest.raises(ValueError, match="OPENSTS_MASTER_KEY"):
            load_or_create_master_key(tmp_path, "not-a-key")
        assert not (tmp_path / "master-key").exists()

    def test_blank_env_counts_as_unset(self, tmp_path: Path):
        key = load_or_create_master_key(tmp_path, "  ")
        assert (tmp_path / "master-key").exists()
        assert load_or_create_master_key(tmp_path, None) == key

    def test_created_with_mode_0600_and_reused(self, tmp_path: Path):
        old = os.umask(0)  # even with a permissive umask
        try:
            key = load_or_create_master_key(tmp_path / "data", None)
        finally:
            os.umask(old)
        path = tmp_path / "data" / "master-key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert MasterKey.from_text(path.read_text()) == key
        assert load_or_create_master_key(tmp_path / "data", None) == key
        assert load_or_create_master_key(tmp_path / "data", "") == key
        assert [p.name for p in (tmp_path / "data").iterdir()] == ["master-key"]  # no temp files left

    def test_invalid_file_is_a_clear_error(self, tmp_path: Path):
        (tmp_path / "master-key").write_text("garbage\n")
        with pytest.raises(ValueError, match="master-key"):
            load_or_create_master_key(tmp_path, None)

    def test_loose_permissions_warn(self, tmp_path: Path, caplog):
        path = tmp_path / "master-key"
        path.write_text(MasterKey.generate().to_text())
        path.chmod(0o644)
        load_or_create_master_key(tmp_path, None)
        assert "chmod 600" in caplog.text

    def test_concurrent_creation_agrees(self, tmp_path: Path):
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(4) as pool:
            texts = pool.map(_create_in, [str(tmp_path)] * 8)
        assert len(set(texts)) == 1
        assert MasterKey.from_text((tmp_path / "master-key").read_text()).to_text() == texts[0]
        assert stat.S_IMODE((tmp_path / "master-key").stat().st_mode) == 0o600


def _create_in(directory: str) -> str:
    return load_or_create_master_key(Path(directory), None).to_text()
