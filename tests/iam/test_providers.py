"""OIDC and SAML identity providers over HTTP with boto3."""

from __future__ import annotations

import secrets

import pytest
from botocore.exceptions import ClientError

from tests.conftest import random_name
from tests.iam.conftest import allow, make_user
from tests.unit.test_saml_metadata import BILLION_LAUGHS, XXE_FILE, metadata_xml, self_signed_certificate

THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def oidc_url() -> str:
    return f"https://{random_name('idp')}.example.test:8443/realms/dev"


# --- OIDC -------------------------------------------------------------------------------------
def test_oidc_lifecycle(server, iam) -> None:  # type: ignore[no-untyped-def]
    url = oidc_url()
    created = iam.create_open_id_connect_provider(
        Url=url, ClientIDList=["app-1", "app-2", "app-1"], ThumbprintList=[THUMB],
        Tags=[{"Key": "env", "Value": "dev"}],
    )
    arn = created["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{server.account_id}:oidc-provider/{url[len('https://'):]}"
    assert created["Tags"] == [{"Key": "env", "Value": "dev"}]

    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == url[len("https://"):]
    assert got["ClientIDList"] == ["app-1", "app-2"]
    assert got["ThumbprintList"] == [THUMB]
    assert got["CreateDate"] and got["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert arn in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-3")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-3")  # idempotent
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-1")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="absent")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["app-2", "app-3"]

    other = "A" * 40
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[other, THUMB])
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == [other.lower(), THUMB]

    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "team", "Value": "x"}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["ENV"])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [{"Key": "team", "Value": "x"}]

    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)
    assert error_code(exc) == "NoSuchEntity"


def test_oidc_without_thumbprints_and_plain_host(iam) -> None:  # type: ignore[no-untyped-def]
    host = f"{random_name('plain')}.example.test"
    arn = iam.create_open_id_connect_provider(Url=f"https://{host}")["OpenIDConnectProviderArn"]
    assert arn.endswith(f":oidc-provider/{host}")
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == [] and got["ThumbprintList"] == []


def test_oidc_duplicate(iam) -> None:  # type: ignore[no-untyped-def]
    url = oidc_url()
    iam.create_open_id_connect_provider(Url=url, ClientIDList=["a"])
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=url, ClientIDList=["b"])
    assert error_code(exc) == "EntityAlreadyExists"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@pytest.mark.parametrize(
    "url",
    [
        "http://insecure.example.test",
        "https://",
        "https://host.example.test/path?query=1",
        "https://host.example.test/#frag",
        "https://user@host.example.test",
        "https://host.example.test:99999",
        "https://bad_host!.example.test",
    ],
)
def test_oidc_invalid_urls(iam, url: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=url)
    assert error_code(exc) == "InvalidInput"


def test_oidc_limits_and_validation(iam) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url="https://" + "a" * 250 + ".test")
    assert error_code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=oidc_url(), ThumbprintList=["z" * 40])
    assert error_code(exc) == "InvalidInput"
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=oidc_url(), ThumbprintList=["a" * 41])
    assert error_code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=oidc_url(), ThumbprintList=[f"{i:040x}" for i in range(6)])
    assert error_code(exc) == "LimitExceeded"
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=oidc_url(), ClientIDList=[f"c{i}" for i in range(101)])
    assert error_code(exc) == "LimitExceeded"
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=oidc_url(), ClientIDList=["x" * 256])
    assert error_code(exc) == "ValidationError"
    arn = iam.create_open_id_connect_provider(Url=oidc_url(), ClientIDList=[f"c{i}" for i in range(100)])[
        "OpenIDConnectProviderArn"
    ]
    with pytest.raises(ClientError) as exc:
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="one-more")
    assert error_code(exc) == "LimitExceeded"


