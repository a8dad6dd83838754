"""The Query protocol edge over real HTTP: routing, XML, errors, health and metrics."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from tests.conftest import REGION, ServerInfo

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def signed_post(server: ServerInfo, body: str, service: str = "sts", headers: dict[str, str] | None = None) -> httpx.Response:
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})},
    )
    creds = BotoCredentials(server.root.access_key_id, server.root.secret_access_key)
    SigV4Auth(creds, service, REGION).add_auth(request)
    return httpx.post(server.url + "/", content=body.encode(), headers=dict(request.headers.items()))


def error_of(response: httpx.Response) -> tuple[str, str, str]:
    root = ET.fromstring(response.content)
    error = root.find(f"{STS_NS}Error") or root.find("Error")
    if error is None:
        error = next(e for e in root.iter() if e.tag.endswith("Error"))
    text = {child.tag.split("}")[-1]: child.text for child in error}
    return text["Type"], text["Code"], text.get("Message") or ""


def test_success_response_shape_and_request_id(server: ServerInfo) -> None:
    response = signed_post(server, "Action=GetCallerIdentity&Version=2011-06-15")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{STS_NS}GetCallerIdentityResponse"
    request_id = root.find(f"{STS_NS}ResponseMetadata/{STS_NS}RequestId").text
    assert request_id == response.headers["x-amzn-RequestId"]
    assert root.find(f"{STS_NS}GetCallerIdentityResult/{STS_NS}Account").text == server.account_id


@pytest.mark.parametrize(
    "body, code",
    [
        ("Version=2011-06-15", "MissingAction"),
        ("Action=GetCallerIdentity", "MissingParameter"),
        ("Action=NoSuchThing&Version=2011-06-15", "InvalidAction"),
        ("Action=GetCallerIdentity&Version=1999-01-01", "InvalidAction"),
        ("Action=GetCallerIdentity&Version=2011-06-15&Action=GetCallerIdentity", "MalformedQueryString"),
        ("Action=GetCallerIdentity&Version=2011-06-15&Tags.member.x.Key=a", "MalformedQueryString"),
        ("Action=GetCallerIdentity&Version=2011-06-15&%ZZ=1", "MalformedQueryString"),
    ],
)
def test_protocol_errors_are_aws_errors(server: ServerInfo, body: str, code: str) -> None:
    response = signed_post(server, body)
    assert response.status_code == 400
    fault, got_code, message = error_of(response)
    assert (fault, got_code) == ("Sender", code)
    assert message
    assert response.headers["x-amzn-RequestId"]


def test_error_body_parses_in_botocore(server: ServerInfo) -> None:
    import botocore.exceptions

    bad = server.client("sts", credentials=type(server.root)(server.root.access_key_id, "x" * 40))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        bad.get_caller_identity()
    error = info.value.response["Error"]
    assert error["Code"] == "SignatureDoesNotMatch"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert info.value.response["ResponseMetadata"]["RequestId"]


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00garbage", b"Action=GetCallerIdentity&Version=2011-06-15&" + b"A" * 100, b"=&=&=", b"%", b"a.b.c=1&a.b=2"],
)
def test_garbled_bodies_never_give_500(server: ServerInfo, content: bytes) -> None:
    response = httpx.post(server.url + "/", content=content, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= response.status_code < 500
    assert error_of(response)[1]


def test_oversized_body_is_rejected(server: ServerInfo) -> None:
    response = httpx.post(server.url + "/", content=b"A=" + b"x" * (600 * 1024), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400


def test_health_reports_store(server: ServerInfo) -> None:
    response = httpx.get(server.url + "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_metrics_count_requests_by_action_and_outcome(server: ServerInfo) -> None:
    signed_post(server, "Action=GetCallerIdentity&Version=2011-06-15")
    httpx.post(server.url + "/", content=b"Action=GetCallerIdentity&Version=2011-06-15", headers={"Content-Type": "application/x-www-form-urlencoded"})
    text = httpx.get(server.url + "/metrics").text
    assert re.search(r'opensts_requests_total\{action="GetCallerIdentity",outcome="success",service="sts"\} [1-9]', text)
    assert re.search(r'opensts_requests_total\{action="GetCallerIdentity",outcome="MissingAuthenticationToken",service="sts"\} [1-9]', text)
    assert "opensts_request_duration_seconds_bucket" in text


def test_iam_version_routes_to_iam_namespace(server: ServerInfo) -> None:
    response = signed_post(server, "Action=NoSuchIamThing&Version=2010-05-08", service="iam")
    assert response.status_code == 400
    assert b"https://iam.amazonaws.com/doc/2010-05-08/" in response.content
