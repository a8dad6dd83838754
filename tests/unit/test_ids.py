"""Identifiers: the account encoded in access key ids, and ARN parsing/formatting."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensts.identity import arn, ids

accounts = st.integers(min_value=0, max_value=999_999_999_999).map(lambda n: f"{n:012d}")


def test_published_example_decodes() -> None:
    # The example from AWS's documentation of the encoding (reference §3).
    assert ids.account_from_access_key_id("ASIAY34FZKBOKMUTVV7A") == "609629065308"


@given(accounts)
def test_generated_keys_encode_their_account(account: str) -> None:
    for key_id in (ids.new_long_term_access_key_id(account), ids.new_temporary_access_key_id(account)):
        assert re.fullmatch(r"(AKIA|ASIA)[A-Z2-7]{16}", key_id)
        assert ids.account_from_access_key_id(key_id) == account


@pytest.mark.parametrize("bad", ["", "AKIA", "AKIA" + "1" * 16, "AKIAAAAAAAAAAAAAAAA", "12345678901234567890"])
def test_malformed_key_ids_decode_to_none(bad: str) -> None:
    assert ids.account_from_access_key_id(bad) is None


def test_unique_ids_and_secrets_have_aws_shapes() -> None:
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", ids.new_user_id())
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", ids.new_role_id())
    assert re.fullmatch(r"ANPA[A-Z2-7]{17}", ids.new_policy_id())
    assert re.fullmatch(r"[A-Z2-7]{28}", ids.new_signing_certificate_id())
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", ids.new_secret_access_key())
    assert ids.is_account_id(ids.new_account_id())


def test_unique_ids_use_the_whole_alphabet_in_every_position() -> None:
    # The random characters come from one read of whole bytes: a short read would leave the last
    # characters partly made of padding (only some letters possible there).
    for make, length in ((ids.new_user_id, 17), (ids.new_signing_certificate_id, 28)):
        seen = [set() for _ in range(length)]
        for _ in range(2_000):
            for position, character in enumerate(make()[-length:]):
                seen[position].add(character)
        assert all(characters == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for characters in seen)
        assert len({make() for _ in range(1_000)}) == 1_000


def test_arn_formatting() -> None:
    assert arn.root_arn("123456789012") == "arn:aws:iam::123456789012:root"
    assert arn.user_arn("123456789012", "bob", "/dev/") == "arn:aws:iam::123456789012:user/dev/bob"
    assert arn.role_arn("123456789012", "r") == "arn:aws:iam::123456789012:role/r"
    assert arn.assumed_role_arn("123456789012", "r", "s") == "arn:aws:sts::123456789012:assumed-role/r/s"
    assert arn.federated_user_arn("123456789012", "f") == "arn:aws:sts::123456789012:federated-user/f"
    assert arn.oidc_provider_arn("1" * 12, "idp.example:8443/realms/dev") == "arn:aws:iam::111111111111:oidc-provider/idp.example:8443/realms/dev"


def test_arn_parsing() -> None:
    parsed = arn.Arn.parse("arn:aws:iam::123456789012:role/a/b/name")
    assert (parsed.partition, parsed.service, parsed.region, parsed.account) == ("aws", "iam", "", "123456789012")
    assert (parsed.resource_type, parsed.resource_path, parsed.resource_name) == ("role", "/a/b/", "name")
    assert str(parsed) == "arn:aws:iam::123456789012:role/a/b/name"
    # The resource part may itself contain colons.
    assert arn.Arn.parse("arn:aws:s3:::bucket/a:b").resource == "bucket/a:b"
    for bad in ("", "arn:aws", "nope:aws:iam::1:root", "arn::iam::1:root"):
        with pytest.raises(ValueError):
            arn.Arn.parse(bad)


@given(st.binary(min_size=10, max_size=10))
def test_base32_of_80_bits_matches_the_standard_encoding(raw: bytes) -> None:
    from opensts.identity.ids import _base32_80

    assert _base32_80(int.from_bytes(raw, "big")) == base64.b32encode(raw).decode("ascii")


@given(accounts)
def test_temporary_key_pairs_are_shaped_like_aws_and_fresh(account: str) -> None:
    key_id, secret = ids.new_temporary_key_pair(account)
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", key_id) and ids.account_from_access_key_id(key_id) == account
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", secret)
    assert ids.new_temporary_key_pair(account) != (key_id, secret)
