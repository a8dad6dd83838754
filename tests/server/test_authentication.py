"""SigV4 authentication over HTTP with boto3, the AWS CLI and raw presigned URLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import botocore.exceptions
import httpx
import pytest

from opensts.identity import ids
from tests.conftest import Credentials, ServerInfo
from tests.server.test_protocol import error_of


def client_error(call) -> botocore.exceptions.ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value


def test_boto3_get_caller_identity_as_root(server: ServerInfo) -> None:
    identity = server.client("sts").get_caller_identity()
    assert identity["Account"] == server.account_id
    assert identity["Arn"] == f"arn:aws:iam::{server.account_id}:root"
    assert identity["UserId"] == server.account_id


def test_aws_cli_get_caller_identity(server: ServerInfo) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.root.access_key_id,
        "AWS_SECRET_ACCESS_KEY": server.root.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    out = subprocess.run(
        [sys.executable, "-m", "awscli", "sts", "get-caller-identity", "--endpoint-url", server.url, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"] == f"arn:aws:iam::{server.account_id}:root"


def test_aws_endpoint_url_environment_variable(server: ServerInfo) -> None:
    import boto3

    os.environ["AWS_ENDPOINT_URL"] = server.url
    try:
        client = boto3.client(
            "sts", region_name="eu-west-1",
            aws_access_key_id=server.root.access_key_id, aws_secret_access_key=server.root.secret_access_key,
        )
        assert client.get_caller_identity()["Account"] == server.account_id
    finally:
        del os.environ["AWS_ENDPOINT_URL"]


def test_wrong_secret_is_signature_does_not_match(server: ServerInfo) -> None:
    bad = server.client("sts", Credentials(server.root.access_key_id, ids.new_secret_access_key()))
    error = client_error(bad.get_caller_identity)
    assert error.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert error.response["Error"]["Message"].startswith("The request signature we calculated does not match")
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_is_invalid_client_token_id(server: ServerInfo) -> None:
    unknown = server.client("sts", Credentials(ids.new_long_term_access_key_id(server.account_id), ids.new_secret_access_key()))
    error = client_error(unknown.get_caller_identity)
    assert error.response["Error"]["Code"] == "InvalidClientTokenId"
    assert error.response["Error"]["Message"] == "The security token included in the request is invalid."
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_temporary_key_without_token_is_rejected(server: ServerInfo) -> None:
    asia = server.client("sts", Credentials(ids.new_temporary_access_key_id(server.account_id), ids.new_secret_access_key()))
    assert client_error(asia.get_caller_identity).response["Error"]["Code"] == "InvalidClientTokenId"


def test_garbage_session_token_is_rejected(server: ServerInfo) -> None:
    creds = Credentials(ids.new_temporary_access_key_id(server.account_id), ids.new_secret_access_key(), "Zm9vYmFy" * 20)
    error = client_error(server.client("sts", creds).get_caller_identity)
    assert error.response["Error"]["Code"] == "InvalidClientTokenId"


def test_unsigned_request_is_missing_authentication_token(server: ServerInfo) -> None:
    response = httpx.post(
        server.url + "/",
        content=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403
    assert error_of(response)[1] == "MissingAuthenticationToken"


def test_stale_request_is_rejected(clock: ServerInfo) -> None:
    clock.set_clock_offset(10 * 60)  # the server is 10 minutes ahead of the client
    error = client_error(clock.client("sts").get_caller_identity)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert "expired" in error.response["Error"]["Message"].lower()
    clock.set_clock_offset(4 * 60)  # within the 5-minute skew
    assert clock.client("sts").get_caller_identity()["Account"] == clock.account_id


def test_presigned_get_caller_identity_is_a_bearer_identity_proof(server: ServerInfo) -> None:
    url = server.client("sts").generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    response = httpx.get(url)  # a third party replays the URL with no credentials of its own
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    arn = next(e.text for e in root.iter() if e.tag.endswith("Arn"))
    assert arn == f"arn:aws:iam::{server.account_id}:root"


def test_presigned_url_expires(clock: ServerInfo) -> None:
    url = clock.client("sts").generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    clock.set_clock_offset(120)
    response = httpx.get(url)
    assert response.status_code in (400, 403)
    assert "expired" in error_of(response)[2].lower()


def test_tampered_presigned_url_is_rejected(server: ServerInfo) -> None:
    url = server.client("sts").generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    response = httpx.get(url.replace("Action=GetCallerIdentity", "Action=GetAccessKeyInfo"))
    assert response.status_code == 403
    assert error_of(response)[1] == "SignatureDoesNotMatch"


def test_get_access_key_info_decodes_any_well_formed_key(server: ServerInfo) -> None:
    sts = server.client("sts")
    assert sts.get_access_key_info(AccessKeyId="ASIAY34FZKBOKMUTVV7A")["Account"] == "609629065308"
    assert sts.get_access_key_info(AccessKeyId=server.root.access_key_id)["Account"] == server.account_id
    error = client_error(lambda: sts.get_access_key_info(AccessKeyId="AKIA-NOT-A-KEY-ID-1234"))
    assert error.response["Error"]["Code"] == "ValidationError"
    assert "Member must satisfy regular expression pattern" in error.response["Error"]["Message"]


def test_get_caller_identity_answers_json_when_asked(server: ServerInfo) -> None:
    """aws-iam-authenticator's verifier replays the presigned URL with Accept: application/json."""
    url = server.client("sts").generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    response = httpx.get(url, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()["GetCallerIdentityResponse"]
    assert body["GetCallerIdentityResult"] == {
        "UserId": server.account_id, "Account": server.account_id, "Arn": f"arn:aws:iam::{server.account_id}:root",
    }
    assert body["ResponseMetadata"]["RequestId"] == response.headers["x-amzn-RequestId"]
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")  # the signature's last digit
    denied = httpx.get(tampered, headers={"Accept": "application/json"})
    assert denied.status_code == 403
    assert denied.json()["Error"]["Code"] == "SignatureDoesNotMatch"
