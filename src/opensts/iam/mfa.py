"""Virtual MFA devices: CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice, DeactivateMFADevice,
DeleteVirtualMFADevice, ListMFADevices, ListVirtualMFADevices, GetMFADevice, and their tags
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateVirtualMFADevice.html and the pages
beside it).

A device's serial number is its ARN, ``arn:aws:iam::ACCT:mfa/PATH/NAME``. Its seed is a random
40-byte secret (64 base32 characters), sealed under the master key (``totp-seed``) and shown once, in
CreateVirtualMFADevice's ``Base32StringSeed`` and ``QRCodePNG``. Enabling and resyncing take two
codes of consecutive 30-second steps; the second step is recorded, so neither code, nor any older
one, is accepted again (``federation/totp.py``). A user holds at most eight devices
(``MFADevicesPerUser``).

Authorization: Enable/Resync authorize ``iam:ACTION`` on the named user; Deactivate, ListMFADevices
and GetMFADevice on the named user, or on the caller (its user ARN, or the account root's ARN) when
no user is named; Create on the new device's ARN; ListVirtualMFADevices on ``*``; Delete and the tag
actions on the serial number when it is an IAM ``mfa`` ARN (else on ``mfa/SERIAL`` in the caller's
account).

Deviations from AWS:
- Only virtual (TOTP) devices: no hardware tokens, FIDO keys or SMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import DeleteConflict, EntityAlreadyExists, InvalidAuthenticationCode, LimitExceeded, NoSuchEntity
from opensts.federation.totp import new_seed, otpauth_uri, qr_code_png, verify_consecutive_codes
from opensts.fields import one_of, secret, text
from opensts.iam import fields, tagging
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.entities import authorized_user, calling_user, user_arn
from opensts.iam.pagination import paginate
from opensts.iam.tagging import ListTagsResult, Tag, add_tags, pairs, tag_context, tags_page, untag_context
from opensts.identity import arn as arns
from opensts.store.iam_mfa import MAX_DEVICES_PER_USER, MfaDeviceRecord, UserRef
from opensts.store.errors import CodeReplayed, DeviceExists, DeviceInUse, NoSuchDevice, TooManyDevices
from opensts.store.iam_users import UserRecord

TAG_QUOTA = "TagsPerMFADevice"
SERIAL_PATTERN = r"[\w+=/:,.@-]+"  # serialNumberType
DEVICE_NAME_PATTERN = r"[\w+=,.@-]+"  # virtualMFADeviceName
CODE_PATTERN = r"[\d]+"  # authenticationCodeType
ASSIGNMENT_STATUSES = ("Assigned", "Unassigned", "Any")


# --- Request fields -----------------------------------------------------------------------------
def _serial_number() -> Any:
    return text("SerialNumber", required=True, min_len=9, max_len=256, pattern=SERIAL_PATTERN)


def _code(name: str) -> Any:
    return text(name, required=True, min_len=6, max_len=6, pattern=CODE_PATTERN, secret=True)


# --- Requests (botocore: CreateVirtualMFADeviceRequest, ...) ----------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateVirtualMFADeviceRequest:
    path: str = fields.path()
    virtual_mfa_device_name: str = text(
        "VirtualMFADeviceName", required=True, min_len=1, max_len=226, pattern=DEVICE_NAME_PATTERN
    )
    tags: list[Tag] = tagging.tags()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceCodesRequest:
    """EnableMFADevice and ResyncMFADevice."""

    user_name: str = fields.user_name()
    serial_number: str = _serial_number()
    authentication_code1: str = _code("AuthenticationCode1")
    authentication_code2: str = _code("AuthenticationCode2")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeactivateMFADeviceRequest:
    user_name: str | None = fields.user_name(required=False)
    serial_number: str = _serial_number()


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialNumberRequest:
    """DeleteVirtualMFADevice."""

    serial_number: str = _serial_number()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMFADevicesRequest:
    user_name: str | None = fields.user_name(required=False)
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListVirtualMFADevicesRequest:
    assignment_status: str = one_of("AssignmentStatus", ASSIGNMENT_STATUSES, default="Any")
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetMFADeviceRequest:
    serial_number: str = _serial_number()
    user_name: str | None = fields.user_name(required=False, max_len=64)


@dataclass(frozen=True, slots=True, kw_only=True)
class TagMFADeviceRequest:
    serial_number: str = _serial_number()
    tags: list[Tag] = tagging.tags(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntagMFADeviceRequest:
    serial_number: str = _serial_number()
    tag_keys: list[str] = tagging.tag_keys()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListMFADeviceTagsRequest:
    serial_number: str = _serial_number()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


# --- Results ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MfaUser:
    path: str
    user_name: str
    user_id: str
    arn: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class VirtualMFADevice:
    serial_number: str
    base32_string_seed: bytes | None = secret(default=None)
    qr_code_png: bytes | None = secret(default=None, xml="QRCodePNG")
    user: MfaUser | None = None
    enable_date: datetime | None = None
    tags: list[Tag] | None = None


@dataclass(frozen=True, slots=True)
class CreateVirtualMFADeviceResult:
    virtual_mfa_device: VirtualMFADevice = field(metadata={"xml": "VirtualMFADevice"})


@dataclass(frozen=True, slots=True)
class MFADevice:
    user_name: str
    serial_number: str
    enable_date: datetime


@dataclass(frozen=True, slots=True)
class ListMFADevicesResult:
    mfa_devices: list[MFADevice] = field(metadata={"xml": "MFADevices"})
    is_truncated: bool = False
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class ListVirtualMFADevicesResult:
    virtual_mfa_devices: list[VirtualMFADevice] = field(metadata={"xml": "VirtualMFADevices"})
    is_truncated: bool = False
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class GetMFADeviceResult:
    serial_number: str
    user_name: str | None = None
    enable_date: datetime | None = None


# --- Helpers ----------------------------------------------------------------------------------
def _no_such_device(serial: str) -> NoSuchEntity:
    return NoSuchEntity(f"MFA device with serial number {serial} cannot be found.")


def _target_user(ctx: ActionContext, action_name: str, name: str | None) -> UserRecord | None:
    """The named user, or the calling user when no name is given (None for the account root),
    once ``iam:ACTION`` on it is allowed."""
    if name is not None:
        return authorized_user(ctx, action_name, name)
    caller = ctx.caller
    assert caller is not None
    try:
        user = calling_user(ctx)
    except NoSuchEntity:  # the caller's user is gone: authorized on the caller's ARN first
        authorize_iam(ctx, action_name, caller.arn)
        raise
    authorize_iam(ctx, action_name, user_arn(user) if user is not None else caller.arn)
    return user


def _serial_resource(account: str, serial: str) -> str:
    """The resource a device action is authorized on: its serial when that is an IAM mfa ARN."""
    try:
        parsed = arns.Arn.parse(serial)
    except ValueError:
        return resource_arn(account, "mfa", serial)
    if parsed.service == "iam" and parsed.resource_type == "mfa":
        return serial
    return resource_arn(account, "mfa", serial)


def _device_of_account(ctx: ActionContext, account: str, serial: str) -> MfaDeviceRecord:
    device = ctx.runtime.store.mfa.get(serial)
    if device is None or device.account_id != account:
        raise _no_such_device(serial)
    return device


def _authorized_device(
    ctx: ActionContext, action_name: str, serial: str, context: dict[str, Any] | None = None
) -> MfaDeviceRecord:
    """The device ``serial`` of the caller's account, once ``iam:ACTION`` on it is allowed (with the
    action's own condition keys, ``context``)."""
    account = caller_account(ctx)
    authorize_iam(ctx, action_name, _serial_resource(account, serial), context)
    return _device_of_account(ctx, account, serial)


