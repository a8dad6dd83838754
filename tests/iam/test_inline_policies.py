"""Inline policies of users, roles and groups over HTTP with boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from opensts.policy import policy_size
from tests.conftest import ServerInfo, random_name
from tests.iam.test_roles import error, trust


def doc(*actions: str, pad: int = 0) -> dict:
    statement: dict = {"Effect": "Allow", "Action": list(actions) or ["s3:GetObject"], "Resource": "*"}
    if pad:
        statement["Resource"] = ["arn:aws:s3:::" + "b" * pad]
    return {"Version": "2012-10-17", "Statement": [statement]}


def make_owner(iam, server: ServerInfo, kind: str) -> str:  # type: ignore[no-untyped-def]
    name = random_name(kind)
    if kind == "user":
        iam.create_user(UserName=name)
    elif kind == "role":
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id))
    else:
        iam.create_group(GroupName=name)
    return name


def calls(iam, kind: str):  # type: ignore[no-untyped-def]
    label = kind.capitalize()
    key = f"{label}Name"
    put = getattr(iam, f"put_{kind}_policy")
    get = getattr(iam, f"get_{kind}_policy")
    lst = getattr(iam, f"list_{kind}_policies")
    delete = getattr(iam, f"delete_{kind}_policy")
    return key, put, get, lst, delete


@pytest.mark.parametrize("kind", ["user", "role", "group"])
def test_put_get_list_delete(iam, server: ServerInfo, kind: str) -> None:  # type: ignore[no-untyped-def]
    owner = make_owner(iam, server, kind)
    key, put, get, lst, delete = calls(iam, kind)
    document = doc("s3:GetObject", "s3:PutObject")
    put(**{key: owner}, PolicyName="b-policy", PolicyDocument=json.dumps(document))
    put(**{key: owner}, PolicyName="a-policy", PolicyDocument=json.dumps(doc()))
    got = get(**{key: owner}, PolicyName="b-policy")
    assert got[key] == owner and got["PolicyName"] == "b-policy"
    assert got["PolicyDocument"] == document  # URL-encoded in XML, decoded by botocore
    assert lst(**{key: owner})["PolicyNames"] == ["a-policy", "b-policy"]
    page = lst(**{key: owner}, MaxItems=1)
    assert page["IsTruncated"] and page["PolicyNames"] == ["a-policy"]
    assert lst(**{key: owner}, Marker=page["Marker"])["PolicyNames"] == ["b-policy"]
    # Put replaces a policy of the same name.
    put(**{key: owner}, PolicyName="b-policy", PolicyDocument=json.dumps(doc("s3:ListBucket")))
    assert get(**{key: owner}, PolicyName="b-policy")["PolicyDocument"]["Statement"][0]["Action"] == ["s3:ListBucket"]
    delete(**{key: owner}, PolicyName="b-policy")
    assert lst(**{key: owner})["PolicyNames"] == ["a-policy"]
    with pytest.raises(ClientError) as exc:
        get(**{key: owner}, PolicyName="b-policy")
    assert error(exc) == ("NoSuchEntity", 404, f"The {kind} policy with name b-policy cannot be found.")
    with pytest.raises(ClientError) as exc:
        delete(**{key: owner}, PolicyName="b-policy")
    assert error(exc)[:2] == ("NoSuchEntity", 404)


@pytest.mark.parametrize("kind", ["user", "role", "group"])
def test_missing_owner(iam, kind: str) -> None:  # type: ignore[no-untyped-def]
    key, put, get, lst, delete = calls(iam, kind)
    message = f"The {kind} with name nobody-{kind} cannot be found."
    for call in (
        lambda: put(**{key: f"nobody-{kind}"}, PolicyName="p", PolicyDocument=json.dumps(doc())),
        lambda: get(**{key: f"nobody-{kind}"}, PolicyName="p"),
        lambda: lst(**{key: f"nobody-{kind}"}),
        lambda: delete(**{key: f"nobody-{kind}"}, PolicyName="p"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("NoSuchEntity", 404, message)


@pytest.mark.parametrize("kind,limit", [("user", 2048), ("role", 10240), ("group", 5120)])
def test_aggregate_size_quota(iam, server: ServerInfo, kind: str, limit: int) -> None:  # type: ignore[no-untyped-def]
    owner = make_owner(iam, server, kind)
    key, put, _, _, delete = calls(iam, kind)
    def size(pad: int) -> int:
        return policy_size(json.dumps(doc(pad=pad)))

    base = size(1) - 1
    first_pad = limit // 2 - base
    second_pad = limit - size(first_pad) - base
    # Exactly at the quota is allowed; whitespace is not counted (pretty-printed documents).
    put(**{key: owner}, PolicyName="first", PolicyDocument=json.dumps(doc(pad=first_pad), indent=4))
    put(**{key: owner}, PolicyName="second", PolicyDocument=json.dumps(doc(pad=second_pad), indent=4))
    with pytest.raises(ClientError) as exc:
        put(**{key: owner}, PolicyName="third", PolicyDocument=json.dumps(doc(pad=1)))
    assert error(exc) == ("LimitExceeded", 409, f"Maximum policy size of {limit} bytes exceeded for {kind} {owner}")
    # Replacing a policy counts its new size instead of the old one.
    put(**{key: owner}, PolicyName="first", PolicyDocument=json.dumps(doc(pad=first_pad - size(1))))
    put(**{key: owner}, PolicyName="third", PolicyDocument=json.dumps(doc(pad=1)))
    delete(**{key: owner}, PolicyName="first")


def test_policy_document_validation(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    role = make_owner(iam, server, "role")
    bad = [
        "not json",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}),
    ]
    for document in bad:
        with pytest.raises(ClientError) as exc:
            iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=document)
        code, status, message = error(exc)
        assert (code, status) == ("MalformedPolicyDocument", 400) and message
    with pytest.raises(ClientError) as exc:
        iam.put_role_policy(RoleName=role, PolicyName="bad name!", PolicyDocument=json.dumps(doc()))
    assert error(exc)[0] == "ValidationError"
    # Inline policies may still use the 2008 grammar version (managed policies may not).
    old = {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role, PolicyName="old", PolicyDocument=json.dumps(old))
