"""SigV4 verification against requests signed by botocore's own signers."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from opensts import errors
from opensts.server import sigv4
from opensts.server.sigv4 import HttpRequest, parse_signature, verify_signature
from sigv4_support import (
    AKID,
    ENDPOINT,
    NOW,
    SECRET,
    TOKEN,
    at,
    form_post,
    presign,
    replace,
    sign_header,
    with_header,
)

MISMATCH = sigv4.SIGNATURE_MISMATCH_MESSAGE


def verify(req: HttpRequest, secret: str = SECRET, now=NOW, **kwargs) -> sigv4.SignatureInfo:
    info = parse_signature(req, **kwargs)
    verify_signature(req, info, secret, now)
    return info


def assert_mismatch(req: HttpRequest, secret: str = SECRET, now=NOW) -> None:
    with pytest.raises(errors.SignatureDoesNotMatch) as exc:
        verify(req, secret, now)
    assert exc.value.message == MISMATCH
    assert exc.value.status == 403 and exc.value.code == "SignatureDoesNotMatch"


# --- Header authentication ---------------------------------------------------------------------
def test_form_post_verifies_and_parses():
    req = form_post()
    info = verify(req)
    assert info.access_key_id == AKID
    assert (info.date, info.region, info.service) == ("20261128", "us-east-1", "sts")
    assert info.signed_headers == ("content-type", "host", "x-amz-date")
    assert info.request_time == NOW and info.amz_date == "20261128T120000Z"
    assert not info.presigned and info.expires_seconds is None and info.security_token is None
    assert info.credential_scope == "20261128/us-east-1/sts/aws4_request"


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda r: replace(r, method="PUT"), id="method"),
        pytest.param(lambda r: replace(r, path="/x"), id="path"),
        pytest.param(lambda r: replace(r, query_string="a=b"), id="query"),
        pytest.param(lambda r: replace(r, body=r.body + b"&x=1"), id="body-append"),
        pytest.param(lambda r: replace(r, body=r.body.replace(b"Get", b"Gat")), id="body-byte"),
        pytest.param(lambda r: replace(r, body=b""), id="body-empty"),
        pytest.param(lambda r: with_header(r, "content-type", "text/plain"), id="header-value"),
        pytest.param(lambda r: with_header(r, "host", "localhost:7071"), id="host"),
        pytest.param(lambda r: with_header(r, "x-amz-date", "20261128T120001Z"), id="date"),
        pytest.param(lambda r: with_header(r, "content-type", None), id="signed-header-missing"),
    ],
)
def test_any_change_to_a_signed_part_fails(mutate):
    assert_mismatch(mutate(form_post()))


def test_wrong_secret_fails():
    assert_mismatch(form_post(), secret=SECRET[:-1] + "X")
    assert_mismatch(form_post(), secret=SECRET + " ")


def test_unsigned_headers_may_change():
    req = with_header(form_post(), "user-agent", "something else")
    verify(req)
    verify(with_header(req, "x-forwarded-for", "10.0.0.1"))


def test_header_names_are_case_insensitive_and_values_trimmed():
    req = form_post()
    headers = [(k.upper(), f"  {v}  ") for k, v in req.lower_headers.items() if k != "authorization"]
    headers.append(("Authorization", req.lower_headers["authorization"]))
    verify(replace(req, headers=headers))


def test_inner_whitespace_of_header_values_is_collapsed():
    req = sign_header("GET", ENDPOINT + "/", headers={"X-Custom": "a   b \t c"})
    verify(with_header(req, "x-custom", "a b c"))
    verify(with_header(req, "x-custom", "  a b  c "))
    assert_mismatch(with_header(req, "x-custom", "a bc"))


def test_repeated_headers_are_joined_with_commas():
    req = sign_header("GET", ENDPOINT + "/", headers={"X-Multi": "one,two"})
    headers = [(k, v) for k, v in req.lower_headers.items() if k != "x-multi"]
    verify(replace(req, headers=[*headers, ("X-Multi", "one"), ("x-multi", "two")]))


def test_get_with_query_parameters():
    params = {"Action": "GetCallerIdentity", "Version": "2011-06-15", "Note": "a b+c/d?e=f&g ü ~*'()!"}
    req = sign_header("GET", ENDPOINT + "/", params=params)
    assert "+" in req.query_string  # botocore's wire encodes spaces as '+', its signer as %20
    verify(req)
    assert_mismatch(replace(req, query_string=req.query_string.replace("Note", "Nota")))


def test_security_token_in_header():
    req = form_post(token=TOKEN)
    assert verify(req).security_token == TOKEN
    assert_mismatch(with_header(req, "x-amz-security-token", TOKEN + "x"))


def test_security_token_in_query_with_header_auth():
    req = sign_header("GET", ENDPOINT + "/", params={"Action": "GetCallerIdentity", "X-Amz-Security-Token": TOKEN})
    assert verify(req).security_token == TOKEN


def test_date_header_fallback():
    req = form_post(headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"})
    assert "x-amz-date" not in req.lower_headers
    assert req.lower_headers["date"] == "Sat, 28 Nov 2026 12:00:00 -0000"
    info = verify(req)
    assert info.amz_date == "20261128T120000Z" and info.request_time == NOW
    assert_mismatch(with_header(req, "date", "Sat, 28 Nov 2026 12:00:01 GMT"))
    assert_mismatch(with_header(req, "date", "Sat, 28 Nov 2026 13:00:00 +0100"))  # same instant, other bytes


def test_other_region_and_service_are_accepted_unless_restricted():
    req = form_post(region="eu-west-3", service="iam")
    info = verify(req)
    assert (info.region, info.service) == ("eu-west-3", "iam")
    verify(req, regions={"eu-west-3"}, services={"sts", "iam"})
    with pytest.raises(errors.SignatureDoesNotMatch, match=r"scoped to a valid region, not 'eu-west-3'\."):
        parse_signature(req, regions={"us-east-1"})
    with pytest.raises(errors.SignatureDoesNotMatch, match=r"scoped to correct service: 'sts'\."):
        parse_signature(req, services={"sts"})


def test_region_in_scope_is_part_of_the_signature():
    req = form_post(region="eu-west-3")
    auth = req.lower_headers["authorization"].replace("/eu-west-3/", "/us-east-1/")
    assert_mismatch(with_header(req, "authorization", auth))


# --- Payload hash ------------------------------------------------------------------------------
def test_unsigned_payload():
    req = sign_header(
        "POST",
        "https://sts.example.com/",
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        context={"payload_signing_enabled": False},
    )
    assert req.lower_headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    info = verify(req)
    assert info.payload_unsigned
    verify(replace(req, body=b"Action=Other"))  # the body is not covered: the edge must know (payload_unsigned)


def test_explicit_content_sha256_matching_the_body():
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    digest = hashlib.sha256(body).hexdigest()
    req = sign_header("POST", ENDPOINT + "/", data=body, headers={"X-Amz-Content-SHA256": digest})
    info = verify(req)
    assert info.content_sha256 == digest and not info.payload_unsigned


def test_content_sha256_of_another_body_is_rejected():
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    other = hashlib.sha256(b"something else").hexdigest()
    req = sign_header("POST", ENDPOINT + "/", data=body, headers={"X-Amz-Content-SHA256": other})
    with pytest.raises(errors.XAmzContentSHA256Mismatch) as exc:
        verify(req)
    assert exc.value.status == 400
    assert exc.value.message == "The provided 'x-amz-content-sha256' header does not match what was computed."
    # The honest header with a tampered body is caught the same way.
    good = sign_header("POST", ENDPOINT + "/", data=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    with pytest.raises(errors.XAmzContentSHA256Mismatch):
        verify(replace(good, body=body + b"&x=1"))


@pytest.mark.parametrize("value", ["STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "abc", "", "g" * 64])
def test_content_sha256_must_be_a_digest_or_unsigned(value):
    req = with_header(form_post(), "x-amz-content-sha256", value)
    with pytest.raises(errors.IncompleteSignature, match="x-amz-content-sha256"):
        parse_signature(req)


# --- Presigned URLs ----------------------------------------------------------------------------
def test_presigned_get():
    req = presign(expires=900)
    info = verify(req)
    assert info.presigned and info.expires_seconds == 900 and info.signed_headers == ("host",)
    assert info.request_time == NOW
    verify(req, now=at(900))
    assert_mismatch(replace(req, query_string=req.query_string.replace("GetCallerIdentity", "GetSessionToken")))
    assert_mismatch(replace(req, query_string=req.query_string + "&Extra=1"))
    assert_mismatch(replace(req, method="POST"))
    assert_mismatch(with_header(req, "host", "evil.example.com"))
    assert_mismatch(replace(req, body=b"Action=AssumeRole"))


def test_presigned_signature_parameter_is_excluded_and_order_irrelevant():
    req = presign()
    pairs = req.query_string.split("&")
    verify(replace(req, query_string="&".join(reversed(pairs))))


def test_presigned_with_security_token_in_query():
    req = presign(token=TOKEN)
    assert "X-Amz-Security-Token=" in req.query_string
    assert verify(req).security_token == TOKEN
    tampered = req.query_string.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x")
    assert_mismatch(replace(req, query_string=tampered))


def test_presigned_post_moves_the_body_into_the_query():
    req = presign("POST", data={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert req.method == "POST" and req.body == b"" and "Action=GetCallerIdentity" in req.query_string
    verify(req)
    assert_mismatch(replace(req, body=b"Action=AssumeRole&RoleArn=x"))


def test_presigned_with_unsigned_payload_from_s3_style_presigners():
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from sigv4_support import credentials, frozen_botocore_clock, wire

    request = AWSRequest("GET", ENDPOINT + "/", params={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    with frozen_botocore_clock():
        S3SigV4QueryAuth(credentials(), "sts", "us-east-1", expires=60).add_auth(request)
    req = wire(request.prepare())
    verify(req)
    # A body cannot ride along unsigned.
    assert_mismatch(replace(req, body=b"Action=AssumeRole"))


def test_boto3_generate_presigned_url():
    import boto3

    from sigv4_support import frozen_botocore_clock

    client = boto3.client(
        "sts",
        endpoint_url=ENDPOINT,
        region_name="eu-central-1",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token=TOKEN,
    )
    with frozen_botocore_clock():
        get_url = client.generate_presigned_url("get_caller_identity", ExpiresIn=300, HttpMethod="GET")
        # Without HttpMethod botocore signs the operation's method (POST) into the URL.
        default_url = client.generate_presigned_url("get_caller_identity", ExpiresIn=300)
    req = HttpRequest.from_url("GET", get_url)
    info = verify(req)
    assert (info.region, info.security_token, info.expires_seconds) == ("eu-central-1", TOKEN, 300)
    verify(HttpRequest.from_url("POST", default_url))
    assert_mismatch(HttpRequest.from_url("GET", default_url))


def test_kubernetes_aws_iam_authenticator_token():
    """aws-iam-authenticator: presigned GetCallerIdentity with x-k8s-aws-id signed, replayed as a GET."""
    import boto3

    from sigv4_support import frozen_botocore_clock

    client = boto3.client(
        "sts", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=AKID, aws_secret_access_key=SECRET
    )

    def add_cluster_header(request, **kwargs):
        request.headers.add_header("x-k8s-aws-id", "my-cluster")

    client.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    with frozen_botocore_clock():
        url = client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    token = "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    # The authenticator decodes the token and replays the URL with the cluster header.
    decoded = base64.urlsafe_b64decode(token[len("k8s-aws-v1.") :] + "==").decode()
    assert "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" in decoded
    req = HttpRequest.from_url("GET", decoded, {"x-k8s-aws-id": "my-cluster", "User-Agent": "authenticator"})
    info = verify(req, now=at(59))
    assert info.signed_headers == ("host", "x-k8s-aws-id")
    assert_mismatch(HttpRequest.from_url("GET", decoded, {"x-k8s-aws-id": "other-cluster"}))
    assert_mismatch(HttpRequest.from_url("GET", decoded))  # signed header missing
    with pytest.raises(errors.SignatureDoesNotMatch, match="Signature expired"):
        verify(req, now=at(61))


def test_vault_style_replayed_signed_post():
    """Vault's AWS auth: the client signs a POST and ships method/url/headers/body for the server to replay."""
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    req = form_post(body.decode(), headers={"X-Vault-AWS-IAM-Server-ID": "vault.example.com"}, token=TOKEN)
    login = {
        "iam_http_request_method": req.method,
        "iam_request_url": base64.b64encode(f"{ENDPOINT}/".encode()).decode(),
        "iam_request_body": base64.b64encode(req.body).decode(),
        "iam_request_headers": base64.b64encode(
            json.dumps({k: [v] for k, v in req.lower_headers.items()}).encode()
        ).decode(),
    }
    # ... the Vault server side:
    headers = json.loads(base64.b64decode(login["iam_request_headers"]))
    replayed = HttpRequest.from_url(
        login["iam_http_request_method"],
        base64.b64decode(login["iam_request_url"]).decode(),
        [(k, ",".join(v)) for k, v in headers.items()],
        base64.b64decode(login["iam_request_body"]),
    )
    info = verify(replayed)
    assert "x-vault-aws-iam-server-id" in info.signed_headers and info.security_token == TOKEN


