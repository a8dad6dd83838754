"""The credential report over HTTP with boto3 and the AWS CLI: AWS's CSV columns and values, the
root row, keys with their last use, MFA, the 4-hour lifetime, errors and authorization.

Each test uses an account of its own (a report is per account and lasts four hours)."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import botocore.auth
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import delete

from opensts.iam.credential_report import ABANDONED_AFTER, REPORT_LIFETIME
from opensts.store import schema
from opensts.store.db import Database, create_store_engine
from opensts.store.iam_report_jobs import ReportJobRepository
from tests.conftest import aws_cli, Credentials, REGION, ServerInfo
from tests.iam.conftest import allow
from tests.iam.test_mfa import enabled_device
from tests.iam.test_server_certificates import make_cert, make_key, pem
from tests.iam.test_users import error_of
from tests.server.test_audit_lookup import new_account

# https://docs.aws.amazon.com/IAM/latest/UserGuide/credential-reports.html (report format), in order.
AWS_COLUMNS = [
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
    "password_next_rotation", "mfa_active", "access_key_1_active", "access_key_1_last_rotated",
    "access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service", "cert_1_active", "cert_1_last_rotated",
    "cert_2_active", "cert_2_last_rotated",
]


@pytest.fixture
def account(server: ServerInfo) -> Credentials:
    return new_account(server)


def account_id(server: ServerInfo, creds: Credentials) -> str:
    return server.client("sts", creds).get_caller_identity()["Account"]


def report_rows(iam) -> tuple[list[str], dict[str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    content = iam.get_credential_report()["Content"]
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"))))
    header = rows[0]
    return header, {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}


def iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert value.endswith("+00:00") and parsed.microsecond == 0, value  # AWS: 2026-12-03T17:04:41+00:00
    return parsed


def test_generate_then_get(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    with pytest.raises(ClientError) as info:
        iam.get_credential_report()
    assert error_of(info)[0::2] == ("ReportNotPresent", 410)
    first = iam.generate_credential_report()
    assert first["State"] == "STARTED" and first["Description"]
    # A new report at most every four hours: the next calls report the current one complete.
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    got = iam.get_credential_report()
    assert got["ReportFormat"] == "text/csv"
    assert abs(got["GeneratedTime"] - datetime.now(timezone.utc)) < timedelta(minutes=2)
    header, rows = report_rows(iam)
    assert header == AWS_COLUMNS
    assert list(rows) == ["<root_account>"]  # a new account: the root only, first
    root = rows["<root_account>"]
    number = account_id(server, account)
    assert root["arn"] == f"arn:aws:iam::{number}:root"
    iso(root["user_creation_time"])
    assert [root[c] for c in ("password_enabled", "password_last_changed", "password_next_rotation")] == ["not_supported"] * 3
    assert root["mfa_active"] == "false"
    # The account's root key (made by `opensts account create`) has signed the calls above.
    assert root["access_key_1_active"] == "true"
    iso(root["access_key_1_last_rotated"])
    assert root["access_key_1_last_used_service"] in ("iam", "sts") and root["access_key_1_last_used_region"] == REGION
    assert [root[c] for c in AWS_COLUMNS[13:]] == ["false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"]
    # The audit trail records the call, not the report.
    events = server.client("cloudtrail", account).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCredentialReport"}]
    )["Events"]
    record = json.loads(events[0]["CloudTrailEvent"])
    assert record["responseElements"]["content"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert record["responseElements"]["reportFormat"] == "text/csv"


def test_user_rows(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    number = account_id(server, account)
    iam.create_user(UserName="zed-no-key", Path="/ops/")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    second = iam.create_access_key(UserName="alice")["AccessKey"]
    iam.update_access_key(UserName="alice", AccessKeyId=second["AccessKeyId"], Status="Inactive")
    # Alice's first key is used once, for STS.
    server.client("sts", Credentials(key["AccessKeyId"], key["SecretAccessKey"])).get_caller_identity()
    iam.create_user(UserName="bob-mfa")
    enabled_device(server, iam, "bob-mfa")

    assert iam.generate_credential_report()["State"] == "STARTED"
    header, rows = report_rows(iam)
    assert header == AWS_COLUMNS
    assert list(rows) == ["<root_account>", "alice", "bob-mfa", "zed-no-key"]  # root first, users by name

    alice = rows["alice"]
    assert alice["arn"] == f"arn:aws:iam::{number}:user/alice"
    iso(alice["user_creation_time"])
    assert [alice[c] for c in AWS_COLUMNS[3:8]] == ["false", "N/A", "N/A", "N/A", "false"]  # no password, no MFA
    # Keys 1 and 2 are in order of creation; both were made within one second here, so either may
    # come first: one is active and used once, for STS, the other inactive and never used.
    key_columns = [AWS_COLUMNS[8:13], AWS_COLUMNS[13:18]]
    used, unused = sorted(([alice[c] for c in cols] for cols in key_columns), key=lambda k: k[0] != "true")
    assert used[0] == "true"
    assert iso(used[1]) <= iso(used[2])  # created, then used
    assert abs(iso(used[2]) - datetime.now(timezone.utc)) < timedelta(minutes=2)
    assert used[3:] == [REGION, "sts"]
    assert unused[0] == "false" and unused[2:] == ["N/A", "N/A", "N/A"]
    iso(unused[1])
    assert [alice[c] for c in AWS_COLUMNS[18:]] == ["false", "N/A", "false", "N/A"]

    assert rows["bob-mfa"]["mfa_active"] == "true"
    zed = rows["zed-no-key"]
    assert zed["arn"] == f"arn:aws:iam::{number}:user/ops/zed-no-key"
    assert [zed[c] for c in AWS_COLUMNS[7:]] == ["false"] + ["false", "N/A", "N/A", "N/A", "N/A"] * 2 + ["false", "N/A"] * 2


def test_report_expires_after_four_hours(clock: ServerInfo, account: Credentials, monkeypatch: pytest.MonkeyPatch) -> None:
    iam = clock.client("iam", account)
    assert iam.generate_credential_report()["State"] == "STARTED"
    generated = iam.get_credential_report()["GeneratedTime"]
    later = REPORT_LIFETIME + timedelta(minutes=1)
    clock.set_clock_offset(later.total_seconds())
    # Sign as of the server's moved clock (it allows 5 minutes of skew).
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() + later)
    with pytest.raises(ClientError) as info:
        iam.get_credential_report()
    assert error_of(info)[0::2] == ("ReportExpired", 410)
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.get_credential_report()["GeneratedTime"] - generated >= REPORT_LIFETIME


def test_report_in_progress(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    number = account_id(server, account)
    engine = create_store_engine(server.database_url)
    try:
        # Another node has claimed the first generation and not finished it.
        state, _ = ReportJobRepository(Database(engine)).claim_credential_report(
            number, datetime.now(timezone.utc), fresh=REPORT_LIFETIME, abandoned=ABANDONED_AFTER
        )
        assert state == "STARTED"
        with pytest.raises(ClientError) as info:
            iam.get_credential_report()
        assert error_of(info)[0::2] == ("ReportInProgress", 404)
        assert iam.generate_credential_report()["State"] == "INPROGRESS"
    finally:
        with engine.begin() as conn:
            conn.execute(delete(schema.credential_reports).where(schema.credential_reports.c.account_id == number))
        engine.dispose()


def test_access_denied_without_permission(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    number = account_id(server, account)
    for name, policy in (("nobody", None), ("reader", allow("iam:GetCredentialReport"))):
        iam.create_user(UserName=name)
        if policy:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    keys = {n: iam.create_access_key(UserName=n)["AccessKey"] for n in ("nobody", "reader")}
    creds = {n: Credentials(k["AccessKeyId"], k["SecretAccessKey"]) for n, k in keys.items()}
    nobody = server.client("iam", creds["nobody"])
    for call, action in ((nobody.generate_credential_report, "GenerateCredentialReport"),
                         (nobody.get_credential_report, "GetCredentialReport")):
        with pytest.raises(ClientError) as info:
            call()
        assert error_of(info) == (
            "AccessDenied",
            f"User: arn:aws:iam::{number}:user/nobody is not authorized to perform: iam:{action} on resource: *",
            403,
        )
    reader = server.client("iam", creds["reader"])
    with pytest.raises(ClientError) as info:
        reader.generate_credential_report()
    assert error_of(info)[0] == "AccessDenied"
    with pytest.raises(ClientError) as info:
        reader.get_credential_report()  # allowed, and no report yet
    assert error_of(info)[0] == "ReportNotPresent"


def test_aws_cli(server: ServerInfo, account: Credentials, tmp_path: Path) -> None:
    def cli(*args: str) -> dict:
        return aws_cli(server, tmp_path, "iam", *args, credentials=account)

    assert cli("generate-credential-report")["State"] == "STARTED"
    got = cli("get-credential-report")
    assert got["ReportFormat"] == "text/csv"
    lines = base64.b64decode(got["Content"]).decode().splitlines()  # the CLI prints blobs base64-encoded
    assert lines[0].split(",") == AWS_COLUMNS and lines[1].startswith("<root_account>,")


def test_password_and_certificate_columns(server: ServerInfo, account: Credentials) -> None:
    """A user with a console password and a signing certificate, under a policy whose passwords
    expire after 90 days: the password and certificate columns say so, as AWS's report does."""
    iam = server.client("iam", account)
    iam.update_account_password_policy(MinimumPasswordLength=12, MaxPasswordAge=90)
    iam.create_user(UserName="carol")
    iam.create_login_profile(UserName="carol", Password="Correct-Horse-9-battery")
    iam.upload_signing_certificate(UserName="carol", CertificateBody=pem(make_cert(make_key(), "carol")))
    iam.generate_credential_report()
    _, rows = report_rows(iam)
    carol = rows["carol"]
    assert carol["password_enabled"] == "true"
    assert carol["password_last_used"] == "no_information"  # no console sign-in yet
    changed = iso(carol["password_last_changed"])
    assert abs(changed - datetime.now(timezone.utc)) < timedelta(minutes=2)
    assert iso(carol["password_next_rotation"]) == changed + timedelta(days=90)
    assert carol["cert_1_active"] == "true" and carol["cert_2_active"] == "false"
    iso(carol["cert_1_last_rotated"])
    assert rows["<root_account>"]["password_enabled"] == "not_supported"
