"""Every IAM action of the areas added for issue 17, called through the AWS CLI (one flow per area,
in a fresh account), so that what a shell script or CI job runs works end to end: the CLI's
parameter handling, the Query request, our XML, the CLI's parsing. The boto3 tests of each area
check the behaviour in depth; these check that every action answers the CLI with what it shows.

The CLI installed here vendors an older botocore, so it is given the current IAM model
(``aws_cli(..., current_model=True)``) for actions newer than it (UpdateOpenIDConnectProvider)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Credentials, ServerInfo, aws_cli, random_name
from tests.iam.test_server_certificates import key_pem, make_cert, make_key, pem
from tests.iam.test_user_credentials import rsa_key, ssh_line
from tests.server.test_audit_lookup import new_account


@pytest.fixture
def cli(server: ServerInfo, tmp_path: Path):  # type: ignore[no-untyped-def]
    if server.backend != "sqlite":
        # What these flows check (the CLI's parameters, our XML, the CLI's parsing) does not depend
        # on the store, and each area's own CLI test runs on both backends: once keeps CI short.
        pytest.skip("the CLI flows run once, on SQLite")
    account = new_account(server)

    def run(*args: str, credentials: Credentials | None = None) -> dict[str, Any]:
        return aws_cli(server, tmp_path, "iam", *args, credentials=credentials or account, current_model=True)

    return run


TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


def test_instance_profiles(cli) -> None:  # type: ignore[no-untyped-def]
    cli("create-role", "--role-name", "web", "--assume-role-policy-document", TRUST)
    made = cli("create-instance-profile", "--instance-profile-name", "web", "--path", "/hosts/")["InstanceProfile"]
    assert made["Arn"].endswith(":instance-profile/hosts/web")
    cli("add-role-to-instance-profile", "--instance-profile-name", "web", "--role-name", "web")
    assert cli("get-instance-profile", "--instance-profile-name", "web")["InstanceProfile"]["Roles"][0]["RoleName"] == "web"
    assert [p["InstanceProfileName"] for p in cli("list-instance-profiles", "--path-prefix", "/hosts/")["InstanceProfiles"]] == ["web"]
    assert [p["InstanceProfileName"] for p in cli("list-instance-profiles-for-role", "--role-name", "web")["InstanceProfiles"]] == ["web"]
    cli("tag-instance-profile", "--instance-profile-name", "web", "--tags", "Key=tier,Value=front")
    assert cli("list-instance-profile-tags", "--instance-profile-name", "web")["Tags"] == [{"Key": "tier", "Value": "front"}]
    cli("untag-instance-profile", "--instance-profile-name", "web", "--tag-keys", "tier")
    cli("remove-role-from-instance-profile", "--instance-profile-name", "web", "--role-name", "web")
    cli("delete-instance-profile", "--instance-profile-name", "web")
    assert cli("list-instance-profiles")["InstanceProfiles"] == []


def test_passwords_policy_alias_and_sts_preferences(cli) -> None:  # type: ignore[no-untyped-def]
    cli("update-account-password-policy", "--minimum-password-length", "12", "--allow-users-to-change-password")
    assert cli("get-account-password-policy")["PasswordPolicy"]["MinimumPasswordLength"] == 12
    cli("create-user", "--user-name", "alice")
    key = cli("create-access-key", "--user-name", "alice")["AccessKey"]
    alice = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    cli("create-login-profile", "--user-name", "alice", "--password", "First-passw0rd!", "--password-reset-required")
    assert cli("get-login-profile", "--user-name", "alice")["LoginProfile"]["PasswordResetRequired"] is True
    cli("update-login-profile", "--user-name", "alice", "--password", "Second-passw0rd!")
    cli("change-password", "--old-password", "Second-passw0rd!", "--new-password", "Third-passw0rd!", credentials=alice)
    assert cli("get-login-profile", "--user-name", "alice")["LoginProfile"]["PasswordResetRequired"] is False
    cli("delete-login-profile", "--user-name", "alice")
    cli("delete-account-password-policy")
    alias = random_name("corp")
    cli("create-account-alias", "--account-alias", alias)
    assert cli("list-account-aliases")["AccountAliases"] == [alias]
    cli("delete-account-alias", "--account-alias", alias)
    cli("set-security-token-service-preferences", "--global-endpoint-token-version", "v2Token")
    assert cli("get-account-summary")["SummaryMap"]["GlobalEndpointTokenVersion"] == 2


def test_ssh_keys_and_signing_certificates(cli) -> None:  # type: ignore[no-untyped-def]
    cli("create-user", "--user-name", "bob")
    uploaded = cli("upload-ssh-public-key", "--user-name", "bob", "--ssh-public-key-body", ssh_line(rsa_key()))["SSHPublicKey"]
    key_id = uploaded["SSHPublicKeyId"]
    got = cli("get-ssh-public-key", "--user-name", "bob", "--ssh-public-key-id", key_id, "--encoding", "PEM")
    assert got["SSHPublicKey"]["SSHPublicKeyBody"].startswith("-----BEGIN PUBLIC KEY-----")
    cli("update-ssh-public-key", "--user-name", "bob", "--ssh-public-key-id", key_id, "--status", "Inactive")
    assert cli("list-ssh-public-keys", "--user-name", "bob")["SSHPublicKeys"][0]["Status"] == "Inactive"
    cli("delete-ssh-public-key", "--user-name", "bob", "--ssh-public-key-id", key_id)
    cert = cli("upload-signing-certificate", "--user-name", "bob",
               "--certificate-body", pem(make_cert(make_key(), "bob")))["Certificate"]
    cli("update-signing-certificate", "--user-name", "bob", "--certificate-id", cert["CertificateId"], "--status", "Inactive")
    assert cli("list-signing-certificates", "--user-name", "bob")["Certificates"][0]["Status"] == "Inactive"
    cli("delete-signing-certificate", "--user-name", "bob", "--certificate-id", cert["CertificateId"])


def test_server_certificates_and_service_specific_credentials(cli) -> None:  # type: ignore[no-untyped-def]
    key = make_key()
    uploaded = cli("upload-server-certificate", "--server-certificate-name", "www", "--path", "/web/",
                   "--certificate-body", pem(make_cert(key, "www.example.test")), "--private-key", key_pem(key),
                   "--tags", "Key=env,Value=dev")["ServerCertificateMetadata"]
    assert uploaded["Arn"].endswith(":server-certificate/web/www")
    got = cli("get-server-certificate", "--server-certificate-name", "www")["ServerCertificate"]
    assert "PrivateKey" not in got and got["CertificateBody"].startswith("-----BEGIN CERTIFICATE-----")
    assert [c["ServerCertificateName"] for c in cli("list-server-certificates")["ServerCertificateMetadataList"]] == ["www"]
    cli("tag-server-certificate", "--server-certificate-name", "www", "--tags", "Key=team,Value=web")
    assert {t["Key"] for t in cli("list-server-certificate-tags", "--server-certificate-name", "www")["Tags"]} == {"env", "team"}
    cli("untag-server-certificate", "--server-certificate-name", "www", "--tag-keys", "env")
    cli("update-server-certificate", "--server-certificate-name", "www", "--new-server-certificate-name", "www2")
    cli("delete-server-certificate", "--server-certificate-name", "www2")

    cli("create-user", "--user-name", "carol")
    made = cli("create-service-specific-credential", "--user-name", "carol", "--service-name", "codecommit.amazonaws.com")
    credential_id = made["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    assert made["ServiceSpecificCredential"]["ServicePassword"]  # shown once
    listed = cli("list-service-specific-credentials", "--user-name", "carol")["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in listed] == [credential_id] and "ServicePassword" not in listed[0]
    reset = cli("reset-service-specific-credential", "--user-name", "carol", "--service-specific-credential-id", credential_id)
    assert reset["ServiceSpecificCredential"]["ServicePassword"] != made["ServiceSpecificCredential"]["ServicePassword"]
    cli("update-service-specific-credential", "--user-name", "carol", "--service-specific-credential-id", credential_id,
        "--status", "Inactive")
    cli("delete-service-specific-credential", "--user-name", "carol", "--service-specific-credential-id", credential_id)


def test_reports(cli) -> None:  # type: ignore[no-untyped-def]
    cli("create-user", "--user-name", "dave")
    cli("attach-user-policy", "--user-name", "dave", "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    cli("generate-credential-report")
    report = base64.b64decode(cli("get-credential-report")["Content"]).decode()  # the CLI prints blobs base64
    assert report.splitlines()[0].startswith("user,arn,user_creation_time,password_enabled")
    user_arn = cli("get-user", "--user-name", "dave")["User"]["Arn"]
    job = cli("generate-service-last-accessed-details", "--arn", user_arn)["JobId"]
    details = cli("get-service-last-accessed-details", "--job-id", job)
    assert details["JobStatus"] == "COMPLETED" and details["ServicesLastAccessed"]
    entities = cli("get-service-last-accessed-details-with-entities", "--job-id", job, "--service-namespace", "iam")
    assert entities["JobStatus"] == "COMPLETED"
    granting = cli("list-policies-granting-service-access", "--arn", user_arn, "--service-namespaces", "iam", "s3")
    assert [e["ServiceNamespace"] for e in granting["PoliciesGrantingServiceAccess"]] == ["iam", "s3"]
    assert granting["PoliciesGrantingServiceAccess"][0]["Policies"][0]["PolicyName"] == "ReadOnlyAccess"


def test_aws_managed_policies(cli) -> None:  # type: ignore[no-untyped-def]
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert cli("get-policy", "--policy-arn", arn)["Policy"]["PolicyName"] == "ReadOnlyAccess"
    version = cli("list-policy-versions", "--policy-arn", arn)["Versions"][0]["VersionId"]
    assert cli("get-policy-version", "--policy-arn", arn, "--version-id", version)["PolicyVersion"]["Document"]["Statement"]
    cli("create-group", "--group-name", "readers")
    cli("attach-group-policy", "--group-name", "readers", "--policy-arn", arn)
    assert cli("list-entities-for-policy", "--policy-arn", arn)["PolicyGroups"][0]["GroupName"] == "readers"
    cli("detach-group-policy", "--group-name", "readers", "--policy-arn", arn)


def test_service_linked_roles_and_oidc_provider_update(cli) -> None:  # type: ignore[no-untyped-def]
    role = cli("create-service-linked-role", "--aws-service-name", "autoscaling.amazonaws.com")["Role"]
    task = cli("delete-service-linked-role", "--role-name", role["RoleName"])["DeletionTaskId"]
    assert cli("get-service-linked-role-deletion-status", "--deletion-task-id", task)["Status"] == "SUCCEEDED"
    arn = cli("create-open-id-connect-provider", "--url", "https://token.example.test", "--client-id-list", "app",
              "--thumbprint-list", "6938fd4d98bab03faadb97b34396831e3780aea1")["OpenIDConnectProviderArn"]
    instance = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
    context = '{"SubjectSourceKey": "sub", "SubjectTypeValue": "workload", "KeyDefinitionList": [{"SourceKey": "email"}]}'
    cli("update-open-id-connect-provider", "--open-id-connect-provider-arn", arn, "--context-provider", context)
    cli("update-open-id-connect-provider", "--open-id-connect-provider-arn", arn, "--identity-center-instance-arn", instance)
    assert cli("get-open-id-connect-provider", "--open-id-connect-provider-arn", arn).get("IdentityCenterInstanceArn") == instance
