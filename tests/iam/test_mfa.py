"""Virtual MFA devices over HTTP with boto3: create (seed + QR code), enable with two consecutive
pyotp codes, list, deactivate, resync, delete, tags; replayed codes; authorization; the
check_mfa_code entry point STS uses."""

from __future__ import annotations

import time

import pyotp
import pytest
from botocore.exceptions import ClientError

from tests.conftest import random_name
from tests.iam.conftest import allow, make_user

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def consecutive_codes(totp: pyotp.TOTP, now: float | None = None) -> tuple[str, str]:
    now = time.time() if now is None else now
    return totp.at(now - 30), totp.at(now)


def create_device(iam, name: str | None = None, **kw):  # type: ignore[no-untyped-def]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name or random_name("mfa"), **kw)["VirtualMFADevice"]
    return device["SerialNumber"], pyotp.TOTP(device["Base32StringSeed"].decode("ascii")), device


def enabled_device(server, iam, user: str):  # type: ignore[no-untyped-def]
    serial, totp, _ = create_device(iam)
    c1, c2 = consecutive_codes(totp)
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    return serial, totp


def test_create_returns_seed_and_png(server, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("mfa")
    serial, totp, device = create_device(iam, name, Path="/team/", Tags=[{"Key": "k", "Value": "v"}])
    assert serial == f"arn:aws:iam::{server.account_id}:mfa/team/{name}"
    seed = device["Base32StringSeed"]
    assert isinstance(seed, bytes) and len(seed) == 64
    pyotp.TOTP(seed.decode()).now()  # a valid base32 seed
    png = device["QRCodePNG"]
    assert png.startswith(PNG_SIGNATURE) and len(png) > 200
    assert device["Tags"] == [{"Key": "k", "Value": "v"}]
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "k", "Value": "v"}]


def test_qr_code_holds_the_otpauth_uri(iam) -> None:  # type: ignore[no-untyped-def]
    from opensts.federation.totp import otpauth_uri

    _, totp, device = create_device(iam)
    uri = otpauth_uri(device["Base32StringSeed"].decode(), "x", "123456789012")
    assert uri.startswith("otpauth://totp/") and f"secret={totp.secret}" in uri
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == totp.secret and parsed.interval == 30 and parsed.digits == 6


def test_duplicate_and_invalid_names(iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("mfa")
    create_device(iam, name)
    with pytest.raises(ClientError) as exc:
        iam.create_virtual_mfa_device(VirtualMFADeviceName=name)
    assert error_code(exc) == "EntityAlreadyExists"
    with pytest.raises(ClientError) as exc:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="bad name!")
    assert error_code(exc) == "ValidationError"
    assert "virtualMFADeviceName" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        iam.create_virtual_mfa_device(VirtualMFADeviceName=random_name("mfa"), Path="noslash")
    assert error_code(exc) == "ValidationError"


def test_enable_list_deactivate_delete(server, iam) -> None:  # type: ignore[no-untyped-def]
    user, _ = make_user(server)
    serial, totp, _ = create_device(iam)
    listed = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial in [d["SerialNumber"] for d in listed]

    c1, c2 = consecutive_codes(totp)
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)

    devices = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [serial]
    assert devices[0]["UserName"] == user and devices[0]["EnableDate"]
    assigned = {d["SerialNumber"]: d for d in iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]}
    assert assigned[serial]["User"]["UserName"] == user
    assert assigned[serial]["User"]["Arn"].endswith(f":user/{user}")
    assert "Base32StringSeed" not in assigned[serial] and "QRCodePNG" not in assigned[serial]
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial not in [d["SerialNumber"] for d in unassigned]
    assert iam.get_mfa_device(SerialNumber=serial, UserName=user)["UserName"] == user

    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_code(exc) == "DeleteConflict"

    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    with pytest.raises(ClientError) as exc:
        iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert error_code(exc) == "NoSuchEntity"

    iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_code(exc) == "NoSuchEntity"
    assert serial not in [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]]


