"""Typed requests of the MFA and identity-provider actions, decoded in-process (no server): the
values they carry, AWS's validation messages in AWS's order, and redaction of their secrets."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from opensts.api import load_actions
from opensts.errors import InvalidInput, ValidationError
from opensts.fields import REDACTED, redacted, request_decoder
from opensts.iam import mfa, providers
from opensts.iam.tagging import Tag

SERIAL = "arn:aws:iam::123456789012:mfa/dev"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/idp.example.test"
SAML_ARN = "arn:aws:iam::123456789012:saml-provider/idp"
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def failure(value: str | None, member: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{member}' failed to satisfy constraint: {constraint}"


def validation_error(request_type: type, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as exc:
        request_decoder(request_type)(params)
    return exc.value.message


def test_every_action_of_these_modules_has_a_request_type_and_says_whether_it_writes() -> None:
    registry = load_actions()
    for module in (mfa, providers):
        specs = [s for s in registry.values() if s.function.__module__ == module.__name__]
        assert specs
        for spec in specs:
            assert spec.request_type is not type(None), spec.name
            reads = spec.name.startswith(("Get", "List"))
            assert spec.writes is not reads, spec.name


def test_create_virtual_mfa_device_defaults_and_tags() -> None:
    decode = request_decoder(mfa.CreateVirtualMFADeviceRequest)
    request = decode({"VirtualMFADeviceName": "dev", "Tags": [{"Key": "k", "Value": "v"}]})
    assert request == mfa.CreateVirtualMFADeviceRequest(path="/", virtual_mfa_device_name="dev", tags=[Tag("k", "v")])
    message = validation_error(mfa.CreateVirtualMFADeviceRequest, {"Path": "noslash", "VirtualMFADeviceName": "bad name"})
    assert message == "2 validation errors detected: " + "; ".join(
        [
            failure("noslash", "path", f"Member must satisfy regular expression pattern: {mfa.fields.PATH_PATTERN}"),
            failure("bad name", "virtualMFADeviceName", f"Member must satisfy regular expression pattern: {mfa.DEVICE_NAME_PATTERN}"),
        ]
    )


def test_enable_mfa_device_codes_in_aws_order() -> None:
    decode = request_decoder(mfa.DeviceCodesRequest)
    params = {"UserName": "alice", "SerialNumber": SERIAL, "AuthenticationCode1": "123456", "AuthenticationCode2": "654321"}
    request = decode(params)
    assert (request.user_name, request.serial_number) == ("alice", SERIAL)
    assert (request.authentication_code1, request.authentication_code2) == ("123456", "654321")
    message = validation_error(mfa.DeviceCodesRequest, {"SerialNumber": "short", "AuthenticationCode1": "12345"})
    assert message == "4 validation errors detected: " + "; ".join(
        [
            failure(None, "userName", "Member must not be null"),
            failure("short", "serialNumber", "Member must have length greater than or equal to 9"),
            # A secret member: AWS does not quote its value.
            "Value at 'authenticationCode1' failed to satisfy constraint: Member must have length greater than or equal to 6",
            failure(None, "authenticationCode2", "Member must not be null"),
        ]
    )


def test_list_virtual_mfa_devices_assignment_status() -> None:
    decode = request_decoder(mfa.ListVirtualMFADevicesRequest)
    assert decode({}) == mfa.ListVirtualMFADevicesRequest(assignment_status="Any", marker=None, max_items=100)
    assert decode({"AssignmentStatus": "Assigned", "MaxItems": "2"}).assignment_status == "Assigned"
    message = validation_error(mfa.ListVirtualMFADevicesRequest, {"AssignmentStatus": "Some", "MaxItems": "0"})
    assert message == "2 validation errors detected: " + "; ".join(
        [
            failure("Some", "assignmentStatus", "Member must satisfy enum value set: [Assigned, Unassigned, Any]"),
            failure("0", "maxItems", "Member must have value greater than or equal to 1"),
        ]
    )


def test_get_mfa_device_user_name_is_at_most_64() -> None:
    decode = request_decoder(mfa.GetMFADeviceRequest)
    assert decode({"SerialNumber": SERIAL}).user_name is None
    message = validation_error(mfa.GetMFADeviceRequest, {"SerialNumber": SERIAL, "UserName": "u" * 65})
    assert message == "1 validation error detected: " + failure(
        "u" * 65, "userName", "Member must have length less than or equal to 64"
    )


def test_tag_mfa_device_needs_tags_with_distinct_keys() -> None:
    decode = request_decoder(mfa.TagMFADeviceRequest)
    message = validation_error(mfa.TagMFADeviceRequest, {"SerialNumber": SERIAL})
    assert message == "1 validation error detected: " + failure(None, "tags", "Member must not be null")
    with pytest.raises(InvalidInput) as exc:
        decode({"SerialNumber": SERIAL, "Tags": [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]})
    assert exc.value.message == "Duplicate tag keys found. Please note that Tag keys are case insensitive."


def test_create_oidc_provider_lists() -> None:
    decode = request_decoder(providers.CreateOpenIDConnectProviderRequest)
    request = decode(
        {"Url": "https://idp.example.test", "ClientIDList": ["a", "b", "a"], "ThumbprintList": [THUMB.upper(), THUMB]}
    )
    assert request.client_id_list == ["a", "b"] and request.thumbprint_list == [THUMB] and request.tags == []
    with pytest.raises(InvalidInput) as exc:
        decode({"Url": "https://idp.example.test", "ThumbprintList": ["z" * 40]})
    assert exc.value.message == f"Thumbprint {'z' * 40} is not a 40-character hexadecimal SHA-1 fingerprint."
    message = validation_error(providers.CreateOpenIDConnectProviderRequest, {"ClientIDList": [""]})
    assert message == "2 validation errors detected: " + "; ".join(
        [
            failure(None, "url", "Member must not be null"),
            failure("", "clientIDList.1.member", "Member must have length greater than or equal to 1"),
        ]
    )


def test_update_thumbprint_needs_the_list() -> None:
    message = validation_error(providers.UpdateOpenIDConnectProviderThumbprintRequest, {"OpenIDConnectProviderArn": "short"})
    assert message == "2 validation errors detected: " + "; ".join(
        [
            failure("short", "openIDConnectProviderArn", "Member must have length greater than or equal to 20"),
            failure(None, "thumbprintList", "Member must not be null"),
        ]
    )
    decode = request_decoder(providers.UpdateOpenIDConnectProviderThumbprintRequest)
    assert decode({"OpenIDConnectProviderArn": OIDC_ARN, "ThumbprintList": ""}).thumbprint_list == []


def test_saml_provider_requests() -> None:
    message = validation_error(
        providers.CreateSAMLProviderRequest, {"SAMLMetadataDocument": "<x/>", "Name": "idp", "AssertionEncryptionMode": "Maybe"}
    )
    assert message == "2 validation errors detected: " + "; ".join(
        [
            failure("<x/>", "sAMLMetadataDocument", "Member must have length greater than or equal to 1000"),
            failure("Maybe", "assertionEncryptionMode", "Member must satisfy enum value set: [Required, Allowed]"),
        ]
    )
    decode = request_decoder(providers.CreateSAMLProviderRequest)
    request = decode({"SAMLMetadataDocument": "x" * 1000, "Name": "idp", "AddPrivateKey": "-----BEGIN PRIVATE KEY-----"})
    assert request.add_private_key == "-----BEGIN PRIVATE KEY-----"
    # Encryption is refused before the caller, the store or anything else is looked at.
    with pytest.raises(InvalidInput) as exc:
        providers.create_saml_provider(None, request)  # type: ignore[arg-type]
    assert exc.value.message == providers.ENCRYPTION_UNSUPPORTED
    assert redacted(request)["addPrivateKey"] == REDACTED
    update = request_decoder(providers.UpdateSAMLProviderRequest)({"SAMLProviderArn": SAML_ARN, "RemovePrivateKey": "A" * 22})
    with pytest.raises(InvalidInput):
        providers.update_saml_provider(None, update)  # type: ignore[arg-type]


def test_redacted_hides_codes_seed_and_qr_code() -> None:
    request = request_decoder(mfa.DeviceCodesRequest)(
        {"UserName": "alice", "SerialNumber": SERIAL, "AuthenticationCode1": "123456", "AuthenticationCode2": "654321"}
    )
    assert redacted(request) == {
        "userName": "alice",
        "serialNumber": SERIAL,
        "authenticationCode1": REDACTED,
        "authenticationCode2": REDACTED,
    }
    device = mfa.VirtualMFADevice(
        SERIAL, b"SEEDSEEDSEED", b"\x89PNG...", enable_date=datetime(2026, 1, 1, tzinfo=timezone.utc), tags=[Tag("k", "v")]
    )
    shown = redacted(mfa.CreateVirtualMFADeviceResult(device))
    assert shown == {
        "virtualMfaDevice": {
            "serialNumber": SERIAL,
            "base32StringSeed": REDACTED,
            "qrCodePng": REDACTED,
            "enableDate": "2026-01-01T00:00:00+00:00",
            "tags": [{"key": "k", "value": "v"}],
        }
    }
    assert "SEED" not in repr(shown) and "PNG" not in repr(shown)