def test_provider_tag_quotas_and_pages(iam) -> None:  # type: ignore[no-untyped-def]
    oidc = iam.create_open_id_connect_provider(Url=oidc_url(), Tags=[{"Key": "first", "Value": "1"}])
    saml = iam.create_saml_provider(Name=random_name("q"), SAMLMetadataDocument=metadata_xml())
    fifty = [{"Key": f"k{i:02}", "Value": "v"} for i in range(50)]
    cases = [
        (oidc["OpenIDConnectProviderArn"], "OpenIdConnectProvider", iam.tag_open_id_connect_provider,
         iam.list_open_id_connect_provider_tags, "OpenIDConnectProviderArn"),
        (saml["SAMLProviderArn"], "SAMLProvider", iam.tag_saml_provider, iam.list_saml_provider_tags, "SAMLProviderArn"),
    ]
    for arn, quota, tag, list_tags, param in cases:
        tag(**{param: arn}, Tags=[{"Key": "first", "Value": "1"}])
        with pytest.raises(ClientError) as exc:
            tag(**{param: arn}, Tags=fifty)
        assert error_code(exc) == "LimitExceeded"
        assert exc.value.response["Error"]["Message"] == f"Cannot exceed quota for TagsPer{quota}: 50"
        tag(**{param: arn}, Tags=fifty[:49])
        page = list_tags(**{param: arn}, MaxItems=30)
        assert page["IsTruncated"] and len(page["Tags"]) == 30
        rest = list_tags(**{param: arn}, Marker=page["Marker"])
        assert not rest["IsTruncated"] and len(page["Tags"]) + len(rest["Tags"]) == 50


def test_oidc_bad_arns(server, iam) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn="not-an-arn-at-all-xxxxx")
    assert error_code(exc) == "InvalidInput"
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=f"arn:aws:iam::{server.account_id}:user/alice")
    assert error_code(exc) == "InvalidInput"
    other_account = "000000000000" if server.account_id != "000000000000" else "111111111111"
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=f"arn:aws:iam::{other_account}:oidc-provider/x.test")
    assert error_code(exc) == "AccessDenied"


def test_oidc_authorization(server) -> None:  # type: ignore[no-untyped-def]
    root = server.client("iam")
    url = oidc_url()
    arn = root.create_open_id_connect_provider(Url=url, ClientIDList=["a"])["OpenIDConnectProviderArn"]
    _, creds = make_user(server, allow("iam:GetOpenIDConnectProvider", arn))
    client = server.client("iam", creds)
    assert client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["a"]
    with pytest.raises(ClientError) as exc:
        client.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_code(exc) == "AccessDenied"
    assert f"iam:DeleteOpenIDConnectProvider on resource: {arn}" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        client.list_open_id_connect_providers()
    assert error_code(exc) == "AccessDenied"


# --- SAML -------------------------------------------------------------------------------------
def test_saml_lifecycle(server, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("saml")
    document = metadata_xml(valid_until="2099-01-01T00:00:00Z")
    assert len(document) >= 1000
    created = iam.create_saml_provider(Name=name, SAMLMetadataDocument=document, Tags=[{"Key": "k", "Value": "v"}])
    arn = created["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{server.account_id}:saml-provider/{name}"
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == document
    assert got["ValidUntil"].year == 2099 and got["CreateDate"]
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]
    listed = {p["Arn"]: p for p in iam.list_saml_providers()["SAMLProviderList"]}
    assert listed[arn]["ValidUntil"].year == 2099

    new_document = metadata_xml([(self_signed_certificate("rotated"), "signing")])
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=new_document)["SAMLProviderArn"] == arn
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == new_document
    assert got["ValidUntil"].year >= got["CreateDate"].year + 99  # no validUntil: 100 years

    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "k2", "Value": "v2"}])
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["k"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "k2", "Value": "v2"}]

    iam.delete_saml_provider(SAMLProviderArn=arn)
    for call in (iam.get_saml_provider, iam.delete_saml_provider):
        with pytest.raises(ClientError) as exc:
            call(SAMLProviderArn=arn)
        assert error_code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=new_document)
    assert error_code(exc) == "NoSuchEntity"