# --- boto3 end to end (requests captured before they leave the client) ------------------------
class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs):
        yield self._body


_IDENTITY_XML = b"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:root</Arn><UserId>123456789012</UserId>
<Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"""


@pytest.mark.parametrize("token", [None, TOKEN])
def test_boto3_client_requests_verify(token):
    import boto3
    from botocore.awsrequest import AWSResponse

    from sigv4_support import frozen_botocore_clock, wire

    seen: list[HttpRequest] = []

    def capture(request, **kwargs):
        seen.append(wire(request))
        return AWSResponse(request.url, 200, {}, _Raw(_IDENTITY_XML))

    client = boto3.client(
        "sts",
        endpoint_url=ENDPOINT + "/some/../",
        region_name="ap-southeast-2",
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
    )
    client.meta.events.register("before-send.sts.*", capture)
    with frozen_botocore_clock():
        assert client.get_caller_identity()["Account"] == "123456789012"
        try:
            client.assume_role(
                RoleArn="arn:aws:iam::123456789012:role/x",
                RoleSessionName="s é/=&+",
                Tags=[{"Key": "k ü", "Value": "v=1&2 ~*"}],
                Policy='{"Version":"2012-10-17","Statement":[]}',
            )
        except Exception:  # noqa: BLE001 - the canned response does not fit AssumeRole; only the request matters
            pass
    assert len(seen) == 2
    for req in seen:
        info = verify(req)
        assert info.security_token == token and info.region == "ap-southeast-2"


# --- Paths and query strings -------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/", "/a/b/../c", "//x", "/a//b/", "/a%20b", "/%C3%BC%E2%82%AC", "/a/./b/.", "/..", "/a/..", "/x:y@z!$&'()*+,;=",
     "/%2F%2e%2E/", "/~user/", "/a%2Fb", "/%25"],
)
def test_odd_paths(path):
    req = sign_header("GET", ENDPOINT + path, params={"Action": "GetCallerIdentity"})
    assert req.path == path
    verify(req)
    assert_mismatch(replace(req, path=path + "x" if not path.endswith("/") else path + "y"))


def test_path_normalisation_matches_botocore():
    req = sign_header("GET", ENDPOINT + "/a/b/../c")
    verify(replace(req, path="/a/c"))
    verify(replace(req, path="//a/./c"))
    assert_mismatch(replace(req, path="/a/b/c"))


def test_paths_are_double_encoded_not_decoded():
    req = sign_header("GET", ENDPOINT + "/a%20b")
    assert_mismatch(replace(req, path="/a b"))
    assert_mismatch(replace(req, path="/a%2520b"))


def test_raw_non_ascii_path_bytes():
    # A client that sends raw UTF-8 in the path and signs it encoded once more.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    from sigv4_support import credentials, frozen_botocore_clock

    request = AWSRequest("GET", ENDPOINT + "/ü")
    with frozen_botocore_clock():
        SigV4Auth(credentials(), "sts", "us-east-1").add_auth(request)
    prepared = request.prepare()
    headers = [*prepared.headers.items(), ("host", "localhost:7070")]
    raw = "/ü".encode()
    verify(HttpRequest("GET", raw, "", headers))  # bytes
    verify(HttpRequest("GET", raw.decode("latin-1"), "", headers))  # ASGI-style latin-1 str


@pytest.mark.parametrize(
    "params",
    [
        [("a", "1"), ("a", "0"), ("a", "1"), ("b", "")],  # repeated keys, empty value
        [("k=ey&", "v&a=l=ue"), ("", "empty key")],  # '=' and '&' encoded
        [("ключ", "значение ü € 😀"), ("x", "\x00\x7f")],  # non-ASCII and control characters
        [("~-._", "~-._"), ("*", "'()!"), ("+", "+ +"), ("%", "%20")],
        [("Action", "GetCallerIdentity"), ("Version", "2011-06-15"), ("X-Amz-Meta", "not an auth parameter")],
    ],
)
def test_odd_query_parameters(params):
    for method in ("GET", "POST"):
        req = sign_header(method, ENDPOINT + "/", params=params)
        verify(req)
        assert_mismatch(replace(req, query_string=req.query_string + "&z"))


@pytest.mark.parametrize(
    "query",
    ["a&b=1", "flag", "a=&=b", "a=1&&b=2", "Z=1&a=2&A=3&_=4", "a=%7E%2d", "x=%c3%bc", "p=a%2Bb&q=a+b", "e=%3D%26"],
)
def test_raw_query_strings_from_urls(query):
    """botocore signs a query that is already in the URL as is (URL mode); keys without '=' get ''."""
    req = sign_header("GET", f"{ENDPOINT}/?{query}")
    assert req.query_string == query
    verify(req)
    if "&" in query:
        swapped = "&".join(reversed(query.split("&")))
        verify(replace(req, query_string=swapped))  # order never matters: it is sorted


def test_raw_non_ascii_query_bytes():
    """A client that puts raw UTF-8 in the query and signs it as is (botocore's URL mode does)."""
    req = sign_header("GET", ENDPOINT + "/?q=ü€&r=%C3%BC")
    raw = "q=ü€&r=%C3%BC".encode()
    verify(replace(req, query_string=raw))
    verify(replace(req, query_string=raw.decode("latin-1")))  # as the ASGI edge hands it over
    assert_mismatch(replace(req, query_string=raw.replace(b"\xe2", b"\xe3")))


def test_query_encoding_is_normalised():
    req = sign_header("GET", ENDPOINT + "/", params={"v": "a b/é"})
    for equivalent in ["v=a%20b%2F%C3%A9", "v=a+b%2f%c3%a9", "%76=a%20b/%C3%A9"]:
        verify(replace(req, query_string=equivalent))
    assert_mismatch(replace(req, query_string="v=a%2Bb%2F%C3%A9"))


def test_presigned_with_odd_query_and_path():
    params = {"Action": "GetCallerIdentity", "q": "a b&c=d/ü", "empty": ""}
    req = presign("GET", ENDPOINT + "/p%20q/../r", params=params)
    verify(req)


# --- Clock skew and expiry ---------------------------------------------------------------------
@pytest.mark.parametrize("offset", [-299, -300, 0, 299, 300])
def test_clock_skew_within_five_minutes(offset):
    verify(form_post(), now=at(offset))


def test_clock_skew_beyond_five_minutes():
    with pytest.raises(errors.SignatureDoesNotMatch) as exc:
        verify(form_post(), now=at(301))
    assert exc.value.message == (
        "Signature expired: 20261128T120000Z is now earlier than 20261128T120001Z (20261128T120501Z - 5 min.)"
    )
    with pytest.raises(errors.SignatureDoesNotMatch) as exc:
        verify(form_post(), now=NOW + timedelta(minutes=10))
    assert exc.value.message == (
        "Signature expired: 20261128T120000Z is now earlier than 20261128T120500Z (20261128T121000Z - 5 min.)"
    )
    with pytest.raises(errors.SignatureDoesNotMatch) as exc:
        verify(form_post(), now=at(-301))
    assert exc.value.message == (
        "Signature not yet current: 20261128T120000Z is still later than 20261128T115959Z (20261128T115459Z + 5 min.)"
    )


def test_clock_skew_is_checked_before_the_secret():
    with pytest.raises(errors.SignatureDoesNotMatch, match="Signature expired"):
        verify(form_post(), secret="wrong", now=at(3600))


def test_presigned_expiry():
    req = presign(expires=60)
    verify(req, now=at(60))
    verify(req, now=at(-300))
    with pytest.raises(errors.SignatureDoesNotMatch) as exc:
        verify(req, now=at(61))
    assert exc.value.message == (
        "Signature expired: 20261128T120000Z is now earlier than 20261128T120001Z (20261128T120101Z - 60 sec.)"
    )
    with pytest.raises(errors.SignatureDoesNotMatch, match="not yet current"):
        verify(req, now=at(-301))


def test_presigned_one_week():
    req = presign(expires=604800)
    verify(req, now=at(604800))
    with pytest.raises(errors.SignatureDoesNotMatch, match="Signature expired"):
        verify(req, now=at(604801))


@pytest.mark.parametrize(
    "expires,message",
    [
        ("604801", "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
         "less than 604800 seconds"),
        ("0", "X-Amz-Expires must be at least 1 second"),
        ("-1", "X-Amz-Expires must be non-negative"),
        ("abc", "X-Amz-Expires should be a number"),
        ("", "X-Amz-Expires should be a number"),
        ("1e3", "X-Amz-Expires should be a number"),
    ],
)
def test_presigned_expires_out_of_range(expires, message):
    req = presign(expires=60)
    query = req.query_string.replace("X-Amz-Expires=60", f"X-Amz-Expires={expires}")
    with pytest.raises(errors.AuthorizationQueryParametersError) as exc:
        parse_signature(replace(req, query_string=query))
    assert exc.value.message == message and exc.value.status == 400
    assert exc.value.code == "AuthorizationQueryParametersError"


def test_presigned_without_expires_uses_the_skew_window():
    req = presign(expires=60)
    pairs = [p for p in req.query_string.split("&") if not p.startswith("X-Amz-Expires=")]
    info = parse_signature(replace(req, query_string="&".join(pairs)))
    assert info.expires_seconds is None
    sigv4.check_request_time(info, at(300))
    with pytest.raises(errors.SignatureDoesNotMatch, match="- 5 min"):
        sigv4.check_request_time(info, at(301))


# --- Malformed requests ------------------------------------------------------------------------
def test_unsigned_request():
    req = HttpRequest("POST", "/", "", {"host": "localhost"}, b"Action=AssumeRoleWithWebIdentity")
    with pytest.raises(errors.MissingAuthenticationToken) as exc:
        parse_signature(req)
    assert exc.value.message == "Request is missing Authentication Token" and exc.value.status == 403


def auth_error(authorization: str, headers=None) -> errors.AwsError:
    base = {"host": "localhost", "x-amz-date": "20261128T120000Z"} if headers is None else headers
    req = HttpRequest("POST", "/", "", {**base, "authorization": authorization}, b"")
    with pytest.raises(errors.AwsError) as exc:
        info = parse_signature(req)
        verify_signature(req, info, SECRET, NOW)
    return exc.value


GOOD_CRED = f"{AKID}/20261128/us-east-1/sts/aws4_request"


@pytest.mark.parametrize(
    "authorization,code,message",
    [
        (
            "AWS4-HMAC-SHA256 ",
            "IncompleteSignature",
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
            "parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 ",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={GOOD_CRED}, SignedHeaders=host",
            "IncompleteSignature",
            "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 "
            f"Credential={GOOD_CRED}, SignedHeaders=host",
        ),
        (
            "Bearer abc.def",
            "IncompleteSignature",
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
            "parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer abc.def",
        ),
        ("AWS AKIDEXAMPLE:c2lnbmF0dXJl", "IncompleteSignature", None),
        (
            f"AWS4-HMAC-SHA512 Credential={GOOD_CRED}, SignedHeaders=host, Signature=00",
            "IncompleteSignature",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential= {GOOD_CRED}, SignedHeaders=host, Signature=00",
            "IncompleteSignature",
            f"'{GOOD_CRED}' not a valid key=value pair (missing equal-sign) in Authorization header: "
            f"'AWS4-HMAC-SHA256 Credential= {GOOD_CRED}, SignedHeaders=host, Signature=00'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/sts, SignedHeaders=host, Signature=00",
            "IncompleteSignature",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            "got 'AKID/20261128/us-east-1/sts'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/sts/aws4_request/x, SignedHeaders=host, Signature=0",
            "IncompleteSignature",
            None,
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1/sts/aws5_request, SignedHeaders=host, Signature=0",
            "SignatureDoesNotMatch",
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261128//sts/aws4_request, SignedHeaders=host, Signature=0",
            "SignatureDoesNotMatch",
            "Credential should be scoped to a valid region, not ''.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261128/us-east-1//aws4_request, SignedHeaders=host, Signature=0",
            "SignatureDoesNotMatch",
            None,
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0",
            "SignatureDoesNotMatch",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            "'20261127' != '20261128', from '20261128T120000Z'.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={GOOD_CRED}, SignedHeaders=x-amz-date, Signature=0",
            "SignatureDoesNotMatch",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={GOOD_CRED}, SignedHeaders=host;x-amz-date, Signature=00",
            "SignatureDoesNotMatch",
            MISMATCH,
        ),
        ("", "IncompleteSignature", None),
        ("AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=", "IncompleteSignature", None),
    ],
)
def test_malformed_authorization_headers(authorization, code, message):
    error = auth_error(authorization)
    assert error.code == code, error
    assert error.status == (400 if code == "IncompleteSignature" else 403)
    if message is not None:
        assert error.message == message


def test_missing_date():
    error = auth_error(f"AWS4-HMAC-SHA256 Credential={GOOD_CRED}, SignedHeaders=host, Signature=0", {"host": "h"})
    assert error.code == "IncompleteSignature"
    assert error.message == (
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization=AWS4-HMAC-SHA256 Credential={GOOD_CRED}, SignedHeaders=host, Signature=0"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-date": "2026-11-28T12:00:00Z"},
        {"x-amz-date": "20261399T120000Z"},
        {"x-amz-date": "20261128T250000Z"},
        {"x-amz-date": "20261128T120000"},
        {"x-amz-date": "２０２６1128T120000Z"},
        {"date": "yesterday"},
        {"date": ""},
    ],
)
def test_bad_dates(headers):
    error = auth_error(
        f"AWS4-HMAC-SHA256 Credential={GOOD_CRED}, SignedHeaders=host, Signature=0", {"host": "h", **headers}
    )
    assert error.code == "IncompleteSignature"
    assert error.message.startswith("Date must be in ISO-8601 'basic format'. Got '")


