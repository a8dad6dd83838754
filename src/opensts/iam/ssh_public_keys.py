"""SSH public keys of IAM users: UploadSSHPublicKey, GetSSHPublicKey, ListSSHPublicKeys,
UpdateSSHPublicKey, DeleteSSHPublicKey.

AWS keeps these for CodeCommit's SSH access
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSSHPublicKey.html): a key "must be
encoded in ssh-rsa format or PEM format" and be at least 2048 bits long. So:

- An ``ssh-rsa AAAA... [comment]`` line or a PEM RSA public key (``BEGIN PUBLIC KEY`` or
  ``BEGIN RSA PUBLIC KEY``), read with ``cryptography``'s ``load_ssh_public_key`` /
  ``load_pem_public_key``. Another key type (``ssh-ed25519``, ``ecdsa-sha2-*``, a PEM EC key) or
  text that is neither format is ``UnrecognizedPublicKeyEncoding``; an ``ssh-rsa`` or PEM key that
  does not parse, or an RSA key under 2048 bits, is ``InvalidPublicKey``.
- ``Fingerprint`` is the MD5 of the key's SSH wire form in colon hex, as AWS (and ``ssh-keygen -E
  md5``) show it. A user cannot hold one key twice, whatever its encoding or comment
  (``DuplicateSSHPublicKey``); at most :data:`MAX_KEYS_PER_USER` keys per user (``LimitExceeded``).
- ``GetSSHPublicKey`` answers the body as uploaded for ``Encoding=SSH`` when it was uploaded as an
  ``ssh-rsa`` line, and converts it otherwise (``PEM``: ``BEGIN PUBLIC KEY``, SubjectPublicKeyInfo).
- ``ListSSHPublicKeys`` without ``UserName`` lists the calling user's keys; for the account root it
  answers an empty list (the root has no SSH keys in AWS either); roles and federated users get
  ValidationError, as AWS.
- Every action authorizes ``iam:ACTION`` on the user's ARN before saying whether user or key exists.

Deviations: the messages of ``InvalidPublicKey``, ``UnrecognizedPublicKeyEncoding``,
``DuplicateSSHPublicKey`` and the quota name are ours (AWS does not document them). Keys are
stored; OpenSTS has no Git server that would use them.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from opensts.actions import ActionContext, action
from opensts.errors import AwsError, InvalidInput, LimitExceeded, NoSuchEntity
from opensts.fields import one_of, text
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account
from opensts.iam.entities import authorized_user, calling_user, user_arn
from opensts.iam.pagination import paginate
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.store.iam_user_credentials import CredentialLimitExceeded, DuplicateCredential, SshKeyRecord
from opensts.store.iam_users import UserRecord

MAX_KEYS_PER_USER = 5
MIN_RSA_BITS = 2048
STATUS_VALUES = ("Active", "Inactive", "Expired")
PUBLIC_KEY_PATTERN = r"[\u0009\u000A\u000D\u0020-\u00FF]+"  # publicKeyMaterialType
KEY_ID_PATTERN = r"[\w]+"  # publicKeyIdType

UNRECOGNIZED = "The public key encoding format is unsupported or unrecognized: use ssh-rsa or PEM (RSA) format."
MALFORMED = "The public key is malformed or otherwise invalid."
TOO_SHORT = f"The public key is too short: RSA keys must be at least {MIN_RSA_BITS} bits long."
DUPLICATE = "The SSH public key is already associated with the specified IAM user."


class InvalidPublicKey(AwsError):
    code, status = "InvalidPublicKey", 400


class UnrecognizedPublicKeyEncoding(AwsError):
    code, status = "UnrecognizedPublicKeyEncoding", 400


class DuplicateSSHPublicKey(AwsError):
    code, status = "DuplicateSSHPublicKey", 400


# --- Requests (botocore: UploadSSHPublicKeyRequest, ...) and results --------------------------------
def key_id() -> Any:
    return text("SSHPublicKeyId", required=True, min_len=20, max_len=128, pattern=KEY_ID_PATTERN)


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadSSHPublicKeyRequest:
    user_name: str = fields.user_name(max_len=64)
    ssh_public_key_body: str = text("SSHPublicKeyBody", required=True, min_len=1, max_len=16384, pattern=PUBLIC_KEY_PATTERN)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSSHPublicKeyRequest:
    user_name: str = fields.user_name(max_len=64)
    ssh_public_key_id: str = key_id()
    encoding: str = one_of("Encoding", ("SSH", "PEM"), required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSSHPublicKeysRequest:
    user_name: str | None = fields.user_name(required=False, max_len=64)
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateSSHPublicKeyRequest:
    user_name: str = fields.user_name(max_len=64)
    ssh_public_key_id: str = key_id()
    status: str = one_of("Status", STATUS_VALUES, required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteSSHPublicKeyRequest:
    user_name: str = fields.user_name(max_len=64)
    ssh_public_key_id: str = key_id()


@dataclass(frozen=True, slots=True)
class SSHPublicKey:
    user_name: str
    ssh_public_key_id: str = field(metadata={"xml": "SSHPublicKeyId"})
    fingerprint: str
    ssh_public_key_body: str = field(metadata={"xml": "SSHPublicKeyBody"})
    status: str
    upload_date: datetime


@dataclass(frozen=True, slots=True)
class SSHPublicKeyMetadata:
    user_name: str
    ssh_public_key_id: str = field(metadata={"xml": "SSHPublicKeyId"})
    status: str
    upload_date: datetime


@dataclass(frozen=True, slots=True)
class SSHPublicKeyResult:
    """UploadSSHPublicKey, GetSSHPublicKey."""

    ssh_public_key: SSHPublicKey = field(metadata={"xml": "SSHPublicKey"})


@dataclass(frozen=True, slots=True)
class ListSSHPublicKeysResult:
    ssh_public_keys: list[SSHPublicKeyMetadata] = field(metadata={"xml": "SSHPublicKeys"})
    is_truncated: bool
    marker: str | None = None


# --- Parsing -------------------------------------------------------------------------------------
def parse_public_key(body: str) -> rsa.RSAPublicKey:
    """The RSA key of an ``ssh-rsa`` line or a PEM public key, with AWS's errors."""
    stripped = body.strip()
    raw = stripped.encode("latin-1", errors="replace")
    if stripped.startswith("-----BEGIN"):
        try:
            key: object = serialization.load_pem_public_key(raw)
        except (ValueError, UnsupportedAlgorithm):
            raise InvalidPublicKey(MALFORMED) from None
    else:
        key_type = stripped.split(None, 1)[0] if stripped else ""
        if key_type != "ssh-rsa":
            raise UnrecognizedPublicKeyEncoding(UNRECOGNIZED)
        try:
            key = serialization.load_ssh_public_key(raw)
        except (ValueError, UnsupportedAlgorithm):
            raise InvalidPublicKey(MALFORMED) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise UnrecognizedPublicKeyEncoding(UNRECOGNIZED)
    if key.key_size < MIN_RSA_BITS:
        raise InvalidPublicKey(TOO_SHORT)
    return key