def test_enable_rejects_bad_codes(server, iam) -> None:  # type: ignore[no-untyped-def]
    user, _ = make_user(server)
    serial, totp, _ = create_device(iam)
    now = time.time()
    cases = [
        (totp.at(now), totp.at(now - 30)),  # wrong order
        (totp.at(now - 30), totp.at(now - 30)),  # the same step twice
        (totp.at(now - 600), totp.at(now - 570)),  # too old
        ("000000", "000000") if totp.at(now) != "000000" else ("111111", "111111"),
    ]
    for c1, c2 in cases:
        with pytest.raises(ClientError) as exc:
            iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
        assert error_code(exc) == "InvalidAuthenticationCode"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert exc.value.response["Error"]["Message"] == "Authentication code for device is not valid."
    with pytest.raises(ClientError) as exc:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1="1234567", AuthenticationCode2="abcdef")
    assert error_code(exc) == "ValidationError"


def test_enable_errors(server, iam) -> None:  # type: ignore[no-untyped-def]
    user, _ = make_user(server)
    other, _ = make_user(server)
    serial, totp, _ = create_device(iam)
    c1, c2 = consecutive_codes(totp)
    with pytest.raises(ClientError) as exc:
        iam.enable_mfa_device(UserName="nobody-" + user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    assert error_code(exc) == "NoSuchEntity"
    missing = f"arn:aws:iam::{server.account_id}:mfa/does-not-exist"
    with pytest.raises(ClientError) as exc:
        iam.enable_mfa_device(UserName=user, SerialNumber=missing, AuthenticationCode1=c1, AuthenticationCode2=c2)
    assert error_code(exc) == "NoSuchEntity"
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    with pytest.raises(ClientError) as exc:
        iam.enable_mfa_device(UserName=other, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    assert error_code(exc) == "EntityAlreadyExists"


def test_enable_codes_cannot_be_replayed(server, iam) -> None:  # type: ignore[no-untyped-def]
    """The codes that enabled a device (and older ones) are spent: re-enabling after a
    deactivation with the same codes fails."""
    user, _ = make_user(server)
    serial, totp, _ = create_device(iam)
    c1, c2 = consecutive_codes(totp)
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    with pytest.raises(ClientError) as exc:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    assert error_code(exc) == "InvalidAuthenticationCode"


def test_resync(server, clock, iam) -> None:  # type: ignore[no-untyped-def]
    user, _ = make_user(server)
    serial, totp, _ = create_device(iam)
    base = time.time()
    c1, c2 = consecutive_codes(totp, base)
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    # The same codes cannot resync; fresh ones (two steps later) can.
    with pytest.raises(ClientError) as exc:
        iam.resync_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    assert error_code(exc) == "InvalidAuthenticationCode"
    clock.set_clock_offset(60)
    time.sleep(0.05)
    d1, d2 = consecutive_codes(totp, base + 60)
    iam.resync_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=d1, AuthenticationCode2=d2)
    other_serial, other_totp, _ = create_device(iam)
    e1, e2 = consecutive_codes(other_totp, base + 60)
    with pytest.raises(ClientError) as exc:  # not this user's device
        iam.resync_mfa_device(UserName=user, SerialNumber=other_serial, AuthenticationCode1=e1, AuthenticationCode2=e2)
    assert error_code(exc) == "NoSuchEntity"


def test_list_mfa_devices_defaults_to_caller(server, iam) -> None:  # type: ignore[no-untyped-def]
    user, creds = make_user(server, allow(["iam:ListMFADevices", "iam:DeactivateMFADevice"], f"arn:aws:iam::{server.account_id}:user/${{aws:username}}"))
    serial, _ = enabled_device(server, iam, user)
    own = server.client("iam", creds)
    assert [d["SerialNumber"] for d in own.list_mfa_devices()["MFADevices"]] == [serial]
    other, _ = make_user(server)
    with pytest.raises(ClientError) as exc:
        own.list_mfa_devices(UserName=other)
    assert error_code(exc) == "AccessDenied"
    assert "iam:ListMFADevices" in exc.value.response["Error"]["Message"]
    own.deactivate_mfa_device(SerialNumber=serial)
    assert own.list_mfa_devices()["MFADevices"] == []
    assert iam.list_mfa_devices()["MFADevices"] == []  # the root has no virtual devices here


def test_pagination_of_virtual_devices(iam) -> None:  # type: ignore[no-untyped-def]
    prefix = random_name("pg")
    serials = {create_device(iam, f"{prefix}-{i}")[0] for i in range(3)}
    seen: list[str] = []
    paginator = iam.get_paginator("list_virtual_mfa_devices")
    for page in paginator.paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["VirtualMFADevices"]) <= 2
        seen += [d["SerialNumber"] for d in page["VirtualMFADevices"]]
    assert serials <= set(seen) and len(seen) == len(set(seen))