def _user_and_device(ctx: ActionContext, action_name: str, request: DeviceCodesRequest) -> tuple[UserRecord, MfaDeviceRecord]:
    """Enable/Resync: the named user (authorized) and the device of this account."""
    user = authorized_user(ctx, action_name, request.user_name)
    return user, _device_of_account(ctx, caller_account(ctx), request.serial_number)


def _mfa_user(account: str, user: UserRef | None) -> MfaUser | None:
    if user is None:
        return None
    return MfaUser(user.path, user.name, user.user_id, arns.user_arn(account, user.name, user.path), user.created_at)


def _check_codes(ctx: ActionContext, device: MfaDeviceRecord, request: DeviceCodesRequest) -> int:
    """The step of the second code, if the two codes are consecutive steps newer than the last used."""
    seed = ctx.runtime.store.mfa.seed(device.serial_number)
    code1, code2 = request.authentication_code1, request.authentication_code2
    step = verify_consecutive_codes(seed, code1, code2, ctx.request_time, device.last_used_step) if seed else None
    if step is None:
        raise InvalidAuthenticationCode()
    return step


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "CreateVirtualMFADevice", request=CreateVirtualMFADeviceRequest, writes=True)
def create_virtual_mfa_device(ctx: ActionContext, request: CreateVirtualMFADeviceRequest) -> CreateVirtualMFADeviceResult:
    name, path, tags = request.virtual_mfa_device_name, request.path, request.tags
    account = caller_account(ctx)
    serial = arns.mfa_arn(account, name, path)
    authorize_iam(ctx, "CreateVirtualMFADevice", serial)
    seed = new_seed()
    try:
        ctx.runtime.store.mfa.create(serial, account, name, path, seed, pairs(tags), ctx.request_time)
    except DeviceExists:
        raise EntityAlreadyExists("MFADevice entity at the same path and name already exists.") from None
    png = qr_code_png(otpauth_uri(seed, name, account))
    return CreateVirtualMFADeviceResult(VirtualMFADevice(serial, seed.encode("ascii"), png, tags=list(tags) or None))


