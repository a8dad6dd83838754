"""Typed requests of the IAM role, managed-policy and account actions, decoded in-process (no server).

Each test feeds decoded Query parameters (as ``server/query.py`` produces them) to the action's
request decoder and checks the dataclass, or AWS's ValidationError with its members in reading order.
"""

from __future__ import annotations

from typing import Any

import pytest

from opensts.actions import REGISTRY
from opensts.api import load_actions
from opensts.errors import InvalidInput, ValidationError
from opensts.fields import NoParameters, request_decoder, secret_fields
from opensts.iam import account, managed_policies, roles
from opensts.iam.tagging import Tag

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}'
POLICY_ARN = "arn:aws:iam::123456789012:policy/team/reader"
MODULES = {roles.__name__, managed_policies.__name__, account.__name__}


def decode(action_name: str, params: dict[str, Any]) -> Any:
    return request_decoder(REGISTRY[("iam", action_name)].request_type)(params)


def failure(action_name: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as exc:
        decode(action_name, params)
    return str(exc.value)


@pytest.fixture(scope="module", autouse=True)
def registered() -> None:
    load_actions()


def test_every_action_here_is_typed_and_says_whether_it_writes() -> None:
    mine = {name: spec for (service, name), spec in REGISTRY.items() if spec.function.__module__ in MODULES}
    assert set(mine) == {
        "CreateRole", "GetRole", "ListRoles", "UpdateRole", "UpdateRoleDescription", "UpdateAssumeRolePolicy",
        "DeleteRole", "TagRole", "UntagRole", "ListRoleTags", "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "CreatePolicy", "GetPolicy", "ListPolicies", "DeletePolicy", "CreatePolicyVersion", "GetPolicyVersion",
        "ListPolicyVersions", "SetDefaultPolicyVersion", "DeletePolicyVersion", "AttachUserPolicy",
        "AttachRolePolicy", "AttachGroupPolicy", "DetachUserPolicy", "DetachRolePolicy", "DetachGroupPolicy",
        "ListAttachedUserPolicies", "ListAttachedRolePolicies", "ListAttachedGroupPolicies", "ListEntitiesForPolicy",
        "TagPolicy", "UntagPolicy", "ListPolicyTags",
        "GetAccountSummary", "GetAccountAuthorizationDetails",
    }
    readers = ("Get", "List")
    for name, spec in mine.items():
        assert spec.request_type is not type(None), name
        assert spec.function.__name__ != "handle", name
        assert spec.writes != name.startswith(readers), name
        assert not secret_fields(spec.request_type), name  # none of these carries a secret
    assert mine["GetAccountSummary"].request_type is NoParameters


def test_create_role_defaults() -> None:
    request = decode("CreateRole", {"RoleName": "app", "AssumeRolePolicyDocument": TRUST})
    assert request == roles.CreateRoleRequest(role_name="app", assume_role_policy_document=TRUST)
    assert request.path == "/"
    assert request.max_session_duration == 3600
    assert request.description is None and request.permissions_boundary is None
    assert request.tags == []


def test_create_role_every_field() -> None:
    request = decode(
        "CreateRole",
        {
            "RoleName": "app", "Path": "/team/", "AssumeRolePolicyDocument": TRUST, "Description": "for tests",
            "MaxSessionDuration": "7200", "PermissionsBoundary": POLICY_ARN,
            "Tags": [{"Key": "team", "Value": "blue"}, {"Key": "empty", "Value": ""}],
        },
    )
    assert request.path == "/team/" and request.description == "for tests"
    assert request.max_session_duration == 7200
    assert request.permissions_boundary == POLICY_ARN
    assert request.tags == [Tag("team", "blue"), Tag("empty", "")]


def test_create_role_failures_in_aws_order() -> None:
    message = failure("CreateRole", {"MaxSessionDuration": "100", "Path": "team"})
    assert message == (
        "4 validation errors detected: "
        "Value null at 'roleName' failed to satisfy constraint: Member must not be null; "
        "Value 'team' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F); "
        "Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null; "
        "Value '100' at 'maxSessionDuration' failed to satisfy constraint: "
        "Member must have value greater than or equal to 3600"
    )
    message = failure("CreateRole", {"RoleName": "x" * 65, "AssumeRolePolicyDocument": TRUST, "MaxSessionDuration": "43201"})
    assert message.startswith("2 validation errors detected: Value '" + "x" * 65 + "' at 'roleName'")
    assert message.endswith("at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200")


def test_create_role_duplicate_tag_keys_are_invalid_input() -> None:
    tags = [{"Key": "team", "Value": "a"}, {"Key": "TEAM", "Value": "b"}]
    with pytest.raises(InvalidInput, match="Duplicate tag keys found"):
        decode("CreateRole", {"RoleName": "app", "AssumeRolePolicyDocument": TRUST, "Tags": tags})


def test_update_role_leaves_absent_members_unset() -> None:
    request = decode("UpdateRole", {"RoleName": "app"})
    assert request == roles.UpdateRoleRequest(role_name="app")
    assert request.description is None and request.max_session_duration is None
    assert decode("UpdateRoleDescription", {"RoleName": "app", "Description": ""}).description == ""
    assert failure("UpdateRoleDescription", {"RoleName": "app"}) == (
        "1 validation error detected: Value null at 'description' failed to satisfy constraint: Member must not be null"
    )


def test_role_tag_requests() -> None:
    assert decode("TagRole", {"RoleName": "app", "Tags": [{"Key": "k", "Value": "v"}]}).tags == [Tag("k", "v")]
    assert failure("TagRole", {"RoleName": "bad name"}) == (
        "2 validation errors detected: "
        "Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+; "
        "Value null at 'tags' failed to satisfy constraint: Member must not be null"
    )
    assert decode("UntagRole", {"RoleName": "app", "TagKeys": ["k1", "k2"]}).tag_keys == ["k1", "k2"]
    assert "Value null at 'tagKeys'" in failure("UntagRole", {"RoleName": "app"})
    listed = decode("ListRoleTags", {"RoleName": "app"})
    assert (listed.marker, listed.max_items) == (None, 100)


def test_put_role_permissions_boundary_requires_an_arn_of_20_characters() -> None:
    assert failure("PutRolePermissionsBoundary", {"RoleName": "app", "PermissionsBoundary": "arn:short"}) == (
        "1 validation error detected: Value 'arn:short' at 'permissionsBoundary' failed to satisfy constraint: "
        "Member must have length greater than or equal to 20"
    )


def test_create_policy_defaults_and_policy_path_pattern() -> None:
    request = decode("CreatePolicy", {"PolicyName": "reader", "PolicyDocument": "{}"})
    assert request == managed_policies.CreatePolicyRequest(policy_name="reader", policy_document="{}")
    assert request.path == "/" and request.tags == [] and request.description is None
    assert "at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: ((/[A-Za-z0-9" in (
        failure("CreatePolicy", {"PolicyName": "reader", "PolicyDocument": "{}", "Path": "/no trailing"})
    )


def test_list_policies_defaults_and_enum_failures_in_order() -> None:
    request = decode("ListPolicies", {})
    assert request == managed_policies.ListPoliciesRequest()
    assert (request.scope, request.only_attached, request.path_prefix, request.policy_usage_filter) == (None, False, "/", None)
    assert request.max_items == 100
    request = decode("ListPolicies", {"Scope": "Local", "OnlyAttached": "true", "PolicyUsageFilter": "PermissionsBoundary"})
    assert (request.scope, request.only_attached, request.policy_usage_filter) == ("Local", True, "PermissionsBoundary")
    assert failure("ListPolicies", {"PolicyUsageFilter": "Both", "Scope": "Mine"}) == (
        "2 validation errors detected: "
        "Value 'Mine' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]; "
        "Value 'Both' at 'policyUsageFilter' failed to satisfy constraint: "
        "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]"
    )


def test_policy_version_requests() -> None:
    request = decode("CreatePolicyVersion", {"PolicyArn": POLICY_ARN, "PolicyDocument": "{}"})
    assert request.set_as_default is False
    assert decode("GetPolicyVersion", {"PolicyArn": POLICY_ARN, "VersionId": "v12"}).version_id == "v12"
    assert failure("GetPolicyVersion", {"VersionId": "v0"}) == (
        "2 validation errors detected: "
        "Value null at 'policyArn' failed to satisfy constraint: Member must not be null; "
        "Value 'v0' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?"
    )


def test_attachment_requests_use_each_kinds_name_shape() -> None:
    assert decode("AttachRolePolicy", {"RoleName": "app", "PolicyArn": POLICY_ARN}) == (
        managed_policies.RolePolicyAttachmentRequest(role_name="app", policy_arn=POLICY_ARN)
    )
    # Users take userNameType (1-64) here; groups groupNameType (1-128).
    assert "at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64" in (
        failure("DetachUserPolicy", {"UserName": "u" * 65, "PolicyArn": POLICY_ARN})
    )
    assert decode("AttachGroupPolicy", {"GroupName": "g" * 65, "PolicyArn": POLICY_ARN}).group_name == "g" * 65
    listed = decode("ListAttachedGroupPolicies", {"GroupName": "g"})
    assert (listed.path_prefix, listed.marker, listed.max_items) == ("/", None, 100)


def test_list_entities_for_policy() -> None:
    request = decode("ListEntitiesForPolicy", {"PolicyArn": POLICY_ARN, "EntityFilter": "Role", "MaxItems": "5"})
    assert (request.entity_filter, request.path_prefix, request.policy_usage_filter, request.max_items) == ("Role", "/", None, 5)
    assert failure("ListEntitiesForPolicy", {"PolicyArn": POLICY_ARN, "EntityFilter": "Users", "MaxItems": "0"}) == (
        "2 validation errors detected: "
        "Value 'Users' at 'entityFilter' failed to satisfy constraint: "
        "Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]; "
        "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
    )


def test_policy_tag_requests() -> None:
    assert decode("TagPolicy", {"PolicyArn": POLICY_ARN, "Tags": [{"Key": "k", "Value": "v"}]}).tags == [Tag("k", "v")]
    assert failure("TagPolicy", {"PolicyArn": POLICY_ARN, "Tags": [{"Key": "k"}]}) == (
        "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"
    )
    assert decode("UntagPolicy", {"PolicyArn": POLICY_ARN, "TagKeys": ["k"]}).tag_keys == ["k"]


def test_account_requests() -> None:
    assert decode("GetAccountSummary", {}) == NoParameters()
    request = decode("GetAccountAuthorizationDetails", {})
    assert (request.filter, request.marker, request.max_items) == ([], None, 100)
    assert decode("GetAccountAuthorizationDetails", {"Filter": ["User", "Role"]}).filter == ["User", "Role"]
    assert failure("GetAccountAuthorizationDetails", {"MaxItems": "1001", "Filter": ["User", "Users"]}) == (
        "2 validation errors detected: "
        "Value 'Users' at 'filter.2.member' failed to satisfy constraint: "
        "Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]; "
        "Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"
    )
