"""In-process checks of the user-credential and server-certificate request types: defaults, AWS's
validation messages, secrets kept out of ``redacted()`` and ``repr()``, and the password hash."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from opensts.api import load_actions
from opensts.errors import ValidationError
from opensts.fields import REDACTED, redacted, request_decoder
from opensts.iam import server_certificates, service_specific_credentials, signing_certificates, ssh_public_keys
from opensts.store.iam_user_credentials import hash_secret, verify_secret

MODULES = (ssh_public_keys, signing_certificates, server_certificates, service_specific_credentials)
WHEN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_every_action_is_typed_and_declares_its_writes() -> None:
    specs = [s for s in load_actions().values() if s.function.__module__ in {m.__name__ for m in MODULES}]
    assert len(specs) == 22
    for spec in specs:
        assert spec.writes is not spec.name.startswith(("Get", "List")), spec.name


def test_private_key_is_secret_on_the_request() -> None:
    request = request_decoder(server_certificates.UploadServerCertificateRequest)(
        {"ServerCertificateName": "web", "CertificateBody": "CERT", "PrivateKey": "-----BEGIN PRIVATE KEY-----xyz"}
    )
    assert (request.path, request.certificate_chain, request.tags) == ("/", None, [])
    shown = redacted(request)
    assert shown["privateKey"] == REDACTED and "xyz" not in repr(request)
    with pytest.raises(ValidationError) as info:  # a bad key is not quoted in the message
        request_decoder(server_certificates.UploadServerCertificateRequest)(
            {"ServerCertificateName": "web", "CertificateBody": "CERT", "PrivateKey": "secret\x01key"}
        )
    assert "secret" not in info.value.message and "at 'privateKey'" in info.value.message


def test_service_password_and_api_key_secret_are_secret_on_the_result() -> None:
    credential = service_specific_credentials.ServiceSpecificCredential(
        create_date=WHEN, service_name="codecommit.amazonaws.com", service_specific_credential_id="ACCA" + "A" * 17,
        user_name="alice", status="Active", service_user_name="alice-at-123456789012", service_password="pw-123",
        service_credential_secret="ABSK-secret",
    )
    shown = redacted(service_specific_credentials.ServiceSpecificCredentialResult(credential))
    assert shown["serviceSpecificCredential"]["servicePassword"] == REDACTED
    assert shown["serviceSpecificCredential"]["serviceCredentialSecret"] == REDACTED
    assert "pw-123" not in repr(credential) and "ABSK-secret" not in repr(credential)


def test_request_validation() -> None:
    decode = request_decoder(ssh_public_keys.GetSSHPublicKeyRequest)
    with pytest.raises(ValidationError) as info:
        decode({"UserName": "u", "SSHPublicKeyId": "short", "Encoding": "DER"})
    assert info.value.message.startswith("2 validation errors detected")
    listed = request_decoder(service_specific_credentials.ListServiceSpecificCredentialsRequest)({"AllUsers": "true"})
    assert (listed.all_users, listed.user_name, listed.max_items) == (True, None, 100)
    assert request_decoder(signing_certificates.ListSigningCertificatesRequest)({}).user_name is None


def test_password_hash() -> None:
    stored = hash_secret("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and "correct" not in stored
    assert verify_secret("correct horse", stored) and not verify_secret("wrong", stored)
    assert hash_secret("correct horse") != stored  # salted
    assert not verify_secret("x", "scrypt$1048577$8$1$AAAA$AAAA")  # parameters it never writes: refused
    assert not verify_secret("x", "md5$abc")