@action("iam", "EnableMFADevice", request=DeviceCodesRequest, writes=True)
def enable_mfa_device(ctx: ActionContext, request: DeviceCodesRequest) -> None:
    user, device = _user_and_device(ctx, "EnableMFADevice", request)
    serial = request.serial_number
    if device.user_id is not None:
        raise EntityAlreadyExists("MFA Device is already in use.")
    step = _check_codes(ctx, device, request)
    try:
        ctx.runtime.store.mfa.enable(serial, user.user_id, step - 1, step, ctx.request_time)
    except NoSuchDevice:
        raise _no_such_device(serial) from None
    except DeviceInUse:
        raise EntityAlreadyExists("MFA Device is already in use.") from None
    except TooManyDevices:
        raise LimitExceeded(f"Cannot exceed quota for MFADevicesPerUser: {MAX_DEVICES_PER_USER}") from None
    except CodeReplayed:
        raise InvalidAuthenticationCode() from None


@action("iam", "ResyncMFADevice", request=DeviceCodesRequest, writes=True)
def resync_mfa_device(ctx: ActionContext, request: DeviceCodesRequest) -> None:
    user, device = _user_and_device(ctx, "ResyncMFADevice", request)
    if device.user_id != user.user_id:
        raise _no_such_device(request.serial_number)
    step = _check_codes(ctx, device, request)
    try:
        ctx.runtime.store.mfa.resync(request.serial_number, user.user_id, step - 1, step)
    except CodeReplayed:
        raise InvalidAuthenticationCode() from None


@action("iam", "DeactivateMFADevice", request=DeactivateMFADeviceRequest, writes=True)
def deactivate_mfa_device(ctx: ActionContext, request: DeactivateMFADeviceRequest) -> None:
    serial = request.serial_number
    account = caller_account(ctx)
    user = _target_user(ctx, "DeactivateMFADevice", request.user_name)
    device = ctx.runtime.store.mfa.get(serial)
    if user is None or device is None or device.account_id != account or device.user_id != user.user_id:
        raise _no_such_device(serial)
    try:
        ctx.runtime.store.mfa.deactivate(serial, user.user_id)
    except NoSuchDevice:
        raise _no_such_device(serial) from None