def ssh_line(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii")


def md5_fingerprint(key: rsa.RSAPublicKey) -> str:
    """MD5 of the SSH wire form, colon hex (``ssh-keygen -l -E md5``), as AWS answers it."""
    blob = base64.b64decode(ssh_line(key).split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def encoded_body(record: SshKeyRecord, encoding: str) -> str:
    """The stored key in the encoding asked for (stored keys parsed when uploaded)."""
    uploaded_as_ssh = record.body.lstrip().startswith("ssh-rsa")
    if encoding == "SSH" and uploaded_as_ssh:
        return record.body
    key = parse_public_key(record.body)
    if encoding == "SSH":
        return ssh_line(key)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


# --- Actions ------------------------------------------------------------------------------------
def no_such_key(key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Public Key with id {key_id} cannot be found.")


def _shape(user: UserRecord, record: SshKeyRecord, body: str) -> SSHPublicKey:
    return SSHPublicKey(user.name, record.key_id, record.fingerprint, body, record.status, record.uploaded_at)


@action("iam", "UploadSSHPublicKey", request=UploadSSHPublicKeyRequest, writes=True)
def upload_ssh_public_key(ctx: ActionContext, request: UploadSSHPublicKeyRequest) -> SSHPublicKeyResult:
    user = authorized_user(ctx, "UploadSSHPublicKey", request.user_name)
    body = request.ssh_public_key_body.strip()
    key = parse_public_key(body)
    try:
        record = ctx.runtime.store.user_credentials.upload_ssh_key(
            ids.new_ssh_public_key_id(), user.account_id, user.user_id, body, md5_fingerprint(key),
            ctx.request_time.replace(microsecond=0), MAX_KEYS_PER_USER,
        )
    except DuplicateCredential:
        raise DuplicateSSHPublicKey(DUPLICATE) from None
    except CredentialLimitExceeded:
        raise LimitExceeded(f"Cannot exceed quota for PublicKeysPerUser: {MAX_KEYS_PER_USER}") from None
    return SSHPublicKeyResult(_shape(user, record, body))


def _owned_key(ctx: ActionContext, user: UserRecord, key_id: str) -> SshKeyRecord:
    record = ctx.runtime.store.user_credentials.ssh_key(user.user_id, key_id)
    if record is None:
        raise no_such_key(key_id)
    return record


@action("iam", "GetSSHPublicKey", request=GetSSHPublicKeyRequest)
def get_ssh_public_key(ctx: ActionContext, request: GetSSHPublicKeyRequest) -> SSHPublicKeyResult:
    user = authorized_user(ctx, "GetSSHPublicKey", request.user_name)
    record = _owned_key(ctx, user, request.ssh_public_key_id)
    return SSHPublicKeyResult(_shape(user, record, encoded_body(record, request.encoding)))


@action("iam", "ListSSHPublicKeys", request=ListSSHPublicKeysRequest)
def list_ssh_public_keys(ctx: ActionContext, request: ListSSHPublicKeysRequest) -> ListSSHPublicKeysResult:
    if request.user_name is not None:
        user: UserRecord | None = authorized_user(ctx, "ListSSHPublicKeys", request.user_name)
    else:
        user = calling_user(ctx)
        authorize_iam(ctx, "ListSSHPublicKeys", user_arn(user) if user else arns.root_arn(caller_account(ctx)))
    if user is None:  # the account root holds no SSH keys
        return ListSSHPublicKeysResult([], False)
    keys = ctx.runtime.store.user_credentials.ssh_keys(user.user_id)
    page = paginate(keys, request.marker, request.max_items, key=lambda k: k.key_id)
    shapes = [SSHPublicKeyMetadata(user.name, k.key_id, k.status, k.uploaded_at) for k in page.items]
    return ListSSHPublicKeysResult(shapes, page.is_truncated, page.marker)


@action("iam", "UpdateSSHPublicKey", request=UpdateSSHPublicKeyRequest, writes=True)
def update_ssh_public_key(ctx: ActionContext, request: UpdateSSHPublicKeyRequest) -> None:
    if request.status == "Expired":  # in the enum, but not a status a caller may set
        raise InvalidInput("Status must be Active or Inactive.")
    user = authorized_user(ctx, "UpdateSSHPublicKey", request.user_name)
    if not ctx.runtime.store.user_credentials.set_ssh_key_status(user.user_id, request.ssh_public_key_id, request.status):
        raise no_such_key(request.ssh_public_key_id)


@action("iam", "DeleteSSHPublicKey", request=DeleteSSHPublicKeyRequest, writes=True)
def delete_ssh_public_key(ctx: ActionContext, request: DeleteSSHPublicKeyRequest) -> None:
    user = authorized_user(ctx, "DeleteSSHPublicKey", request.user_name)
    if not ctx.runtime.store.user_credentials.delete_ssh_key(user.user_id, request.ssh_public_key_id):
        raise no_such_key(request.ssh_public_key_id)
