"""The SigV4 fast paths give exactly what the slow paths give.

``_parse_header_auth`` parses the part of an SDK-style Authorization header before ", Signature="
once per client (``_header_parts``) and reuses it; the signature check uses ``_Hmac`` (HMAC-SHA256
from precomputed pad states) instead of ``hmac.digest``. Clients see only the results: the parsed
SignatureInfo, the error code *and message* (botocore and the AWS CLI show them to users), and
whether a signature verifies. These tests compare the fast paths with the reference behaviour.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from opensts import errors
from opensts.server import sigv4
from opensts.server.sigv4 import HttpRequest, parse_signature, verify_signature
from sigv4_support import AKID, NOW, SECRET, TOKEN, form_post, with_header

SETTINGS = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

DATE = "20261128"
AMZ_DATE = "20261128T120000Z"
GOOD_CREDENTIAL = f"{AKID}/{DATE}/us-east-1/sts/aws4_request"
# botocore writes exactly this layout; the fast path applies to it.
BOTOCORE_LAYOUT = re.compile(r"AWS4-HMAC-SHA256 Credential=[^ ,]+, SignedHeaders=[^ ,]+, Signature=[0-9a-f]{64}")


# --- the header parser: fast path == full parser ------------------------------------------------
@st.composite
def credentials(draw: st.DrawFn) -> str:
    """keyid/date/region/service/terminator, valid or not (wrong terminator, 4 or 6 parts, bad date...)."""
    parts = [
        draw(st.sampled_from([AKID, "ASIAEXAMPLE", ""])),
        draw(st.sampled_from([DATE, DATE, "20261127", "2026112", "", "x"])),
        draw(st.sampled_from(["us-east-1", "us-east-1", "eu-west-1", ""])),
        draw(st.sampled_from(["sts", "sts", "ec2", "opensts", ""])),
        draw(st.sampled_from(["aws4_request", "aws4_request", "aws5_request", "AWS4_REQUEST", ""])),
    ]
    count = draw(st.sampled_from([5, 5, 5, 4, 6]))
    parts = parts[:count] if count <= 5 else [*parts, "extra"]
    return "/".join(parts)


signed_header_lists = st.just("host;x-amz-date") | st.lists(
    st.sampled_from(["host", "Host", "x-amz-date", "content-type", "x-amz-security-token", "x-amz-content-sha256", ""]),
    max_size=4,
).map(";".join)
signatures = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.text(alphabet="0123456789abcdefXYZ", min_size=1, max_size=8),
    st.sampled_from(["", "ab-cd", "ab=cd", "x/y", "\u00e9\u00e9", "0" * 63]),  # no spaces or commas: see _variants
)
algorithms = st.just("AWS4-HMAC-SHA256") | st.sampled_from([" AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", "AWS4", "Bearer"])
# Extra parameters between SignedHeaders and Signature (the last one lacks its equal-sign).
extras = st.just("") | st.sampled_from(
    [", Foo=bar", ", SignedHeaders=host", ", Credential=AKID/x/y/z/aws4_request", ", junk"]
)
content_hashes = st.sampled_from(
    [None, "UNSIGNED-PAYLOAD", hashlib.sha256(b"").hexdigest(), " UNSIGNED-PAYLOAD ", "nope"]
)
amz_dates = st.one_of(
    st.just(AMZ_DATE),
    st.just(AMZ_DATE),
    st.sampled_from(["20261127T235959Z", f" {AMZ_DATE} ", "20261128T120000", "2026-11-28T12:00:00Z", "",
                     "20261399T120000Z", "20261128T250000Z"]),
    st.none(),
)


def _variants(
    algorithm: str, credential: str | None, signed: str | None, signature: str, extra: str
) -> tuple[str, str]:
    """The header in botocore's layout, and the same parameters with Signature first (no fast path)."""
    params = []
    if credential is not None:
        params.append(f"Credential={credential}")
    if signed is not None:
        params.append(f"SignedHeaders={signed}")
    rest = ", ".join(params) + extra
    return f"{algorithm} {rest}, Signature={signature}", f"{algorithm} Signature={signature}, {rest}"


