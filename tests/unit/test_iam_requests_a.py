"""Typed requests of the group, access-key, inline-policy and absent-entity actions, in-process.

Each request is decoded from Query parameters as the edge does (``opensts.fields.request_decoder``),
with no server and no store: valid parameters give the dataclass with its defaults, invalid ones
AWS's "N validation errors detected" message naming each member, in parameter order.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from opensts.api import load_actions
from opensts.errors import ValidationError
from opensts.fields import REDACTED, redacted, request_decoder
from opensts.iam import access_keys, groups, inline_policies, instance_profiles, service_specific_credentials
from opensts.server.xml import success_body

MODULES = (groups, access_keys, inline_policies, instance_profiles)


def decode(request_type, params):  # type: ignore[no-untyped-def]
    return request_decoder(request_type)(params)


def failure(request_type, params) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as info:
        decode(request_type, params)
    return info.value.message


def test_every_action_is_typed_and_declares_its_writes() -> None:
    mine = {key: spec for key, spec in load_actions().items() if spec.function.__module__ in {m.__name__ for m in MODULES}}
    assert len(mine) == 35
    assert all(spec.request_type is not type(None) for spec in mine.values())
    writes = {name for (_, name), spec in mine.items() if spec.writes}
    assert writes == {
        "CreateGroup", "UpdateGroup", "DeleteGroup", "AddUserToGroup", "RemoveUserFromGroup",
        "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
        "PutUserPolicy", "DeleteUserPolicy", "PutRolePolicy", "DeleteRolePolicy", "PutGroupPolicy", "DeleteGroupPolicy",
        "CreateInstanceProfile", "DeleteInstanceProfile", "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile",
        "TagInstanceProfile", "UntagInstanceProfile",
    }
    for (_, name), spec in mine.items():  # the function is named after the action
        assert spec.function.__name__.replace("_", "") == name.lower()


# --- Groups ---------------------------------------------------------------------------------------
def test_group_requests_decode_with_defaults() -> None:
    assert decode(groups.CreateGroupRequest, {"GroupName": "admins"}) == groups.CreateGroupRequest(
        group_name="admins", path="/"
    )
    got = decode(groups.GetGroupRequest, {"GroupName": "admins", "Marker": "bob"})
    assert (got.group_name, got.marker, got.max_items) == ("admins", "bob", 100)
    update = decode(groups.UpdateGroupRequest, {"GroupName": "a", "NewPath": "/ops/"})
    assert (update.new_path, update.new_group_name) == ("/ops/", None)
    assert decode(groups.ListGroupsRequest, {}) == groups.ListGroupsRequest(path_prefix="/", marker=None, max_items=100)


def test_group_request_failures_name_members_in_order() -> None:
    assert failure(groups.GroupMemberRequest, {}) == (
        "2 validation errors detected: "
        "Value null at 'groupName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'userName' failed to satisfy constraint: Member must not be null"
    )
    assert failure(groups.UpdateGroupRequest, {"GroupName": "g", "NewPath": "ops", "NewGroupName": "x" * 129}) == (
        "2 validation errors detected: "
        "Value 'ops' at 'newPath' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F); "
        f"Value '{'x' * 129}' at 'newGroupName' failed to satisfy constraint: Member must have length less than or equal to 128"
    )


# --- Access keys ----------------------------------------------------------------------------------
def test_access_key_requests_decode() -> None:
    assert decode(access_keys.CreateAccessKeyRequest, {}).user_name is None
    got = decode(access_keys.UpdateAccessKeyRequest, {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Inactive"})
    assert got == access_keys.UpdateAccessKeyRequest(user_name=None, access_key_id="AKIAIOSFODNN7EXAMPLE", status="Inactive")
    listed = decode(access_keys.ListAccessKeysRequest, {"UserName": "bob", "MaxItems": "2"})
    assert (listed.user_name, listed.marker, listed.max_items) == ("bob", None, 2)


def test_access_key_request_failures() -> None:
    assert failure(access_keys.UpdateAccessKeyRequest, {"AccessKeyId": "AKIA-NOT-A-KEY-ID", "Status": "Sleeping"}) == (
        "2 validation errors detected: "
        "Value 'AKIA-NOT-A-KEY-ID' at 'accessKeyId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w]+; "
        "Value 'Sleeping' at 'status' failed to satisfy constraint: Member must satisfy enum value set: "
        "[Active, Inactive, Expired]"
    )
    assert failure(access_keys.GetAccessKeyLastUsedRequest, {"AccessKeyId": "AKIA"}) == (
        "1 validation error detected: Value 'AKIA' at 'accessKeyId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 16"
    )


def test_create_access_key_result_hides_the_secret() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    result = access_keys.CreateAccessKeyResult(access_keys.AccessKey("bob", "AKIAIOSFODNN7EXAMPLE", "Active", secret, when))
    shown = redacted(result)
    assert shown == {
        "accessKey": {
            "userName": "bob", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "status": "Active",
            "secretAccessKey": REDACTED, "createDate": when.isoformat(),
        }
    }
    assert secret not in json.dumps(shown)
    # The mark is for logs only: the caller still gets the secret, under its usual name.
    body = success_body("iam", "CreateAccessKey", result, "req-1").decode()
    assert f"<SecretAccessKey>{secret}</SecretAccessKey>" in body


# --- Inline policies ------------------------------------------------------------------------------
def test_inline_policy_requests_decode() -> None:
    doc = '{"Version": "2012-10-17", "Statement": []}'
    put = decode(inline_policies.PutRolePolicyRequest, {"RoleName": "r", "PolicyName": "p", "PolicyDocument": doc})
    assert put == inline_policies.PutRolePolicyRequest(role_name="r", policy_name="p", policy_document=doc)
    listed = decode(inline_policies.ListGroupPoliciesRequest, {"GroupName": "g"})
    assert (listed.group_name, listed.marker, listed.max_items) == ("g", None, 100)
    # UserName and GroupName may be 128 characters long, RoleName 64.
    assert decode(inline_policies.GetUserPolicyRequest, {"UserName": "u" * 128, "PolicyName": "p"}).user_name == "u" * 128


def test_inline_policy_request_failures() -> None:
    assert failure(inline_policies.PutUserPolicyRequest, {}) == (
        "3 validation errors detected: "
        "Value null at 'userName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'policyName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"
    )
    assert failure(inline_policies.DeleteRolePolicyRequest, {"RoleName": "r" * 65, "PolicyName": "p"}) == (
        f"1 validation error detected: Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )
    assert "at 'groupName'" in failure(inline_policies.GetGroupPolicyRequest, {"GroupName": "bad name", "PolicyName": "p"})


# --- Instance profiles ----------------------------------------------------------------------------
def test_instance_profile_requests() -> None:
    assert decode(instance_profiles.ListInstanceProfilesRequest, {}).path_prefix == "/"
    assert decode(instance_profiles.ListInstanceProfilesRequest, {"PathPrefix": "/a\x7f"}).path_prefix == "/a\x7f"
    assert failure(instance_profiles.ListInstanceProfilesForRoleRequest, {"MaxItems": "0"}) == (
        "2 validation errors detected: "
        "Value null at 'roleName' failed to satisfy constraint: Member must not be null; "
        "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
    )
    assert decode(instance_profiles.CreateInstanceProfileRequest, {"InstanceProfileName": "web"}) == (
        instance_profiles.CreateInstanceProfileRequest(instance_profile_name="web", path="/", tags=[])
    )
    assert failure(instance_profiles.InstanceProfileRoleRequest, {"InstanceProfileName": "a b", "RoleName": "r"}) == (
        "1 validation error detected: Value 'a b' at 'instanceProfileName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    )



# --- Service-specific credentials -----------------------------------------------------------------
def test_service_specific_credential_list_request() -> None:
    got = decode(service_specific_credentials.ListServiceSpecificCredentialsRequest, {"ServiceName": "codecommit.amazonaws.com"})
    assert (got.user_name, got.service_name, got.max_items) == (None, "codecommit.amazonaws.com", 100)
