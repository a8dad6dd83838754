"""Property tests: botocore-signed requests verify; any change to the signature fails; garbage never crashes."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from opensts.errors import AwsError, SignatureDoesNotMatch
from opensts.server.sigv4 import HttpRequest, parse_signature, verify_signature
from sigv4_support import ENDPOINT, NOW, SECRET, TOKEN, presign, replace, sign_header, with_header

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Path segments: any text, sent percent-encoded (as SDK serializers do), plus some raw sub-delimiters and
# dot segments.
segment = st.one_of(
    st.text(max_size=12).map(lambda s: quote(s, safe="")),
    st.text(alphabet="abc!$&'()*+,;=:@-._~", max_size=6),
    st.sampled_from([".", "..", ""]),
)
paths = st.lists(segment, max_size=5).map(lambda segs: "/" + "/".join(segs))
query_params = st.lists(st.tuples(st.text(max_size=10), st.text(max_size=16)), max_size=5)
# Header values a server can receive: Latin-1 without control characters.
header_text = st.text(
    alphabet=st.characters(
        codec="latin-1", exclude_categories=("Cc",), exclude_characters="\x7f"
    ),
    max_size=24,
)
header_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10).map(
    lambda n: "x-h-" + n
)
extra_headers = st.dictionaries(header_names, header_text, max_size=4)
tokens = st.one_of(st.none(), st.just(TOKEN))


def flip(signature: str, index: int, char: str) -> str:
    index %= len(signature)
    replacement = char if char != signature[index] else ("0" if signature[index] != "0" else "1")
    return signature[:index] + replacement + signature[index + 1 :]


@SETTINGS
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=paths,
    params=query_params,
    headers=extra_headers,
    body=st.binary(max_size=64),
    token=tokens,
    index=st.integers(0, 63),
    char=st.sampled_from("0123456789abcdefA"),
)
def test_header_signed_requests_verify_and_any_signature_change_fails(
    method, path, params, headers, body, token, index, char
):
    req = sign_header(method, ENDPOINT + path, params=params or None, headers=headers, data=body or None, token=token)
    info = parse_signature(req)
    verify_signature(req, info, SECRET, NOW)
    auth = req.lower_headers["authorization"]
    head, _, signature = auth.rpartition("=")
    bad = with_header(req, "authorization", f"{head}={flip(signature, index, char)}")
    try:
        verify_signature(bad, parse_signature(bad), SECRET, NOW)
    except SignatureDoesNotMatch:
        pass
    else:
        raise AssertionError("a mutated signature verified")


@SETTINGS
@given(
    method=st.sampled_from(["GET", "POST"]),
    path=paths,
    params=query_params,
    headers=extra_headers,
    token=tokens,
    expires=st.integers(1, 604800),
    index=st.integers(0, 63),
)
def test_presigned_requests_verify_and_any_signature_change_fails(method, path, params, headers, token, expires, index):
    params = [(k, v) for k, v in params if not k.startswith("X-Amz-")]
    req = presign(method, ENDPOINT + path, params=params or {"Action": "GetCallerIdentity"}, headers=headers,
                  token=token, expires=expires)
    info = parse_signature(req)
    verify_signature(req, info, SECRET, NOW)
    head, _, signature = req.query_string.rpartition("X-Amz-Signature=")
    bad = replace(req, query_string=f"{head}X-Amz-Signature={flip(signature, index, 'f')}")
    try:
        verify_signature(bad, parse_signature(bad), SECRET, NOW)
    except SignatureDoesNotMatch:
        pass
    else:
        raise AssertionError("a mutated signature verified")


@SETTINGS
@given(body=st.binary(min_size=1, max_size=64), position=st.integers(0, 63), byte=st.integers(0, 255))
def test_any_body_byte_change_fails(body, position, byte):
    req = sign_header("POST", ENDPOINT + "/", data=body)
    position %= len(body)
    if body[position] == byte:
        return
    changed = replace(req, body=body[:position] + bytes([byte]) + body[position + 1 :])
    try:
        verify_signature(changed, parse_signature(changed), SECRET, NOW)
    except SignatureDoesNotMatch:
        pass
    else:
        raise AssertionError("a changed body verified")


def _never_crashes(req: HttpRequest) -> None:
    try:
        info = parse_signature(req)
        verify_signature(req, info, SECRET, info.request_time)
    except AwsError:
        pass


PREFIXES = ["", "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/sts/aws4_request, "]


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from(PREFIXES), text=st.text(max_size=120), date=st.one_of(st.none(), st.text(max_size=20)))
@example(prefix="", text="AWS4-HMAC-SHA256 Credential=a/20261128/r/s/aws4_request, SignedHeaders=host, Signature=x",
         date="20261128T120000Z")
@example(prefix="", text="AWS4-HMAC-SHA256 Credential=a/20261128/r/s/aws4_request, SignedHeaders=host;;, Signature=",
         date="20261128T120000Z")
def test_parser_never_raises_anything_but_aws_errors_on_authorization_headers(prefix, text, date):
    headers = {"host": "localhost", "authorization": prefix + text}
    if date is not None:
        headers["x-amz-date" if date[:1].isdigit() else "date"] = date
    _never_crashes(HttpRequest("POST", "/", "", headers, b""))


@settings(max_examples=300, deadline=None)
@given(
    query=st.lists(
        st.tuples(
            st.sampled_from(["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                             "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "X%2DAmz-Date", "a"]),
            st.one_of(st.text(max_size=30), st.sampled_from(["AWS4-HMAC-SHA256", "20261128T120000Z", "host", "60",
                                                               "a%2F20261128%2Fr%2Fs%2Faws4_request", "%ZZ", "%"])),
        ),
        max_size=8,
    ),
    path=st.text(max_size=20),
    raw_path=st.binary(max_size=10),
)
def test_parser_never_raises_anything_but_aws_errors_on_query_strings(query, path, raw_path):
    qs = "&".join(f"{k}={v}" for k, v in query)
    _never_crashes(HttpRequest("GET", "/" + path, qs, {"host": "h"}, b""))
    _never_crashes(HttpRequest("GET", b"/" + raw_path, qs.encode("utf-8", "surrogatepass"), [("Host", "h")], b""))