def _result(req: HttpRequest, authorization: str, **kwargs: Any) -> tuple[Any, ...]:
    """What a client gets: the parsed info, or the error class, code, status and message (with the
    header's own text, which some messages quote, replaced by a placeholder)."""
    try:
        return ("ok", parse_signature(req, **kwargs))
    except errors.AwsError as exc:
        return ("error", type(exc), exc.code, exc.status, exc.message.replace(authorization, "<AUTHORIZATION>"))


@SETTINGS
@given(
    algorithm=algorithms,
    credential=st.one_of(st.just(GOOD_CREDENTIAL), credentials()) | st.none(),
    signed=signed_header_lists | st.none(),
    signature=signatures,
    extra=extras,
    amz_date=amz_dates,
    http_date=st.sampled_from([None, "Sat, 28 Nov 2026 12:00:00 GMT", "yesterday"]),
    token=st.sampled_from([None, TOKEN, f"  {TOKEN} "]),
    content_sha256=content_hashes,
    regions=st.sampled_from([None, ["us-east-1"], ("eu-west-1", "us-east-1")]),
    services=st.sampled_from([None, ["sts"], {"sts", "opensts"}]),
)
@example(algorithm="AWS4-HMAC-SHA256", credential=GOOD_CREDENTIAL, signed="host;x-amz-date",
         signature="a" * 64, extra="", amz_date=AMZ_DATE, http_date=None, token=TOKEN, content_sha256=None,
         regions=None, services=None)
@example(algorithm="AWS4-HMAC-SHA256", credential=GOOD_CREDENTIAL, signed="host", signature="1" * 64, extra="",
         amz_date="", http_date=None, token=None, content_sha256=" UNSIGNED-PAYLOAD ", regions=None, services=None)
@example(algorithm="AWS4-HMAC-SHA256", credential=GOOD_CREDENTIAL, signed="x-amz-date",
         signature="a" * 64, extra="", amz_date="20261128T12000", http_date=None, token=None, content_sha256="nope",
         regions=None, services=None)
@example(algorithm="AWS4-HMAC-SHA256", credential=f"{AKID}/{DATE}/eu-west-1/ec2/aws5_request", signed="host",
         signature="0", extra="", amz_date=AMZ_DATE, http_date=None, token=None, content_sha256=None,
         regions=["us-east-1"], services=["sts"])
def test_fast_path_parses_like_the_full_parser(
    algorithm: str, credential: str | None, signed: str | None, signature: str, extra: str, amz_date: str | None,
    http_date: str | None, token: str | None, content_sha256: str | None, regions: Any, services: Any,
) -> None:
    """Same parameters, fast layout vs Signature-first layout: equal SignatureInfo, or the same error
    (class, code, status, message) raised by the same first failing check."""
    fast, slow = _variants(algorithm, credential, signed, signature, extra)
    assert ", Signature=" not in slow  # the rewritten header cannot take the fast path
    headers = {"host": "localhost"}
    for name, value in (("x-amz-date", amz_date), ("date", http_date), ("x-amz-security-token", token),
                        ("x-amz-content-sha256", content_sha256)):
        if value is not None:
            headers[name] = value
    fast_req = HttpRequest("POST", "/", "", {**headers, "authorization": fast}, b"")
    slow_req = HttpRequest("POST", "/", "", {**headers, "authorization": slow}, b"")
    expected = _result(slow_req, slow, regions=regions, services=services)
    assert _result(fast_req, fast, regions=regions, services=services) == expected
    # Again: the header's first part now comes from the cache, whose entry must not carry the
    # previous call's region/service verdict.
    assert _result(fast_req, fast, regions=regions, services=services) == expected
    assert _result(fast_req, fast) == _result(slow_req, slow)


