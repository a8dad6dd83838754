"""SSH public keys, signing certificates and service-specific credentials of IAM users over HTTP
with boto3 (and one AWS CLI call): upload/create, get, list, update, delete, the errors AWS
answers, authorization, DeleteUser's conflicts, and service passwords that are answered once and
stored only hashed."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from sqlalchemy import text

from opensts.store.iam_user_credentials import verify_secret
from tests.conftest import aws_cli, random_name, ServerInfo
from tests.iam.conftest import allow, make_user
from tests.iam.test_server_certificates import NOW, assert_nowhere_in_database, db_engine, make_cert, make_key, pem
from tests.iam.test_users import error_of


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, bits)


def ssh_line(key, comment: str = "") -> str:  # type: ignore[no-untyped-def]
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{line} {comment}".strip()


def pem_public(key) -> str:  # type: ignore[no-untyped-def]
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def md5_colon(line: str) -> str:
    digest = hashlib.md5(base64.b64decode(line.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def fail(call) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call()
    return error_of(info)


# --- SSH public keys ---------------------------------------------------------------------------------
def test_ssh_public_keys(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    user = random_name("git")
    iam.create_user(UserName=user)
    key = rsa_key()
    line = ssh_line(key, "me@laptop")
    uploaded = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=line)["SSHPublicKey"]
    key_id = uploaded["SSHPublicKeyId"]
    assert key_id.startswith("APKA") and uploaded["Status"] == "Active" and uploaded["UserName"] == user
    assert uploaded["Fingerprint"] == md5_colon(line) and uploaded["SSHPublicKeyBody"] == line
    got = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
    assert got["SSHPublicKeyBody"] == line and got["Fingerprint"] == uploaded["Fingerprint"]
    as_pem = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="PEM")["SSHPublicKey"]
    assert serialization.load_pem_public_key(as_pem["SSHPublicKeyBody"].encode()).public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    # The same key again, in PEM form this time, is a duplicate.
    assert fail(lambda: iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pem_public(key)))[::2] == (
        "DuplicateSSHPublicKey", 400
    )
    # A PEM key is accepted and answered in SSH form on request.
    other = rsa_key(3072)
    second = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pem_public(other))["SSHPublicKey"]
    ssh_form = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=second["SSHPublicKeyId"], Encoding="SSH")
    assert ssh_form["SSHPublicKey"]["SSHPublicKeyBody"] == ssh_line(other)
    listed = iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]
    assert sorted(k["SSHPublicKeyId"] for k in listed) == sorted([key_id, second["SSHPublicKeyId"]])
    assert all("SSHPublicKeyBody" not in k for k in listed)
    iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Status="Inactive")
    assert iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]["Status"] == "Inactive"
    assert fail(lambda: iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Status="Expired"))[0] == "InvalidInput"
    # A user with an SSH key cannot be deleted.
    assert fail(lambda: iam.delete_user(UserName=user)) == (
        "DeleteConflict", "Cannot delete entity, must delete SSH public keys first.", 409
    )
    for k in (key_id, second["SSHPublicKeyId"]):
        iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=k)
    assert fail(lambda: iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key_id)) == (
        "NoSuchEntity", f"The Public Key with id {key_id} cannot be found.", 404
    )
    iam.delete_user(UserName=user)


def test_ssh_key_errors_and_quota(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    user = random_name("ssh")
    iam.create_user(UserName=user)

    def upload(body: str) -> tuple[str, str, int]:
        return fail(lambda: iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body))

    assert upload(ssh_line(rsa_key(1024)))[::2] == ("InvalidPublicKey", 400)
    assert upload(ssh_line(ed25519.Ed25519PrivateKey.generate()))[::2] == ("UnrecognizedPublicKeyEncoding", 400)
    assert upload(pem_public(ec.generate_private_key(ec.SECP256R1())))[0] == "UnrecognizedPublicKeyEncoding"
    assert upload("ssh-rsa AAAAnot-base64!!")[0] == "InvalidPublicKey"
    assert upload("hello world")[0] == "UnrecognizedPublicKeyEncoding"
    assert fail(lambda: iam.upload_ssh_public_key(UserName="nobody-x", SSHPublicKeyBody=ssh_line(rsa_key())))[0] == "NoSuchEntity"
    keys = [rsa_key() for _ in range(6)]
    ids = [iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=ssh_line(k))["SSHPublicKey"]["SSHPublicKeyId"] for k in keys[:5]]
    assert upload(ssh_line(keys[5])) == ("LimitExceeded", "Cannot exceed quota for PublicKeysPerUser: 5", 409)
    pages = iam.get_paginator("list_ssh_public_keys").paginate(UserName=user, PaginationConfig={"PageSize": 2})
    assert sorted(k["SSHPublicKeyId"] for p in pages for k in p["SSHPublicKeys"]) == sorted(ids)
    for key_id in ids:
        iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key_id)
    iam.delete_user(UserName=user)


def test_ssh_keys_of_the_caller_and_authorization(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name, creds = make_user(server, allow(["iam:UploadSSHPublicKey", "iam:ListSSHPublicKeys"], f"arn:aws:iam::{server.account_id}:user/${{aws:username}}"))
    me = server.client("iam", creds)
    me.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=ssh_line(rsa_key()))
    assert [k["UserName"] for k in me.list_ssh_public_keys()["SSHPublicKeys"]] == [name]  # no UserName: mine
    other = random_name("other")
    iam.create_user(UserName=other)
    assert fail(lambda: me.list_ssh_public_keys(UserName=other))[0] == "AccessDenied"
    assert fail(lambda: me.upload_ssh_public_key(UserName=other, SSHPublicKeyBody=ssh_line(rsa_key())))[0] == "AccessDenied"
    assert fail(lambda: me.delete_ssh_public_key(UserName=name, SSHPublicKeyId="APKA" + "A" * 17))[0] == "AccessDenied"
    assert iam.list_ssh_public_keys()["SSHPublicKeys"] == []  # the root's own: none


# --- Signing certificates ------------------------------------------------------------------------
def test_signing_certificates(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    user = random_name("signer")
    iam.create_user(UserName=user)
    body = pem(make_cert(make_key(), "signer"))
    cert = iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    cert_id = cert["CertificateId"]
    assert len(cert_id) >= 24 and cert["Status"] == "Active" and cert["UserName"] == user
    assert cert["CertificateBody"] == body.strip()
    listed = iam.list_signing_certificates(UserName=user)["Certificates"]
    assert [(c["CertificateId"], c["Status"]) for c in listed] == [(cert_id, "Active")]
    iam.update_signing_certificate(UserName=user, CertificateId=cert_id, Status="Inactive")
    assert iam.list_signing_certificates(UserName=user)["Certificates"][0]["Status"] == "Inactive"
    # The same certificate cannot be uploaded twice in the account, even for another user.
    other = random_name("signer2")
    iam.create_user(UserName=other)
    assert fail(lambda: iam.upload_signing_certificate(UserName=other, CertificateBody=body))[::2] == ("DuplicateCertificate", 409)
    iam.upload_signing_certificate(UserName=user, CertificateBody=pem(make_cert(make_key(), "second")))
    assert fail(lambda: iam.upload_signing_certificate(UserName=user, CertificateBody=pem(make_cert(make_key(), "third")))) == (
        "LimitExceeded", "Cannot exceed quota for SigningCertificatesPerUser: 2", 409
    )
    assert fail(lambda: iam.delete_user(UserName=user)) == (
        "DeleteConflict", "Cannot delete entity, must delete signing certificates first.", 409
    )
    assert fail(lambda: iam.upload_signing_certificate(UserName=other, CertificateBody="not a certificate"))[::2] == (
        "MalformedCertificate", 400
    )
    expired = pem(make_cert(make_key(), not_after=NOW - timedelta(days=1)))
    assert fail(lambda: iam.upload_signing_certificate(UserName=other, CertificateBody=expired))[::2] == ("InvalidCertificate", 400)
    for c in iam.list_signing_certificates(UserName=user)["Certificates"]:
        iam.delete_signing_certificate(UserName=user, CertificateId=c["CertificateId"])
    assert fail(lambda: iam.delete_signing_certificate(UserName=user, CertificateId=cert_id)) == (
        "NoSuchEntity", f"The Certificate with id {cert_id} cannot be found.", 404
    )
    iam.delete_user(UserName=user)
    iam.delete_user(UserName=other)


def test_signing_certificates_of_the_caller_and_the_root(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    # Without UserName: the root's own certificates (answered without UserName).
    root_cert = iam.upload_signing_certificate(CertificateBody=pem(make_cert(make_key(), "root")))["Certificate"]
    assert "UserName" not in root_cert
    assert iam.get_account_summary()["SummaryMap"]["AccountSigningCertificatesPresent"] == 1
    assert root_cert["CertificateId"] in [c["CertificateId"] for c in iam.list_signing_certificates()["Certificates"]]
    iam.delete_signing_certificate(CertificateId=root_cert["CertificateId"])
    # A user with permission on itself manages its own; not another user's.
    name, creds = make_user(server, allow("iam:*SigningCertificate*", f"arn:aws:iam::{server.account_id}:user/${{aws:username}}"))
    me = server.client("iam", creds)
    mine = me.upload_signing_certificate(CertificateBody=pem(make_cert(make_key(), "mine")))["Certificate"]
    assert mine["UserName"] == name
    assert [c["CertificateId"] for c in iam.list_signing_certificates(UserName=name)["Certificates"]] == [mine["CertificateId"]]
    assert fail(lambda: me.list_signing_certificates(UserName="someone-else"))[0] == "AccessDenied"
    me.delete_signing_certificate(CertificateId=mine["CertificateId"])


# --- Service-specific credentials ---------------------------------------------------------------------
def test_service_specific_credentials(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    user = random_name("coder")
    iam.create_user(UserName=user)
    created = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    cred_id, password = created["ServiceSpecificCredentialId"], created["ServicePassword"]
    assert cred_id.startswith("ACCA") and created["Status"] == "Active" and created["UserName"] == user
    assert created["ServiceUserName"] == f"{user}-at-{server.account_id}" and len(password) >= 40
    second = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    assert second["ServiceUserName"] == f"{user}+1-at-{server.account_id}"
    assert fail(lambda: iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")) == (
        "LimitExceeded", "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2", 409
    )
    keyspaces = iam.create_service_specific_credential(UserName=user, ServiceName="cassandra.amazonaws.com")["ServiceSpecificCredential"]
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert len(listed) == 3 and all("ServicePassword" not in c for c in listed)
    only = iam.list_service_specific_credentials(UserName=user, ServiceName="cassandra.amazonaws.com")["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in only] == [keyspaces["ServiceSpecificCredentialId"]]
    everyone = iam.list_service_specific_credentials(AllUsers=True, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredentials"]
    assert {cred_id, second["ServiceSpecificCredentialId"]} <= {c["ServiceSpecificCredentialId"] for c in everyone}
    reset = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id)["ServiceSpecificCredential"]
    assert reset["ServicePassword"] != password and reset["ServiceUserName"] == created["ServiceUserName"]
    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id, Status="Inactive")
    statuses = {c["ServiceSpecificCredentialId"]: c["Status"] for c in iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]}
    assert statuses[cred_id] == "Inactive"
    assert fail(lambda: iam.delete_user(UserName=user)) == (
        "DeleteConflict", "Cannot delete entity, must delete service-specific credentials first.", 409
    )
    for c in listed:
        iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    assert fail(lambda: iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id))[::2] == (
        "NoSuchEntity", 404
    )
    iam.delete_user(UserName=user)


def test_service_credential_errors_and_api_keys(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    user = random_name("bedrock")
    iam.create_user(UserName=user)
    assert fail(lambda: iam.create_service_specific_credential(UserName=user, ServiceName="s3.amazonaws.com")) == (
        "NotSupportedService", "Service s3.amazonaws.com is not supported for service-specific credentials.", 404
    )
    assert fail(lambda: iam.create_service_specific_credential(
        UserName=user, ServiceName="codecommit.amazonaws.com", CredentialAgeDays=30))[0] == "InvalidInput"
    assert fail(lambda: iam.list_service_specific_credentials(UserName=user, AllUsers=True))[0] == "ValidationError"
    key = iam.create_service_specific_credential(
        UserName=user, ServiceName="bedrock.amazonaws.com", CredentialAgeDays=30
    )["ServiceSpecificCredential"]
    assert key["ServiceCredentialAlias"].startswith("BedrockAPIKey-") and key["ServiceCredentialSecret"].startswith("ABSK")
    assert "ServicePassword" not in key
    assert key["ExpirationDate"] - key["CreateDate"] == timedelta(days=30)
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert listed[0]["ServiceCredentialAlias"] == key["ServiceCredentialAlias"] and "ServiceCredentialSecret" not in listed[0]
    iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=key["ServiceSpecificCredentialId"])
    iam.delete_user(UserName=user)


def test_service_credentials_authorization_and_own(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name, creds = make_user(server, allow("iam:*ServiceSpecificCredential*", f"arn:aws:iam::{server.account_id}:user/${{aws:username}}"))
    me = server.client("iam", creds)
    mine = me.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    assert [c["ServiceSpecificCredentialId"] for c in me.list_service_specific_credentials()["ServiceSpecificCredentials"]] == [
        mine["ServiceSpecificCredentialId"]
    ]
    assert fail(lambda: me.list_service_specific_credentials(AllUsers=True))[0] == "AccessDenied"
    other = random_name("victim")
    iam.create_user(UserName=other)
    assert fail(lambda: me.create_service_specific_credential(UserName=other, ServiceName="codecommit.amazonaws.com"))[0] == "AccessDenied"
    me.delete_service_specific_credential(ServiceSpecificCredentialId=mine["ServiceSpecificCredentialId"])
    iam.delete_user(UserName=other)


def test_service_passwords_answered_once_and_stored_hashed(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    bodies: list[bytes] = []
    iam.meta.events.register("after-call.iam.*", lambda http_response, **_: bodies.append(http_response.content))
    user = random_name("hashed")
    iam.create_user(UserName=user)
    created = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")["ServiceSpecificCredential"]
    cred_id, first = created["ServiceSpecificCredentialId"], created["ServicePassword"]
    api_key = iam.create_service_specific_credential(UserName=user, ServiceName="bedrock.amazonaws.com")["ServiceSpecificCredential"]
    reset = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id)["ServiceSpecificCredential"]
    second = reset["ServicePassword"]
    secrets = [first, second, api_key["ServiceCredentialSecret"]]
    creating = len(bodies)  # the answers of the three calls above carry their own secret, once
    iam.list_service_specific_credentials(UserName=user)
    iam.list_service_specific_credentials(AllUsers=True)
    iam.get_user(UserName=user)
    iam.get_account_authorization_details()
    assert len(bodies) == creating + 4
    for body in bodies[creating:]:
        for secret in secrets:
            assert secret.encode() not in body
    assert sum(first.encode() in b for b in bodies) == 1 and sum(second.encode() in b for b in bodies) == 1
    # The stored row holds a scrypt hash of the current password, nothing in clear.
    engine = db_engine(server)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT secret_hash FROM service_specific_credentials WHERE credential_id = :i"), {"i": cred_id}
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("scrypt$") and verify_secret(second, stored) and not verify_secret(first, stored)
    assert_nowhere_in_database(server, secrets)
    for c in iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]:
        iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"])
    iam.delete_user(UserName=user)


# --- AWS CLI -----------------------------------------------------------------------------------------
def test_aws_cli_ssh_key_and_certificate(server: ServerInfo, iam, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = random_name("cli")
    iam.create_user(UserName=user)
    line = ssh_line(rsa_key(), "cli@test")
    key = aws_cli(server, tmp_path, "iam", "upload-ssh-public-key", "--user-name", user, "--ssh-public-key-body", line)["SSHPublicKey"]
    assert key["UserName"] == user and key["Fingerprint"] == md5_colon(line)
    assert [k["SSHPublicKeyId"] for k in iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]] == [key["SSHPublicKeyId"]]
    iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"])
    iam.delete_user(UserName=user)
