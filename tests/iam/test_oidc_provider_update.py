"""UpdateOpenIDConnectProvider (and the same settings on CreateOpenIDConnectProvider) over HTTP with
boto3 and the AWS CLI: the trusted identity propagation context provider and the IAM Identity Center
association are validated, stored and reported by GetOpenIDConnectProvider."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import aws_cli, random_name, ServerInfo
from tests.iam.conftest import allow, make_user

THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
INSTANCE = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
CONTEXT = {
    "SubjectSourceKey": "sub",
    "SubjectTypeValue": "workload",
    "KeyDefinitionList": [{"SourceKey": "email", "TargetKey": "user:email"}, {"SourceKey": "groups"}],
}


def fails(call, code: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == code, exc.value.response["Error"]["Message"]
    return exc.value.response["Error"]["Message"]


def provider(iam, **extra) -> str:  # type: ignore[no-untyped-def]
    url = f"https://{random_name('idp')}.example.test/realms/dev"
    return iam.create_open_id_connect_provider(Url=url, ClientIDList=["app"], ThumbprintList=[THUMB], **extra)[
        "OpenIDConnectProviderArn"
    ]


def test_set_change_and_remove(iam) -> None:  # type: ignore[no-untyped-def]
    arn = provider(iam)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert "ContextProvider" not in got and "IdentityCenterInstanceArn" not in got

    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, ContextProvider=CONTEXT)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ContextProvider"] == CONTEXT
    assert got["ClientIDList"] == ["app"] and got["ThumbprintList"] == [THUMB]  # untouched

    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, IdentityCenterInstanceArn=INSTANCE)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["IdentityCenterInstanceArn"] == INSTANCE and got["ContextProvider"] == CONTEXT
    assert "IdentityStoreArn" not in got  # no Identity Center to resolve it from

    # Replacing the context provider keeps the association.
    replacement = {"SubjectSourceKey": "sub", "SubjectTypeSourceKey": "kind"}
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, ContextProvider=replacement)
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ContextProvider"] == replacement

    # The context provider goes only after the association.
    fails(lambda: iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveContextProvider=True),
          "InvalidInput")
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveIdentityCenterInstance=True)
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveContextProvider=True)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert "ContextProvider" not in got and "IdentityCenterInstanceArn" not in got
    # Removing what is not there is a no-op.
    iam.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, RemoveContextProvider=True)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_create_with_settings(iam) -> None:  # type: ignore[no-untyped-def]
    arn = provider(iam, ContextProvider={"SubjectSourceKey": "sub"}, IdentityCenterInstanceArn=INSTANCE)
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ContextProvider"] == {"SubjectSourceKey": "sub"} and got["IdentityCenterInstanceArn"] == INSTANCE
    # An instance needs a context provider.
    fails(lambda: provider(iam, IdentityCenterInstanceArn=INSTANCE), "InvalidInput")
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_invalid_requests(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    arn = provider(iam)
    update = iam.update_open_id_connect_provider
    for kwargs in (
        {},  # nothing to change
        {"ContextProvider": CONTEXT, "RemoveContextProvider": True},
        {"IdentityCenterInstanceArn": INSTANCE, "RemoveIdentityCenterInstance": True},
        {"ContextProvider": CONTEXT, "IdentityCenterInstanceArn": INSTANCE},  # one setting per request
        {"IdentityCenterInstanceArn": "arn:aws:iam::123456789012:role/x"},
        {"IdentityCenterInstanceArn": INSTANCE},  # no context provider yet
        {"ContextProvider": {"SubjectSourceKey": "sub", "SubjectTypeValue": "u", "SubjectTypeSourceKey": "t"}},
    ):
        fails(lambda: update(OpenIDConnectProviderArn=arn, **kwargs), "InvalidInput")
    message = fails(lambda: update(OpenIDConnectProviderArn=arn, ContextProvider={"SubjectSourceKey": " two  spaces"}),
                    "ValidationError")
    assert "contextProvider.subjectSourceKey" in message
    too_many = {"SubjectSourceKey": "sub", "KeyDefinitionList": [{"SourceKey": f"k{i}"} for i in range(11)]}
    fails(lambda: update(OpenIDConnectProviderArn=arn, ContextProvider=too_many), "ValidationError")
    missing = f"arn:aws:iam::{server.account_id}:oidc-provider/absent.example.test"
    fails(lambda: update(OpenIDConnectProviderArn=missing, ContextProvider=CONTEXT), "NoSuchEntity")
    assert "ContextProvider" not in iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_authorization(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    arn = provider(iam)
    _, creds = make_user(server, allow("iam:GetOpenIDConnectProvider"))
    reader = server.client("iam", creds)
    fails(lambda: reader.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, ContextProvider=CONTEXT),
          "AccessDenied")
    # Who may associate which Identity Center instance: iam:RequestIdentityCenterInstanceArn.
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:UpdateOpenIDConnectProvider", "Resource": arn,
         "Condition": {"Null": {"iam:RequestIdentityCenterInstanceArn": "true"}}},
        {"Effect": "Allow", "Action": "iam:UpdateOpenIDConnectProvider", "Resource": arn,
         "Condition": {"StringEquals": {"iam:RequestIdentityCenterInstanceArn": INSTANCE}}},
    ]}
    _, scoped = make_user(server, policy)
    admin = server.client("iam", scoped)
    admin.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, ContextProvider=CONTEXT)
    other = "arn:aws:sso:::instance/ssoins-fedcba0987654321"
    fails(lambda: admin.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, IdentityCenterInstanceArn=other),
          "AccessDenied")
    admin.update_open_id_connect_provider(OpenIDConnectProviderArn=arn, IdentityCenterInstanceArn=INSTANCE)
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["IdentityCenterInstanceArn"] == INSTANCE
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_aws_cli_reads_a_configured_provider(server: ServerInfo, iam, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The AWS CLI installed here vendors a botocore older than UpdateOpenIDConnectProvider: it must
    still read a provider that carries the new elements (clients ignore elements they do not know)."""
    arn = provider(iam, ContextProvider=CONTEXT, IdentityCenterInstanceArn=INSTANCE)
    got = aws_cli(server, tmp_path, "iam", "get-open-id-connect-provider", "--open-id-connect-provider-arn", arn)
    assert got["ClientIDList"] == ["app"] and got["ThumbprintList"] == [THUMB]
    assert got.get("ContextProvider", CONTEXT) == CONTEXT  # shown by a CLI whose model knows it
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