def test_both_header_and_query_authentication():
    req = presign()
    both = with_header(req, "authorization", form_post().lower_headers["authorization"])
    with pytest.raises(errors.IncompleteSignature, match="Only one auth mechanism allowed"):
        parse_signature(both)


@pytest.mark.parametrize("drop", ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"])
def test_presigned_missing_parameters(drop):
    req = presign()
    query = "&".join(p for p in req.query_string.split("&") if not p.startswith(drop + "="))
    with pytest.raises(errors.IncompleteSignature) as exc:
        parse_signature(replace(req, query_string=query))
    assert exc.value.message == (
        f"AWS query-string parameters must include '{drop}'. Re-examine the query-string parameters."
    )


def test_presigned_bad_parameters():
    req = presign()
    q = req.query_string
    cases = {
        q.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256"): (
            errors.IncompleteSignature,
            "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'",
        ),
        q + "&X-Amz-Credential=x": (errors.IncompleteSignature, "must appear only once"),
        q.replace("X-Amz-Date=20261128T120000Z", "X-Amz-Date=20261128"): (errors.IncompleteSignature, "ISO-8601"),
        q.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date"): (
            errors.SignatureDoesNotMatch,
            "'Host' or ':authority'",
        ),
        q.replace("%2Faws4_request", "%2Faws4"): (errors.SignatureDoesNotMatch, "valid terminator"),
    }
    for query, (error, message) in cases.items():
        with pytest.raises(error, match=message):
            parse_signature(replace(req, query_string=query))


