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
