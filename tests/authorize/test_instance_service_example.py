"""The walkthrough of examples/instance-service/README.md, end to end over HTTP.

OpenSTS and the example service run as real processes; alice uses boto3's EC2 client against the
service, and the AWS CLI to decode the denial message:

1. alice's policy allows StopInstances/TerminateInstances only with MFA;
2. GetSessionToken without MFA → StopInstances is denied (UnauthorizedOperation + encoded message);
3. ``aws sts decode-authorization-message`` shows why (aws:MultiFactorAuthPresent = false);
4. GetSessionToken with an MFA code → StopInstances is allowed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import boto3
import httpx
import pyotp
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from opensts.api import load_actions
from tests.conftest import REGION, Credentials, ServerInfo, free_port, random_name
from tests.iam.conftest import make_user

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "instance-service"
INSTANCE = "i-0123456789abcdef0"
MFA_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ec2:StopInstances", "ec2:TerminateInstances"], "Resource": ["*"],
         "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
        {"Effect": "Allow", "Action": ["ec2:DescribeInstances", "sts:DecodeAuthorizationMessage"], "Resource": "*"},
    ],
}

pytestmark = pytest.mark.skipif(
    ("iam", "EnableMFADevice") not in load_actions(), reason="IAM MFA devices are not available yet"
)


@pytest.fixture(scope="module")
def service(server: ServerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example service, running with its own identity (a user allowed opensts:Authorize)."""
    _, creds = make_user(
        server, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "opensts:Authorize", "Resource": "*"}]},
        name=random_name("instance-service"),
    )
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": creds.secret_access_key}
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    log = open(tmp_path_factory.mktemp("instance-service") / "service.log", "wb")
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "instance_service.py"), "--opensts-url", server.url, "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            assert process.poll() is None, f"the example service exited: {Path(log.name).read_text()}"
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the example service did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def ec2(url: str, creds: Credentials):  # type: ignore[no-untyped-def]
    return boto3.client(
        "ec2", endpoint_url=url, region_name=REGION, aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key, aws_session_token=creds.session_token,
        config=Config(retries={"max_attempts": 1}),
    )


def session_credentials(response: dict) -> Credentials:
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def aws_cli(server: ServerInfo, creds: Credentials, *args: str) -> dict:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
           "AWS_DEFAULT_REGION": REGION}
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    out = subprocess.run([sys.executable, "-m", "awscli", *args, "--endpoint-url", server.url, "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_mfa_walkthrough(server: ServerInfo, service: str) -> None:
    iam = server.client("iam")
    name, alice = make_user(server, MFA_POLICY, name=random_name("alice"))
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    serial, totp = device["SerialNumber"], pyotp.TOTP(device["Base32StringSeed"].decode())
    now = time.time()
    iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1=totp.at(now - 30),
                          AuthenticationCode2=totp.at(now))
    sts = server.client("sts", alice)

    # Without MFA: listing works, stopping is refused with an encoded message.
    plain = ec2(service, session_credentials(sts.get_session_token()))
    assert INSTANCE in {i["InstanceId"] for r in plain.describe_instances()["Reservations"] for i in r["Instances"]}
    with pytest.raises(ClientError) as denied:
        plain.stop_instances(InstanceIds=[INSTANCE])
    error = denied.value.response["Error"]
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Code"] == "UnauthorizedOperation"
    assert f"User: arn:aws:iam::{server.account_id}:user/{name} is not authorized to perform: ec2:StopInstances" in error["Message"]
    encoded = re.search(r"Encoded authorization failure message: (\S+)", error["Message"]).group(1)  # type: ignore[union-attr]

    # Decode it with the AWS CLI (alice's own keys: she is allowed sts:DecodeAuthorizationMessage).
    decoded = json.loads(aws_cli(server, alice, "sts", "decode-authorization-message", "--encoded-message", encoded)["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["context"]["action"] == "ec2:StopInstances"
    assert decoded["context"]["resource"] == f"arn:aws:ec2:{REGION}:{server.account_id}:instance/{INSTANCE}"
    assert decoded["context"]["principal"]["arn"] == f"arn:aws:iam::{server.account_id}:user/{name}"
    conditions = {c["key"]: [v["value"] for v in c["values"]["items"]] for c in decoded["context"]["conditions"]["items"]}
    assert conditions["aws:MultiFactorAuthPresent"] == ["false"]
    assert conditions["ec2:Region"] == [REGION]
    assert conditions["aws:ResourceTag/team"] == ["web"]

    # With MFA (the code after the one EnableMFADevice spent): allowed.
    code = totp.at(time.time() + 30)
    mfa = ec2(service, session_credentials(sts.get_session_token(SerialNumber=serial, TokenCode=code)))
    changes = mfa.stop_instances(InstanceIds=[INSTANCE])["StoppingInstances"]
    assert changes == [{"InstanceId": INSTANCE, "CurrentState": {"Code": 64, "Name": "stopping"},
                        "PreviousState": {"Code": 16, "Name": "running"}}]
    described = mfa.describe_instances(InstanceIds=[INSTANCE])["Reservations"][0]["Instances"][0]
    assert described["State"]["Name"] == "stopped"


def test_service_rejects_bad_signatures_and_unknown_callers(server: ServerInfo, service: str) -> None:
    _, creds = make_user(server, MFA_POLICY)
    wrong = Credentials(creds.access_key_id, "x" * 40)
    with pytest.raises(ClientError) as bad:
        ec2(service, wrong).describe_instances()
    assert bad.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = Credentials("AKIAIOSFODNN7EXAMPLE", "x" * 40)
    with pytest.raises(ClientError) as nobody:
        ec2(service, unknown).describe_instances()
    assert nobody.value.response["Error"]["Code"] == "InvalidClientTokenId"
    response = httpx.post(service + "/", data={"Action": "DescribeInstances", "Version": "2016-11-15"})
    assert response.status_code == 403 and b"MissingAuthenticationToken" in response.content
