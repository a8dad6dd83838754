"""Token-bucket rate limits (server/throttle.py): per access key id, per source address, and per
source address for unsigned calls and presigned URLs; answered with AWS's Throttling error."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Iterator

import httpx
import pytest
from botocore.exceptions import ClientError

from opensts.config import Settings, SettingsError
from opensts.server.throttle import TokenBuckets, address_key
from tests.authorize.conftest import signed_headers
from tests.conftest import BACKENDS, Credentials, ServerInfo, start_server, stop_server
from tests.iam.conftest import make_user
from tests.server.test_brute_force import from_address

BURST = 20


@pytest.fixture(scope="module", params=BACKENDS)
def limited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    # A bucket refills one token per 100 s: within a test, only its burst is spent.
    info = start_server(tmp_path_factory.mktemp("limits"), request.param, {
        "OPENSTS_TRUSTED_PROXIES": "127.0.0.1/32",
        "OPENSTS_RATE_LIMIT_ACCESS_KEY": f"0.01/{BURST}",
        "OPENSTS_RATE_LIMIT_UNAUTHENTICATED": "0.01/3",
    })
    yield info
    stop_server(info)


def outcome(call: Any) -> tuple[str, int, str]:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Message"]
    return "ok", 200, ""


def test_each_access_key_has_its_own_bucket(limited: ServerInfo) -> None:
    _, alice = make_user(limited)
    _, bob = make_user(limited)
    sts_alice, sts_bob = limited.client("sts", alice), limited.client("sts", bob)
    results = [outcome(sts_alice.get_caller_identity) for _ in range(BURST + 2)]
    assert [r[0] for r in results[:BURST]] == ["ok"] * BURST
    assert results[-1] == ("Throttling", 400, "Rate exceeded")
    assert outcome(sts_bob.get_caller_identity)[0] == "ok"  # another key: unaffected
    metrics = httpx.get(limited.url + "/metrics").text
    # boto3 retried each Throttling once (retries={"max_attempts": 1}: one retry), as SDKs do.
    assert "opensts_throttled_access_key_total 4" in metrics


def test_bad_signatures_do_not_spend_a_keys_tokens(limited: ServerInfo) -> None:
    """Anyone may send a key id with a garbage signature; the key's bucket is charged only once a
    signature verifies, so such requests cannot throttle the key's owner."""
    _, dave = make_user(limited)
    forged = limited.client("sts", Credentials(dave.access_key_id, "f" * 40))
    for _ in range(BURST + 5):
        assert outcome(forged.get_caller_identity)[0] == "SignatureDoesNotMatch"
    assert outcome(limited.client("sts", dave).get_caller_identity)[0] == "ok"


def test_unsigned_calls_are_limited_per_address(limited: ServerInfo) -> None:
    def web_identity(address: str) -> str:
        sts = from_address(limited.client("sts"), address)
        return outcome(lambda: sts.assume_role_with_web_identity(
            RoleArn=f"arn:aws:iam::{limited.account_id}:role/none", RoleSessionName="s1", WebIdentityToken="a.b.c"
        ))[0]

    results = [web_identity("203.0.113.30") for _ in range(5)]
    assert results[:3] == ["InvalidIdentityToken"] * 3
    assert results[3:] == ["Throttling", "Throttling"]
    assert web_identity("203.0.113.31") == "InvalidIdentityToken"  # another address: its own bucket


def test_presigned_urls_are_limited_per_address(limited: ServerInfo) -> None:
    _, carol = make_user(limited)
    url = limited.client("sts", carol).generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")

    def fetch(address: str) -> int:
        request = urllib.request.Request(url, headers={"X-Forwarded-For": address})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            assert b"<Code>Throttling</Code>" in error.read()
            return int(error.code)

    assert [fetch("203.0.113.40") for _ in range(4)] == [200, 200, 200, 400]
    assert fetch("203.0.113.41") == 200


def test_issuer_pages_are_limited_per_address(limited: ServerInfo) -> None:
    """The OIDC issuer pages are unauthenticated: the unauthenticated limit applies (429 over it)."""
    url = limited.url + "/oidc/" + "a" * 26 + "/.well-known/jwks.json"  # well-formed, no such issuer
    statuses = [httpx.get(url, headers={"X-Forwarded-For": "203.0.113.50"}, timeout=10).status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    assert httpx.get(url, headers={"X-Forwarded-For": "203.0.113.51"}, timeout=10).status_code == 404


def test_authorize_callers_are_limited_per_key(limited: ServerInfo) -> None:
    _, service = make_user(limited, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "opensts:Authorize", "Resource": "*"}]})
    url = limited.url + "/v1/authorize"
    body = json.dumps({"action": "s3:GetObject", "resource": "*", "request": {
        "method": "GET", "url": "https://x.example/", "headers": {}}})
    statuses = []
    for _ in range(BURST + 1):
        headers = signed_headers("POST", url, service, "opensts", body, {"Content-Type": "application/json"})
        response = httpx.post(url, content=body, headers=headers, timeout=10)
        statuses.append((response.status_code, response.json().get("error", {}).get("code")))
    assert statuses[-1] == (429, "Throttling")
    assert all(status != (429, "Throttling") for status in statuses[:BURST])


# --- in process -------------------------------------------------------------------------------


def test_a_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3.0, clock=lambda: now[0])
    assert [buckets.take("k") for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [buckets.take("k") for _ in range(2)] == [True, False]
    now[0] += 100  # never more than the burst
    assert [buckets.take("k") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("other") and buckets.refused == 3


def test_ipv6_clients_share_their_64() -> None:
    assert address_key("2001:db8:1:2::5") == address_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert address_key("192.0.2.1") == "192.0.2.1"
    # A dual-stack socket's IPv4 clients are each themselves, not one ::/64 together.
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1" != address_key("::ffff:192.0.2.2")


@pytest.mark.parametrize("value, expected", [
    ("off", None), ("0", None), ("100", (100.0, 200.0)), ("0.5", (0.5, 1.0)), ("10/50", (10.0, 50.0)),
])
def test_rate_settings(value: str, expected: tuple[float, float] | None) -> None:
    assert Settings.from_env({"OPENSTS_RATE_LIMIT_SOURCE": value}).rate_limit_source == expected


@pytest.mark.parametrize("value", ["fast", "-1", "10/0", "nan", "1e9", "10/x", "10/20/30"])
def test_bad_rate_settings_name_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="OPENSTS_RATE_LIMIT_ACCESS_KEY must be RATE or RATE/BURST"):
        Settings.from_env({"OPENSTS_RATE_LIMIT_ACCESS_KEY": value})


def test_defaults_are_on_and_generous() -> None:
    settings = Settings.from_env({})
    assert settings.rate_limit_access_key == (20_000.0, 40_000.0)
    assert settings.rate_limit_unauthenticated == (1_000.0, 2_000.0)
    assert settings.brute_force == "on"