def test_tags(iam) -> None:  # type: ignore[no-untyped-def]
    serial, _, _ = create_device(iam)
    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "A", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "a", "Value": "3"}])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["B"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "a", "Value": "3"}]
    with pytest.raises(ClientError) as exc:
        iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_code(exc) == "LimitExceeded"
    assert exc.value.response["Error"]["Message"] == "Cannot exceed quota for TagsPerMFADevice: 50"
    with pytest.raises(ClientError) as exc:
        iam.list_mfa_device_tags(SerialNumber=serial + "-missing")
    assert error_code(exc) == "NoSuchEntity"


def test_unprivileged_user_is_denied(server) -> None:  # type: ignore[no-untyped-def]
    _, creds = make_user(server)
    client = server.client("iam", creds)
    with pytest.raises(ClientError) as exc:
        client.create_virtual_mfa_device(VirtualMFADeviceName=random_name("mfa"))
    assert error_code(exc) == "AccessDenied"
    assert ":mfa/" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        client.list_virtual_mfa_devices()
    assert error_code(exc) == "AccessDenied"


def test_self_service_enable_with_policy_variables(server) -> None:  # type: ignore[no-untyped-def]
    account = server.account_id
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"],
             "Resource": f"arn:aws:iam::{account}:mfa/${{aws:username}}"},
            {"Effect": "Allow", "Action": ["iam:EnableMFADevice", "iam:ListMFADevices"],
             "Resource": f"arn:aws:iam::{account}:user/${{aws:username}}"},
        ],
    }
    user, creds = make_user(server, policy)
    client = server.client("iam", creds)
    device = client.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode())
    c1, c2 = consecutive_codes(totp)
    client.enable_mfa_device(UserName=user, SerialNumber=device["SerialNumber"], AuthenticationCode1=c1, AuthenticationCode2=c2)
    assert len(client.list_mfa_devices()["MFADevices"]) == 1
    with pytest.raises(ClientError) as exc:
        client.create_virtual_mfa_device(VirtualMFADeviceName=user + "-second")
    assert error_code(exc) == "AccessDenied"


def test_check_mfa_code_accepts_each_code_once(server, iam) -> None:  # type: ignore[no-untyped-def]
    """The function STS calls with SerialNumber + TokenCode, run in-process on the server's store."""
    from opensts.config import Settings
    from opensts.runtime import open_runtime
    from opensts.federation.mfa import check_mfa_code

    user, _ = make_user(server)
    serial, totp = enabled_device(server, iam, user)
    user_id = iam.get_user(UserName=user)["User"]["UserId"]
    settings = Settings(data_dir=server.data_dir, database_url=server.database_url)
    runtime = open_runtime(settings, bootstrap=False)
    try:
        later = time.time() + 30  # the step after the one EnableMFADevice spent
        code = totp.at(later)
        assert not check_mfa_code(runtime.store.mfa, serial, "AIDAWRONGUSER000000", code, later)
        assert check_mfa_code(runtime.store.mfa, serial, user_id, code, later)
        assert not check_mfa_code(runtime.store.mfa, serial, user_id, code, later)  # replay
        assert not check_mfa_code(runtime.store.mfa, serial, user_id, totp.at(later - 30), later)  # older step
        assert not check_mfa_code(runtime.store.mfa, serial, user_id, "12345x", later + 30)
        assert check_mfa_code(runtime.store.mfa, serial, user_id, totp.at(later + 30), later + 30)
        assert not check_mfa_code(runtime.store.mfa, serial + "x", user_id, totp.at(later + 60), later + 60)
    finally:
        runtime.close()
