"""Virtual MFA devices: CreateVirtualMFADevice, EnableMFADevice, ListMFADevices,
ListVirtualMFADevices, DeactivateMFADevice, ResyncMFADevice, DeleteVirtualMFADevice, GetMFADevice,
and MFA device tags.

Seeds are random 40-byte secrets (64 base32 characters), sealed under the master key
(``totp-seed``) and shown once, in CreateVirtualMFADevice's Base32StringSeed and QRCodePNG.
Enabling (and resyncing) takes two codes of consecutive 30-second steps; the second step is
recorded, so neither code, nor any older one, is accepted again (see ``federation/totp.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from opensts.actions import ActionContext, Params, action
from opensts.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    LimitExceeded,
    NoSuchEntity,
    ValidationError,
)
from opensts.federation.totp import new_seed, otpauth_uri, qr_code_png, verify_consecutive_codes
from opensts.iam.common import read_user_name
from opensts.iam.entities import authorized_user, no_such_user
from opensts.store.iam_users import UserRecord
from opensts.iam.common import (
    read_tag_keys,
    USER_NAME_PATTERN,
    Tag,
    authorize_iam,
    caller_account,
    paginate,
    read_pagination,
    read_path,
    read_tags,
    resource_arn,
)
from opensts.identity import arn as arns
from opensts.identity.principal import PrincipalKind
from opensts.params import ParamReader
from opensts.store.iam_mfa import (
    MAX_DEVICES_PER_USER,
    CodeReplayed,
    DeviceExists,
    DeviceInUse,
    MfaDeviceRecord,
    NoSuchDevice,
    TooManyDevices,
)
from opensts.store.iam_providers import MAX_TAGS, TooManyTags

SERIAL_PATTERN = r"[\w+=/:,.@-]+"
DEVICE_NAME_PATTERN = r"[\w+=,.@-]+"
CODE_PATTERN = r"[\d]+"
NON_USER_CREDENTIALS = "Must specify userName when calling with non-User credentials"


# --- Result shapes ----------------------------------------------------------------------------
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
    base32_string_seed: bytes | None = None
    qr_code_png: bytes | None = field(default=None, metadata={"xml": "QRCodePNG"})
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


@dataclass(frozen=True, slots=True)
class ListMFADeviceTagsResult:
    tags: list[Tag]
    is_truncated: bool = False
    marker: str | None = None


# --- Helpers ----------------------------------------------------------------------------------
def _user_arn(account: str, user: UserRecord) -> str:
    return arns.user_arn(account, user.name, user.path)


def _no_such_device(serial: str) -> NoSuchEntity:
    return NoSuchEntity(f"MFA device with serial number {serial} cannot be found.")


def _target_user(ctx: ActionContext, action_name: str, name: str | None) -> UserRecord | None:
    """The named user, or the calling user when no name is given (None for the account root)."""
    if name is not None:
        return authorized_user(ctx, action_name, name)
    caller = ctx.caller
    assert caller is not None
    if caller.kind is PrincipalKind.ROOT:
        authorize_iam(ctx, action_name, caller.arn)
        return None
    if caller.kind is PrincipalKind.USER and caller.entity_id:
        user = ctx.runtime.store.users.get_by_id(caller.entity_id)
        account = caller_account(ctx)
        authorize_iam(ctx, action_name, _user_arn(account, user) if user else caller.arn)
        if user is None:
            raise no_such_user(caller.user_name or caller.entity_id)
        return user
    raise ValidationError(NON_USER_CREDENTIALS)


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


def _read_serial(reader: ParamReader) -> str:
    serial = reader.string("SerialNumber", required=True, min_len=9, max_len=256, pattern=SERIAL_PATTERN)
    return serial or ""


def _read_codes(reader: ParamReader) -> tuple[str, str]:
    code1 = reader.string("AuthenticationCode1", required=True, min_len=6, max_len=6, pattern=CODE_PATTERN)
    code2 = reader.string("AuthenticationCode2", required=True, min_len=6, max_len=6, pattern=CODE_PATTERN)
    return code1 or "", code2 or ""


def _mfa_user(account: str, user: UserRecord | None) -> MfaUser | None:
    if user is None:
        return None
    return MfaUser(user.path, user.name, user.user_id, _user_arn(account, user), user.created_at)


def _check_codes(ctx: ActionContext, device: MfaDeviceRecord, code1: str, code2: str) -> int:
    seed = ctx.runtime.store.mfa.seed(device.serial_number)
    step = verify_consecutive_codes(seed or "", code1, code2, ctx.request_time, device.last_used_step) if seed else None
    if step is None:
        raise InvalidAuthenticationCode()
    return step


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "CreateVirtualMFADevice")
def create_virtual_mfa_device(ctx: ActionContext, params: Params) -> CreateVirtualMFADeviceResult:
    reader = ParamReader(params)
    path = read_path(reader)
    name = reader.string("VirtualMFADeviceName", required=True, min_len=1, max_len=226, pattern=DEVICE_NAME_PATTERN)
    tags = read_tags(reader, max_items=MAX_TAGS)
    reader.done()
    assert name is not None
    account = caller_account(ctx)
    serial = arns.mfa_arn(account, name, path)
    authorize_iam(ctx, "CreateVirtualMFADevice", serial)
    seed = new_seed()
    try:
        ctx.runtime.store.mfa.create(serial, account, name, path, seed, [(t.key, t.value) for t in tags], ctx.request_time)
    except DeviceExists:
        raise EntityAlreadyExists("MFADevice entity at the same path and name already exists.") from None
    png = qr_code_png(otpauth_uri(seed, name, account))
    device = VirtualMFADevice(serial, seed.encode("ascii"), png, tags=list(tags) or None)
    return CreateVirtualMFADeviceResult(device)


def _device_and_codes(ctx: ActionContext, params: Params, action_name: str) -> tuple[UserRecord, MfaDeviceRecord, str, str, str]:
    """Enable/Resync: the named user (authorized), the device of this account, and the two codes."""
    reader = ParamReader(params)
    name = read_user_name(reader)
    serial = _read_serial(reader)
    code1, code2 = _read_codes(reader)
    reader.done()
    assert name is not None
    user = authorized_user(ctx, action_name, name)
    return user, _device_of_account(ctx, caller_account(ctx), serial), serial, code1, code2


@action("iam", "EnableMFADevice")
def enable_mfa_device(ctx: ActionContext, params: Params) -> None:
    user, device, serial, code1, code2 = _device_and_codes(ctx, params, "EnableMFADevice")
    if device.user_id is not None:
        raise EntityAlreadyExists("MFA Device is already in use.")
    step = _check_codes(ctx, device, code1, code2)
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
    return None


@action("iam", "ResyncMFADevice")
def resync_mfa_device(ctx: ActionContext, params: Params) -> None:
    user, device, serial, code1, code2 = _device_and_codes(ctx, params, "ResyncMFADevice")
    if device.user_id != user.user_id:
        raise _no_such_device(serial)
    step = _check_codes(ctx, device, code1, code2)
    try:
        ctx.runtime.store.mfa.resync(serial, user.user_id, step - 1, step)
    except CodeReplayed:
        raise InvalidAuthenticationCode() from None
    return None


@action("iam", "DeactivateMFADevice")
def deactivate_mfa_device(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader, required=False)
    serial = _read_serial(reader)
    reader.done()
    account = caller_account(ctx)
    user = _target_user(ctx, "DeactivateMFADevice", name)
    device = ctx.runtime.store.mfa.get(serial)
    if user is None or device is None or device.account_id != account or device.user_id != user.user_id:
        raise _no_such_device(serial)
    try:
        ctx.runtime.store.mfa.deactivate(serial, user.user_id)
    except NoSuchDevice:
        raise _no_such_device(serial) from None
    return None


@action("iam", "DeleteVirtualMFADevice")
def delete_virtual_mfa_device(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    serial = _read_serial(reader)
    reader.done()
    account = caller_account(ctx)
    authorize_iam(ctx, "DeleteVirtualMFADevice", _serial_resource(account, serial))
    _device_of_account(ctx, account, serial)
    try:
        ctx.runtime.store.mfa.delete(serial)
    except NoSuchDevice:
        raise _no_such_device(serial) from None
    except DeviceInUse:
        raise DeleteConflict("MFA device is still in use.") from None
    return None


@action("iam", "ListMFADevices")
def list_mfa_devices(ctx: ActionContext, params: Params) -> ListMFADevicesResult:
    reader = ParamReader(params)
    name = read_user_name(reader, required=False)
    marker, max_items = read_pagination(reader)
    reader.done()
    user = _target_user(ctx, "ListMFADevices", name)
    devices = ctx.runtime.store.mfa.for_user(user.user_id) if user is not None else []
    page = paginate(devices, marker, max_items, key=lambda d: d.serial_number)
    items = [MFADevice(user.name, d.serial_number, d.enabled_at) for d in page.items if user and d.enabled_at]
    return ListMFADevicesResult(items, page.is_truncated, page.marker)


@action("iam", "ListVirtualMFADevices")
def list_virtual_mfa_devices(ctx: ActionContext, params: Params) -> ListVirtualMFADevicesResult:
    reader = ParamReader(params)
    status = reader.string("AssignmentStatus")
    if status is not None and status not in ("Assigned", "Unassigned", "Any"):
        reader.fail(status, "assignmentStatus", "Member must satisfy enum value set: [Assigned, Unassigned, Any]")
    marker, max_items = read_pagination(reader)
    reader.done()
    account = caller_account(ctx)
    authorize_iam(ctx, "ListVirtualMFADevices", "*")
    devices = ctx.runtime.store.mfa.list_virtual(account, status or "Any")
    page = paginate(devices, marker, max_items, key=lambda d: d.serial_number)
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


@action("iam", "GetMFADevice")
def get_mfa_device(ctx: ActionContext, params: Params) -> GetMFADeviceResult:
    reader = ParamReader(params)
    serial = _read_serial(reader)
    name = reader.string("UserName", min_len=1, max_len=64, pattern=USER_NAME_PATTERN)
    reader.done()
    account = caller_account(ctx)
    user = _target_user(ctx, "GetMFADevice", name)
    device = ctx.runtime.store.mfa.get(serial)
    if user is None or device is None or device.account_id != account or device.user_id != user.user_id:
        raise _no_such_device(serial)
    return GetMFADeviceResult(serial, user.name, device.enabled_at)


@action("iam", "TagMFADevice")
def tag_mfa_device(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    serial = _read_serial(reader)
    if "Tags" not in params:
        reader.fail(None, "tags", "Member must not be null")
    tags = read_tags(reader, max_items=MAX_TAGS)
    reader.done()
    account = caller_account(ctx)
    authorize_iam(ctx, "TagMFADevice", _serial_resource(account, serial))
    _device_of_account(ctx, account, serial)
    try:
        ctx.runtime.store.mfa.tag(serial, [(t.key, t.value) for t in tags])
    except NoSuchDevice:
        raise _no_such_device(serial) from None
    except TooManyTags:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerMFADevice: {MAX_TAGS}") from None
    return None


@action("iam", "UntagMFADevice")
def untag_mfa_device(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    serial = _read_serial(reader)
    keys = read_tag_keys(reader)
    reader.done()
    account = caller_account(ctx)
    authorize_iam(ctx, "UntagMFADevice", _serial_resource(account, serial))
    _device_of_account(ctx, account, serial)
    try:
        ctx.runtime.store.mfa.untag(serial, keys)
    except NoSuchDevice:
        raise _no_such_device(serial) from None
    return None


@action("iam", "ListMFADeviceTags")
def list_mfa_device_tags(ctx: ActionContext, params: Params) -> ListMFADeviceTagsResult:
    reader = ParamReader(params)
    serial = _read_serial(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    account = caller_account(ctx)
    authorize_iam(ctx, "ListMFADeviceTags", _serial_resource(account, serial))
    _device_of_account(ctx, account, serial)
    tags = ctx.runtime.store.mfa.tags(serial)
    page = paginate(tags, marker, max_items, key=lambda t: t[0].lower())
    return ListMFADeviceTagsResult([Tag(k, v) for k, v in page.items], page.is_truncated, page.marker)
