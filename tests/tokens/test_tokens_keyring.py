from __future__ import annotations

import re

import pytest

from opensts.tokens import (
    MAX_SESSION_LIFETIME,
    InvalidSessionToken,
    KeyRecord,
    KeyRing,
    KeyRingError,
    MasterKey,
    SealError,
    SigningKey,
    decode_session_token,
    encode_session_token,
    initial_key_records,
    prune_key_records,
    rotate_key_records,
    rotation_due,
)
from opensts.tokens.keyring import RETIREMENT_GRACE

from .conftest import make_claims

T0 = 1_795_000_000


def test_generate_key_shape():
    key_id, key = KeyRing.generate_key()
    assert re.fullmatch(r"[0-9a-f]{8}", key_id) and len(key) == 32
    assert KeyRing.generate_key()[0] != key_id or True  # random; collisions avoided via `taken`
    taken = {f"{i:08x}" for i in range(3)}
    assert KeyRing.generate_key(taken)[0] not in taken


def test_ring_lookup_and_immutability():
    ring = KeyRing.from_keys({"0000000a": b"a" * 32, "0000000b": b"b" * 32}, "0000000b")
    assert ring.active_key_id == "0000000b" and ring.active.key == b"b" * 32
    assert ring.get("0000000a").key == b"a" * 32 and ring.get("ffffffff") is None
    assert "0000000a" in ring and len(ring) == 2 and set(ring) == {"0000000a", "0000000b"}
    assert ring.get_raw(bytes.fromhex("0000000a")).key_id == "0000000a"
    with pytest.raises(TypeError):
        ring._keys["x"] = None  # type: ignore[index]
    with pytest.raises(AttributeError):
        ring.foo = 1  # type: ignore[attr-defined]
    assert "a" * 32 not in repr(ring) and "a" * 32 not in repr(ring.active)


@pytest.mark.parametrize("key_id", ["", "0000000", "000000000", "0000000G", "ABCDEF01", 5])
def test_bad_key_ids(key_id):
    with pytest.raises(KeyRingError):
        SigningKey(key_id, b"k" * 32, 0)


def test_bad_rings():
    with pytest.raises(KeyRingError):
        SigningKey("00000001", b"short", 0)
    with pytest.raises(KeyRingError):
        KeyRing.from_keys({"00000001": b"k" * 32}, "00000002")
    k = SigningKey("00000001", b"k" * 32, 0)
    with pytest.raises(KeyRingError):
        KeyRing([k, k], "00000001")


class TestRecords:
    def test_initial(self):
        mk = MasterKey.generate()
        (rec,) = initial_key_records(mk, T0)
        assert rec.active and rec.not_after is None and rec.created_at == T0
        ring = KeyRing.from_records([rec], mk)
        assert ring.active_key_id == rec.key_id and len(ring.active.key) == 32
        assert ring.active.key not in rec.sealed_key  # sealed, not plain

    def test_rotation_keeps_old_tokens_valid_and_uses_new_key(self):
        mk = MasterKey.generate()
        rows = initial_key_records(mk, T0)
        ring1 = KeyRing.from_records(rows, mk)
        old_token = encode_session_token(make_claims(), ring1)

        rows2 = rotate_key_records(rows, mk, T0 + 100)
        assert len(rows2) == 2
        new, old = rows2
        assert new.active and not old.active and new.key_id != old.key_id
        assert old.key_id == rows[0].key_id and old.sealed_key == rows[0].sealed_key
        assert old.not_after == T0 + 100 + MAX_SESSION_LIFETIME + RETIREMENT_GRACE
        ring2 = KeyRing.from_records(rows2, mk)
        assert ring2.active_key_id == new.key_id
        assert ring2.get(old.key_id).retire_after == old.not_after

        assert decode_session_token(old_token, ring2) == make_claims()
        new_token = encode_session_token(make_claims(), ring2)
        assert decode_session_token(new_token, ring2) == make_claims()
        with pytest.raises(InvalidSessionToken) as exc:  # a node that has not reloaded yet
            decode_session_token(new_token, ring1)
        assert exc.value.reason == "unknown-key" and exc.value.key_id == new.key_id

    def test_old_keys_pruned_after_longest_session(self):
        mk = MasterKey.generate()
        rows = initial_key_records(mk, T0)
        rows = rotate_key_records(rows, mk, T0 + 10)
        first_old = rows[1]
        # a second rotation soon after keeps both old keys, and keeps the first one's deadline
        rows = rotate_key_records(rows, mk, T0 + 20)
        assert len(rows) == 3 and sum(r.active for r in rows) == 1
        assert next(r for r in rows if r.key_id == first_old.key_id).not_after == first_old.not_after
        # any token signed before the rotation has expired by not_after; until then the key stays
        assert prune_key_records(rows, first_old.not_after - 1) == rows
        pruned = prune_key_records(rows, first_old.not_after)
        assert len(pruned) == 2 and first_old.key_id not in {r.key_id for r in pruned}
        # a later rotation prunes on the way
        later = rotate_key_records(rows, mk, T0 + 10 * MAX_SESSION_LIFETIME)
        assert len(later) == 2 and later[0].active and not later[1].active

    def test_no_active_key(self):
        mk = MasterKey.generate()
        (rec,) = initial_key_records(mk, T0)
        with pytest.raises(KeyRingError):
            KeyRing.from_records([KeyRecord(rec.key_id, rec.sealed_key, T0, False, T0 + 5)], mk)
        with pytest.raises(KeyRingError):
            KeyRing.from_records([], mk)

    def test_two_active_rows_newest_wins(self):
        mk = MasterKey.generate()
        (a,) = initial_key_records(mk, T0)
        (b,) = initial_key_records(mk, T0 + 1)
        assert KeyRing.from_records([b, a], mk).active_key_id == b.key_id

    def test_wrong_master_key(self):
        rows = initial_key_records(MasterKey.generate(), T0)
        with pytest.raises(SealError):
            KeyRing.from_records(rows, MasterKey.generate())

    def test_rotation_due(self):
        mk = MasterKey.generate()
        rows = initial_key_records(mk, T0)
        assert not rotation_due(rows, T0 + 100, max_age=3600)
        assert rotation_due(rows, T0 + 3600, max_age=3600)
        assert rotation_due([], T0)

    def test_record_repr_hides_sealed_key(self):
        (rec,) = initial_key_records(MasterKey.generate(), T0)
        assert "sealed_key" not in repr(rec)
