"""Access keys over HTTP with boto3: create (≤ 2 per user), list, update status, delete, last used."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from opensts.identity import ids
from tests.conftest import Credentials, random_name
from tests.iam.conftest import allow, make_user
from tests.iam.test_users import error_of, with_policy


def test_create_list_delete_access_key(server, iam) -> None:
    name = random_name("keys")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["UserName"] == name
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert ids.account_from_access_key_id(key["AccessKeyId"]) == server.account_id
    assert len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active"
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [(k["UserName"], k["AccessKeyId"], k["Status"]) for k in listed] == [(name, key["AccessKeyId"], "Active")]
    assert "SecretAccessKey" not in listed[0]
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    with pytest.raises(ClientError) as info:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    assert error_of(info) == ("NoSuchEntity", f"The Access Key with id {key['AccessKeyId']} cannot be found.", 404)


def test_at_most_two_keys_per_user(iam) -> None:
    name = random_name("two")
    iam.create_user(UserName=name)
    iam.create_access_key(UserName=name)
    iam.create_access_key(UserName=name)
    with pytest.raises(ClientError) as info:
        iam.create_access_key(UserName=name)
    assert error_of(info) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)


def test_create_access_key_for_missing_user(iam) -> None:
    with pytest.raises(ClientError) as info:
        iam.create_access_key(UserName="no-such-user-xyz")
    assert error_of(info) == ("NoSuchEntity", "The user with name no-such-user-xyz cannot be found.", 404)


def test_deleted_key_stops_working_at_once(server, iam) -> None:
    name, creds = make_user(server)
    sts = server.client("sts", creds)
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
    iam.delete_access_key(UserName=name, AccessKeyId=creds.access_key_id)
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert error_of(info) == ("InvalidClientTokenId", "The security token included in the request is invalid.", 403)


def test_user_manages_own_keys_without_user_name(server) -> None:
    name, creds = with_policy(server, allow(["iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey"]))
    client = server.client("iam", creds)
    second = client.create_access_key()["AccessKey"]
    assert second["UserName"] == name
    ids_listed = {k["AccessKeyId"] for k in client.list_access_keys()["AccessKeyMetadata"]}
    assert ids_listed == {creds.access_key_id, second["AccessKeyId"]}
    client.delete_access_key(AccessKeyId=second["AccessKeyId"])
    assert [k["AccessKeyId"] for k in client.list_access_keys()["AccessKeyMetadata"]] == [creds.access_key_id]


def test_update_access_key_status(server, iam) -> None:
    name, creds = make_user(server)
    sts = server.client("sts", creds)
    iam.update_access_key(UserName=name, AccessKeyId=creds.access_key_id, Status="Inactive")
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    assert error_of(info)[0] == "InvalidClientTokenId"
    iam.update_access_key(UserName=name, AccessKeyId=creds.access_key_id, Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
    with pytest.raises(ClientError) as info:
        iam.update_access_key(UserName=name, AccessKeyId=creds.access_key_id, Status="Sleeping")
    code, message, status = error_of(info)
    assert (code, status) == ("ValidationError", 400)
    assert "Value 'Sleeping' at 'status' failed to satisfy constraint: Member must satisfy enum value set" in message


def test_key_of_another_user_is_not_found(server, iam) -> None:
    first, first_creds = make_user(server)
    second, _ = make_user(server)
    with pytest.raises(ClientError) as info:
        iam.update_access_key(UserName=second, AccessKeyId=first_creds.access_key_id, Status="Inactive")
    assert error_of(info) == ("NoSuchEntity", f"The Access Key with id {first_creds.access_key_id} cannot be found.", 404)
    with pytest.raises(ClientError) as info:
        iam.delete_access_key(UserName=second, AccessKeyId=first_creds.access_key_id)
    assert error_of(info)[0] == "NoSuchEntity"
    # The root, without UserName, works on root keys only.
    with pytest.raises(ClientError) as info:
        iam.delete_access_key(AccessKeyId=first_creds.access_key_id)
    assert error_of(info)[0] == "NoSuchEntity"


def test_access_key_id_validation(iam) -> None:
    with pytest.raises(ClientError) as info:
        iam.delete_access_key(UserName="someone", AccessKeyId="AKIA-NOT-A-KEY-ID")
    assert error_of(info)[1] == (
        "1 validation error detected: Value 'AKIA-NOT-A-KEY-ID' at 'accessKeyId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w]+"
    )


def test_root_keys_without_user_name(server, iam) -> None:
    listed = iam.list_access_keys()["AccessKeyMetadata"]
    assert server.root.access_key_id in {k["AccessKeyId"] for k in listed}
    assert all("UserName" not in k for k in listed)
    created = None
    if len(listed) < 2:
        created = iam.create_access_key()["AccessKey"]
        assert "UserName" not in created
        root2 = server.client("sts", Credentials(created["AccessKeyId"], created["SecretAccessKey"]))
        assert root2.get_caller_identity()["Arn"] == f"arn:aws:iam::{server.account_id}:root"
    with pytest.raises(ClientError) as info:
        iam.create_access_key()
    assert error_of(info)[0] == "LimitExceeded"
    if created:
        iam.delete_access_key(AccessKeyId=created["AccessKeyId"])


def test_get_access_key_last_used(server, iam) -> None:
    name = random_name("lu")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    server.client("sts", Credentials(key["AccessKeyId"], key["SecretAccessKey"])).get_caller_identity()
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "sts" and used["Region"] == "us-east-1"
    assert "LastUsedDate" in used
    with pytest.raises(ClientError) as info:
        iam.get_access_key_last_used(AccessKeyId="AKIAIOSFODNN7EXAMPLE")
    assert error_of(info) == ("NoSuchEntity", "The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.", 404)


def test_last_used_is_written_by_the_background_flush(server, iam) -> None:
    """The request path only notes the use in memory; a background thread writes it (≤ ~5 s)."""
    import time

    from sqlalchemy import create_engine, select

    from opensts.store import schema
    from opensts.store.db import normalise_url

    name, creds = make_user(server)
    server.client("sts", creds).get_caller_identity()
    engine = create_engine(normalise_url(server.database_url))
    try:
        deadline = time.monotonic() + 15
        while True:
            with engine.connect() as conn:
                row = conn.execute(
                    select(schema.access_keys.c.last_used_at, schema.access_keys.c.last_used_service).where(
                        schema.access_keys.c.access_key_id == creds.access_key_id
                    )
                ).first()
            if row is not None and row.last_used_at is not None:
                assert row.last_used_service == "sts"
                break
            assert time.monotonic() < deadline, "last use was never written"
            time.sleep(0.5)
    finally:
        engine.dispose()


def test_aws_cli_create_user_and_key(server, tmp_path) -> None:
    import json as jsonlib
    import os
    import subprocess
    import sys

    name = random_name("cli")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.root.access_key_id,
        "AWS_SECRET_ACCESS_KEY": server.root.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)

    def cli(*args: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "awscli", "iam", *args, "--endpoint-url", server.url, "--output", "json"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return jsonlib.loads(out.stdout) if out.stdout.strip() else {}

    user = cli("create-user", "--user-name", name, "--path", "/cli/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{server.account_id}:user/cli/{name}"
    key = cli("create-access-key", "--user-name", name)["AccessKey"]
    assert key["UserName"] == name and key["Status"] == "Active"
    listed = cli("list-access-keys", "--user-name", name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    identity = server.client("sts", Credentials(key["AccessKeyId"], key["SecretAccessKey"])).get_caller_identity()
    assert identity["Arn"] == user["Arn"] and identity["UserId"] == user["UserId"]