def test_signature_is_compared_exactly():
    req = form_post()
    auth = req.lower_headers["authorization"]
    signature = auth.rsplit("=", 1)[1]
    for bad in (signature.upper(), signature[:-1], signature + "0", "é" * 64, signature[:-1] + "\udcff"):
        assert_mismatch(with_header(req, "authorization", auth.rsplit("=", 1)[0] + "=" + bad))


def test_signing_key_cache_is_bounded():
    sigv4._SIGNING_KEYS.clear()
    for i in range(sigv4._SIGNING_KEYS_MAX + 10):
        sigv4.signing_key(f"secret{i}", "20261128", "us-east-1", "sts")
    assert len(sigv4._SIGNING_KEYS) == sigv4._SIGNING_KEYS_MAX
    # The AWS documentation example key (SigV4 test suite): kSigning for 20150830/us-east-1/iam.
    key = sigv4.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_from_url_host():
    req = HttpRequest.from_url("GET", "https://user@STS.example.com:443/x?a=1")
    assert req.lower_headers["host"] == "sts.example.com"
    assert (req.path, req.query_string) == ("/x", "a=1")
    assert HttpRequest.from_url("GET", "http://h:8080").lower_headers["host"] == "h:8080"
    assert dict(parse_qsl(urlsplit("http://h/?a=1").query)) == {"a": "1"}