@action("iam", "DeleteVirtualMFADevice", request=SerialNumberRequest, writes=True)
def delete_virtual_mfa_device(ctx: ActionContext, request: SerialNumberRequest) -> None:
    serial = request.serial_number
    _authorized_device(ctx, "DeleteVirtualMFADevice", serial)
    try:
        ctx.runtime.store.mfa.delete(serial)
    except NoSuchDevice:
        raise _no_such_device(serial) from None
    except DeviceInUse:
        raise DeleteConflict("MFA device is still in use.") from None


@action("iam", "ListMFADevices", request=ListMFADevicesRequest)
def list_mfa_devices(ctx: ActionContext, request: ListMFADevicesRequest) -> ListMFADevicesResult:
    user = _target_user(ctx, "ListMFADevices", request.user_name)
    if user is None:  # the account root holds no virtual devices here
        return ListMFADevicesResult([], False, None)
    devices = ctx.runtime.store.mfa.for_user(user.user_id)
    page = paginate(devices, request.marker, request.max_items, key=lambda d: d.serial_number)
    items = [MFADevice(user.name, d.serial_number, d.enabled_at) for d in page.items if d.enabled_at]
    return ListMFADevicesResult(items, page.is_truncated, page.marker)


@action("iam", "ListVirtualMFADevices", request=ListVirtualMFADevicesRequest)
def list_virtual_mfa_devices(ctx: ActionContext, request: ListVirtualMFADevicesRequest) -> ListVirtualMFADevicesResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListVirtualMFADevices", "*")
    devices = ctx.runtime.store.mfa.list_virtual(account, request.assignment_status)
    page = paginate(devices, request.marker, request.max_items, key=lambda d: d.serial_number)
    tags = ctx.runtime.store.mfa.tags_for([d.serial_number for d in page.items])
    items = [
        VirtualMFADevice(
            d.serial_number,
            user=_mfa_user(account, d.user),
            enable_date=d.enabled_at,
            tags=[Tag(k, v) for k, v in tags.get(d.serial_number, [])] or None,
        )
        for d in page.items
    ]
    return ListVirtualMFADevicesResult(items, page.is_truncated, page.marker)


@action("iam", "GetMFADevice", request=GetMFADeviceRequest)
def get_mfa_device(ctx: ActionContext, request: GetMFADeviceRequest) -> GetMFADeviceResult:
    serial = request.serial_number
    account = caller_account(ctx)
    user = _target_user(ctx, "GetMFADevice", request.user_name)
    device = ctx.runtime.store.mfa.get(serial)
    if user is None or device is None or device.account_id != account or device.user_id != user.user_id:
        raise _no_such_device(serial)
    return GetMFADeviceResult(serial, user.name, device.enabled_at)


@action("iam", "TagMFADevice", request=TagMFADeviceRequest, writes=True)
def tag_mfa_device(ctx: ActionContext, request: TagMFADeviceRequest) -> None:
    serial = request.serial_number
    _authorized_device(ctx, "TagMFADevice", serial, tag_context(request.tags))
    try:
        add_tags(lambda new: ctx.runtime.store.mfa.tag(serial, new), request.tags, TAG_QUOTA)
    except NoSuchDevice:
        raise _no_such_device(serial) from None


@action("iam", "UntagMFADevice", request=UntagMFADeviceRequest, writes=True)
def untag_mfa_device(ctx: ActionContext, request: UntagMFADeviceRequest) -> None:
    serial = request.serial_number
    _authorized_device(ctx, "UntagMFADevice", serial, untag_context(request.tag_keys))
    try:
        ctx.runtime.store.mfa.untag(serial, request.tag_keys)
    except NoSuchDevice:
        raise _no_such_device(serial) from None


@action("iam", "ListMFADeviceTags", request=ListMFADeviceTagsRequest)
def list_mfa_device_tags(ctx: ActionContext, request: ListMFADeviceTagsRequest) -> ListTagsResult:
    serial = request.serial_number
    _authorized_device(ctx, "ListMFADeviceTags", serial)
    return tags_page(ctx.runtime.store.mfa.tags(serial), request.marker, request.max_items)