def test_saml_duplicate_and_names(iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("dup")
    iam.create_saml_provider(Name=name, SAMLMetadataDocument=metadata_xml())
    with pytest.raises(ClientError) as exc:
        iam.create_saml_provider(Name=name.upper(), SAMLMetadataDocument=metadata_xml())
    assert error_code(exc) == "EntityAlreadyExists"
    with pytest.raises(ClientError) as exc:
        iam.create_saml_provider(Name="bad name", SAMLMetadataDocument=metadata_xml())
    assert error_code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        iam.create_saml_provider(Name="x" * 129, SAMLMetadataDocument=metadata_xml())
    assert error_code(exc) == "ValidationError"


def pad(document: str) -> str:
    """Reach the API's 1,000-character minimum with a trailing comment-free whitespace tail."""
    return document + " " * max(0, 1000 - len(document))


@pytest.mark.parametrize(
    "document, message",
    [
        (pad(XXE_FILE), "DOCTYPE"),
        (pad(BILLION_LAUGHS), "DOCTYPE"),
        (pad("<not-xml"), "well-formed"),
        (pad(metadata_xml(idp=False)), "IDPSSODescriptor"),
        (metadata_xml([(self_signed_certificate(), "encryption")]), "signing certificate"),
        (metadata_xml(valid_until="2001-01-01T00:00:00Z"), "expired"),
    ],
    ids=["xxe", "billion-laughs", "not-xml", "sp-metadata", "no-signing-cert", "expired"],
)
def test_saml_invalid_metadata(iam, document: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        iam.create_saml_provider(Name=random_name("bad"), SAMLMetadataDocument=document)
    assert error_code(exc) == "InvalidInput"
    assert message in exc.value.response["Error"]["Message"]


def test_saml_short_document_and_encryption(server, iam) -> None:  # type: ignore[no-untyped-def]
    unchecked = server.client("iam", parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        unchecked.create_saml_provider(Name=random_name("s"), SAMLMetadataDocument="<x/>" * 10)
    assert error_code(exc) == "ValidationError"
    assert "sAMLMetadataDocument" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        iam.create_saml_provider(Name=random_name("s"), SAMLMetadataDocument=metadata_xml(), AssertionEncryptionMode="Required")
    assert error_code(exc) == "InvalidInput"
    arn = iam.create_saml_provider(
        Name=random_name("s"), SAMLMetadataDocument=metadata_xml(), AssertionEncryptionMode="Allowed"
    )["SAMLProviderArn"]
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"]


def test_saml_authorization(server) -> None:  # type: ignore[no-untyped-def]
    _, creds = make_user(server, allow("iam:ListSAMLProviders"))
    client = server.client("iam", creds)
    client.list_saml_providers()
    with pytest.raises(ClientError) as exc:
        client.create_saml_provider(Name=random_name("s"), SAMLMetadataDocument=metadata_xml())
    assert error_code(exc) == "AccessDenied"
    assert ":saml-provider/" in exc.value.response["Error"]["Message"]


def test_saml_metadata_is_stored_verbatim(iam) -> None:  # type: ignore[no-untyped-def]
    marker = secrets.token_hex(8)
    document = metadata_xml().replace("Example IdP</md:OrganizationName>", f"Example {marker}</md:OrganizationName>")
    arn = iam.create_saml_provider(Name=random_name("v"), SAMLMetadataDocument=document)["SAMLProviderArn"]
    assert marker in iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"]


def test_tagging_providers_and_mfa_devices_is_authorized_with_tag_condition_keys(server, iam) -> None:  # type: ignore[no-untyped-def]
    """aws:RequestTag/KEY and aws:TagKeys hold on Tag*/Untag* of OIDC and SAML providers and MFA
    devices, as on users and roles (the IAM service authorization reference lists them)."""
    oidc = iam.create_open_id_connect_provider(Url=oidc_url(), ThumbprintList=[THUMB])["OpenIDConnectProviderArn"]
    saml = iam.create_saml_provider(Name=random_name("idp"), SAMLMetadataDocument=metadata_xml())["SAMLProviderArn"]
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=random_name("mfa"))["VirtualMFADevice"]["SerialNumber"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:TagOpenIDConnectProvider", "iam:TagSAMLProvider", "iam:TagMFADevice"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}},
        {"Effect": "Allow", "Action": ["iam:UntagOpenIDConnectProvider", "iam:UntagSAMLProvider", "iam:UntagMFADevice"],
         "Resource": "*", "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}},
    ]}
    _, creds = make_user(server, policy)
    client = server.client("iam", creds)
    calls = [
        (client.tag_open_id_connect_provider, client.untag_open_id_connect_provider, {"OpenIDConnectProviderArn": oidc}),
        (client.tag_saml_provider, client.untag_saml_provider, {"SAMLProviderArn": saml}),
        (client.tag_mfa_device, client.untag_mfa_device, {"SerialNumber": serial}),
    ]
    for tag, untag, target in calls:
        tag(Tags=[{"Key": "team", "Value": "blue"}], **target)
        with pytest.raises(ClientError) as exc:
            tag(Tags=[{"Key": "team", "Value": "red"}], **target)
        assert error_code(exc) == "AccessDenied"
        untag(TagKeys=["team"], **target)
        with pytest.raises(ClientError) as exc:
            untag(TagKeys=["owner"], **target)
        assert error_code(exc) == "AccessDenied"