@pytest.mark.parametrize("signature", ["0" * 64, "abc"])
def test_fast_path_takes_the_token_from_the_query_when_no_header_carries_it(signature: str) -> None:
    """A header-signed request may carry X-Amz-Security-Token in the query string instead."""
    fast, slow = _variants("AWS4-HMAC-SHA256", GOOD_CREDENTIAL, "host;x-amz-date", signature, "")
    query = "Action=GetCallerIdentity&X-Amz-Security-Token=" + quote(TOKEN, safe="")
    infos = [
        parse_signature(HttpRequest("GET", "/", query, {"host": "h", "x-amz-date": AMZ_DATE, "authorization": auth}))
        for auth in (fast, slow)
    ]
    assert infos[0] == infos[1]
    assert infos[0].security_token == TOKEN


# --- _Hmac == hmac.new ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None, database=None)
@given(
    # every length equally often; keys over 64 bytes are hashed first
    key=st.integers(0, 130).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    messages=st.lists(st.binary(max_size=300), min_size=1, max_size=3),
)
@example(key=b"", messages=[b""])
@example(key=b"\x00" * 64, messages=[b"x"])
@example(key=bytes(range(32)), messages=[b"AWS4-HMAC-SHA256\n20261128T120000Z"])  # SigV4 keys are 32 bytes
@example(key=b"\xff" * 33, messages=[b"", b"y" * 64])
def test_hmac_from_precomputed_pads_equals_hmac_new(key: bytes, messages: list[bytes]) -> None:
    signer = sigv4._Hmac(key)
    for message in messages:  # the pad states are copied, never consumed: reuse gives the same answers
        assert signer.hexdigest(message) == hmac.new(key, message, hashlib.sha256).hexdigest()
    assert signer.key == key


# --- a real botocore round trip through the fast path -----------------------------------------------
@pytest.mark.parametrize("token", [None, TOKEN])
def test_botocore_requests_of_one_client_verify_and_a_wrong_second_signature_does_not(token: str | None) -> None:
    first = form_post(token=token)
    second = form_post("Action=GetCallerIdentity&Version=2011-06-15&Extra=1", token=token)
    auth_first, auth_second = first.lower_headers["authorization"], second.lower_headers["authorization"]
    assert BOTOCORE_LAYOUT.fullmatch(auth_first) and BOTOCORE_LAYOUT.fullmatch(auth_second)
    head = auth_first.rpartition(", Signature=")[0]
    assert auth_second.rpartition(", Signature=")[0] == head  # same client: same credential part

    hits = sigv4._header_parts.cache_info().hits
    info_first = parse_signature(first)
    verify_signature(first, info_first, SECRET, NOW)
    info_second = parse_signature(second)
    verify_signature(second, info_second, SECRET, NOW)
    assert sigv4._header_parts.cache_info().hits > hits  # the second parse reused the first one's head
    assert info_first.signature != info_second.signature
    assert (info_first.access_key_id, info_first.credential_scope, info_first.security_token) == (
        AKID, f"{DATE}/us-east-1/sts/aws4_request", token)

    # The second request with the first one's (valid, but for another body) signature, and with a
    # signature that is one character off: both are the fast path's layout and both must fail.
    flipped = info_second.signature[:-1] + ("0" if info_second.signature[-1] != "0" else "1")
    for wrong in (info_first.signature, flipped):
        bad = with_header(second, "authorization", f"{head}, Signature={wrong}")
        info = parse_signature(bad)
        assert info.signature == wrong
        with pytest.raises(errors.SignatureDoesNotMatch) as exc:
            verify_signature(bad, info, SECRET, NOW)
        assert exc.value.message == sigv4.SIGNATURE_MISMATCH_MESSAGE and exc.value.status == 403
    # and the right one still verifies afterwards (nothing about the failures was remembered)
    verify_signature(second, parse_signature(second), SECRET, NOW)


def test_wrong_secret_fails_through_the_cached_signing_key() -> None:
    """A signing key is cached per (secret, scope): another secret for the same scope must not share it."""
    req = form_post()
    info = parse_signature(req)
    verify_signature(req, info, SECRET, NOW)
    with pytest.raises(errors.SignatureDoesNotMatch):
        verify_signature(req, info, SECRET[:-1] + "X", NOW)
    verify_signature(req, info, SECRET, NOW)
