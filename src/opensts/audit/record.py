"""CloudTrail records of what the edge saw: one :class:`ApiCall` or :class:`AuthorizationCall` in,
the events to store out.

The record follows CloudTrail's event reference (eventVersion 1.09):
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html

- ``userIdentity`` is the authenticated caller (``Root``, ``IAMUser``, ``AssumedRole``,
  ``FederatedUser``, with ``sessionContext`` for temporary credentials). For AssumeRoleWithWebIdentity
  and AssumeRoleWithSAML it is the federated user (``WebIdentityUser``: provider, audience, subject;
  ``SAMLUser``: NameQualifier and subject), as CloudTrail records them. When such a call fails, the
  token's claims are unverified: they are recorded with ``additionalEventData.identityUnverified``.
  A call whose authentication failed carries ``type: Unknown`` and the access key id it claimed.
- ``requestParameters`` and ``responseElements`` are the typed request and result rendered by
  :func:`opensts.fields.redacted`: every field marked secret is ``HIDDEN_DUE_TO_SECURITY_REASONS``,
  session tokens are shown as their SHA-256 fingerprint. A call signed with a session token
  carries that token's fingerprint in ``additionalEventData.sessionTokenSha256``.
- ``errorMessage``: AWS's validation messages quote the offending value; any value of a secret
  parameter (and the request's session token) is cut out of the message before it is recorded.
- A call that names resources of another account (cross-account AssumeRole) is recorded in both
  accounts, with one ``sharedEventID``, as CloudTrail does.

Deviations from CloudTrail (docs/AUDIT.md): ``eventSource`` of an ``/v1/authorize`` decision is the
service it was asked for, with ``eventType: AwsApiCall`` and ``additionalEventData.decision``;
structured parameters keep their request type's nesting (``policies.policyArns``, ``mfa.serialNumber``);
``tlsDetails`` holds the ``Host`` header only (the TLS version and cipher are not visible to the app).
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from opensts.cache import BoundedCache
from opensts.errors import AwsError
from opensts.fields import PARAM, SECRET, fingerprint, redacted
from opensts.identity import ids
from opensts.identity.arn import Arn
from opensts.identity.principal import Caller, PrincipalKind
from opensts.store.audit import NewEvent

EVENT_VERSION = "1.09"
MAX_MESSAGE = 1024  # CloudTrail truncates long error messages too

# Request and result fields that name a resource: (field name) → LookupEvents' ResourceType.
_RESOURCE_FIELDS = {
    "role_arn": "AWS::IAM::Role",
    "role_name": "AWS::IAM::Role",
    "user_name": "AWS::IAM::User",
    "group_name": "AWS::IAM::Group",
    "instance_profile_name": "AWS::IAM::InstanceProfile",
    "policy_arn": "AWS::IAM::Policy",
    "access_key_id": "AWS::IAM::AccessKey",
    "open_id_connect_provider_arn": "AWS::IAM::OIDCProvider",
    "saml_provider_arn": "AWS::IAM::SAMLProvider",
    "principal_arn": "AWS::IAM::SAMLProvider",
    "serial_number": "AWS::IAM::MFADevice",
    "assumed_role_id": "AWS::STS::AssumedRole",
}
_CROSS_ACCOUNT_ACTIONS = frozenset(("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"))
_SESSION_ISSUER = {
    "assumed-role": "Role",
    "federated-user": "IAMUser",
    "session": "IAMUser",
    "root-session": "Root",
    "console-user": "IAMUser",
    "console-root": "Root",
}


@dataclass(slots=True)
class ApiCall:
    """What the Query API edge knows about one STS or IAM call, success or failure."""

    event_time: datetime
    request_id: str
    service: str  # "sts" | "iam"
    action: str
    read_only: bool
    source_ip: str | None
    user_agent: str | None
    region: str
    host: str | None
    secure: bool
    caller: Caller | None = None
    claimed_key_id: str | None = None  # from the signature, when authentication failed
    session_token: str | None = None  # as signed: only its fingerprint is recorded
    request: Any = None  # the typed request, once decoded
    result: Any = None
    error: AwsError | None = None
    secret_params: tuple[str, ...] = ()  # raw values of secret parameters, cut from error messages


@dataclass(slots=True)
class AuthorizationCall:
    """One ``/v1/authorize`` decision (or its failure to authenticate the inner request)."""

    event_time: datetime
    request_id: str
    action: str  # "ec2:StopInstances"
    resource: str
    decision: str  # "Allow" | "Deny"
    source_ip: str | None  # the inner request's, as the service reported it
    user_agent: str | None
    region: str
    asked_by: str  # the ARN of the service's principal (the outer signature)
    caller: Caller | None = None
    claimed_key_id: str | None = None
    session_token: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(slots=True)
class SigninCall:
    """One sign-in to the web console (``ConsoleLogin``), success or failure."""

    event_time: datetime
    request_id: str
    source_ip: str | None
    user_agent: str | None
    host: str | None
    secure: bool
    caller: Caller | None = None  # who signed in (None: the sign-in failed)
    account_id: str | None = None  # the account a failed sign-in named, when it exists
    mfa_used: bool = False
    error_message: str | None = None


HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def signin_events(call: SigninCall, default_account: str, known_account: Any) -> list[NewEvent]:
    """``ConsoleLogin`` as CloudTrail records console sign-ins
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html):
    ``eventSource: signin.amazonaws.com``, ``eventType: AwsConsoleSignIn``, ``responseElements:
    {"ConsoleLogin": "Success" | "Failure"}``. A failure names no user: what was typed as a user
    name may be a password (AWS records it as ``HIDDEN_DUE_TO_SECURITY_REASONS`` too)."""
    if call.caller is not None:
        identity, username, _ = _identity(call.caller, None, None)
        identity = {key: value for key, value in identity.items() if key != "accessKeyId"}
        account = call.caller.account_id
    else:
        identity, username = {"type": "IAMUser", "userName": HIDDEN}, None
        account = call.account_id if call.account_id and known_account(call.account_id) else default_account
        identity["accountId"] = account
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": _time(call.event_time),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": "Failure" if call.error_message else "Success"},
        "additionalEventData": {"LoginTo": "/console/", "MobileVersion": "No", "MFAUsed": "Yes" if call.mfa_used else "No"},
        "requestID": call.request_id,
        "eventID": "",
        "readOnly": False,
        "eventType": "AwsConsoleSignIn",
        "managementEvent": True,
        "eventCategory": "Management",
    }
    if call.error_message:
        record["errorMessage"] = call.error_message
    if call.secure:
        record["tlsDetails"] = {"clientProvidedHostHeader": call.host}
    return _events(record, [account], call.event_time, None, username, None, [])


def api_call_events(call: ApiCall, default_account: str, known_account: Any) -> list[NewEvent]:
    """The events recording ``call``: one per account it concerns (``known_account(id) -> bool``
    says which account ids exist; others' events go to ``default_account``)."""
    identity, username, extra = _identity(call.caller, call.claimed_key_id, call.session_token)
    if call.service == "sts" and call.action in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        identity, username, extra = _federated_identity(call)
    resources = list(dict.fromkeys([*_resources(call.request), *_resources(call.result)]))
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": _time(call.event_time),
        "eventSource": f"{call.service}.amazonaws.com",
        "eventName": call.action,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
    }
    if call.error is not None:
        record["errorCode"] = call.error.code
        record["errorMessage"] = _scrubbed(call.error.message, call)
    request = call.request
    record["requestParameters"] = (redacted(request) or None) if request is not None else None
    record["responseElements"] = (redacted(call.result) or None) if call.result is not None else None
    if extra:
        record["additionalEventData"] = extra
    record["requestID"] = call.request_id
    record["eventID"] = ""
    record["readOnly"] = call.read_only
    arn_resources = [r for r in resources if r[1].startswith("arn:")]
    if arn_resources:
        record["resources"] = [
            {"accountId": _arn_account(name), "type": kind, "ARN": name} for kind, name in arn_resources
        ]
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = True
    record["eventCategory"] = "Management"
    caller_account = call.caller.account_id if call.caller is not None else None
    # Another account receives the event only where AWS records a call in both: assuming its role.
    # (Any call may name an ARN of any account; that must not write into that account's trail.)
    crossing = arn_resources if call.action in _CROSS_ACCOUNT_ACTIONS else []
    accounts = _accounts(caller_account, call.claimed_key_id, crossing, default_account, known_account)
    if call.secure:
        record["tlsDetails"] = {"clientProvidedHostHeader": call.host}
    return _events(
        record, accounts, call.event_time, call.error.code if call.error else None, username,
        _key_id(call.caller, call.claimed_key_id), resources,
    )


def authorization_events(call: AuthorizationCall, default_account: str, known_account: Any) -> list[NewEvent]:
    identity, username, extra = _identity(call.caller, call.claimed_key_id, call.session_token)
    service, _, name = call.action.partition(":")
    extra = {**extra, "decision": call.decision, "askedBy": call.asked_by, "endpoint": "/v1/authorize"}
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": _time(call.event_time),
        "eventSource": f"{service.lower()}.amazonaws.com",
        "eventName": name,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent,
    }
    if call.error_code is not None:
        record["errorCode"] = call.error_code
        record["errorMessage"] = _cut(call.error_message or "", (call.session_token,))
    elif call.decision != "Allow":
        record["errorCode"] = "AccessDenied"
        record["errorMessage"] = f"Not authorized to perform {call.action} on {call.resource}"
    record["requestParameters"] = {"action": call.action, "resource": call.resource}
    record["responseElements"] = None
    record["additionalEventData"] = extra
    record["requestID"] = call.request_id
    record["eventID"] = ""
    record["readOnly"] = name.startswith(("Get", "List", "Describe", "Head"))
    resources: list[tuple[str, str]] = []
    if call.resource.startswith("arn:"):
        kind, account = _arn_type_and_account(call.resource)
        resources.append((kind, call.resource))
        record["resources"] = [{"accountId": account, "type": kind, "ARN": call.resource}]
    record["eventType"] = "AwsApiCall"
    record["managementEvent"] = True
    record["eventCategory"] = "Management"
    caller_account = call.caller.account_id if call.caller is not None else None
    accounts = _accounts(caller_account, call.claimed_key_id, [], default_account, known_account)
    return _events(
        record, accounts, call.event_time, record.get("errorCode"), username, _key_id(call.caller, call.claimed_key_id),
        resources,
    )


def service_event(
    *, account_id: str, event_name: str, event_time: datetime, parameters: dict[str, Any] | None,
    response: dict[str, Any] | None, invoked_by: str, username: str | None = None, read_only: bool = False,
) -> NewEvent:
    """An event of OpenSTS itself (``opensts account create``, key rotation): ``eventType:
    AwsServiceEvent``, ``eventSource: opensts.amazonaws.com``, ``userIdentity.invokedBy``."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"type": "AWSService", "invokedBy": invoked_by, **({"userName": username} if username else {})},
        "eventTime": _time(event_time),
        "eventSource": "opensts.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": invoked_by,
        "userAgent": invoked_by,
        "requestParameters": parameters,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": "",
        "readOnly": read_only,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "eventCategory": "Management",
        "recipientAccountId": account_id,
    }
    return _events(record, [account_id], event_time, None, username, None, [])[0]


# --- Identity ---------------------------------------------------------------------------------------
def _identity(
    caller: Caller | None, claimed_key_id: str | None, session_token: str | None
) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """(userIdentity, LookupEvents' Username, additionalEventData)."""
    extra: dict[str, Any] = {}
    if session_token:
        extra["sessionTokenSha256"] = fingerprint(session_token)[7:]
    if caller is not None:
        # A Caller is immutable and callers repeat (a client signs every call with the same key):
        # its userIdentity is built once. The dicts are only ever serialised, never changed.
        known = _IDENTITIES.get(caller)
        if known is None:
            known = _IDENTITIES.put(caller, _caller_identity(caller))
        return known[0], known[1], extra
    identity: dict[str, Any] = {"type": "Unknown"}
    if claimed_key_id:
        identity["accessKeyId"] = claimed_key_id
        account = ids.account_from_access_key_id(claimed_key_id)
        if account:
            identity["accountId"] = account
    return identity, None, extra


_IDENTITIES: BoundedCache[Caller, tuple[dict[str, Any], str | None]] = BoundedCache("audit-identities", 4096)


def _caller_identity(caller: Caller) -> tuple[dict[str, Any], str | None]:
    kind, session = caller.kind, caller.session
    identity: dict[str, Any] = {"type": "", "principalId": caller.user_id, "arn": caller.arn,
                                "accountId": caller.account_id, "accessKeyId": caller.access_key_id}
    username: str | None
    if kind is PrincipalKind.ROOT:
        identity["type"], username = "Root", "root"
    elif kind is PrincipalKind.USER:
        identity["type"], username = "IAMUser", caller.user_name
        identity["userName"] = caller.user_name
    elif kind is PrincipalKind.ASSUMED_ROLE:
        identity["type"], username = "AssumedRole", caller.arn.rsplit("/", 1)[-1]
    else:
        identity["type"], username = "FederatedUser", caller.arn.rsplit("/", 1)[-1]
    if session is not None:
        context: dict[str, Any] = {}
        if session.kind in ("assumed-role", "federated-user"):
            source = Arn.parse(session.source_arn)
            issuer = _SESSION_ISSUER[session.kind]
            context["sessionIssuer"] = {
                "type": "Root" if source.resource == "root" else issuer,
                "principalId": session.source_id,
                "arn": session.source_arn,
                "accountId": session.account_id,
                "userName": source.resource_name if source.resource != "root" else "root",
            }
        if session.federated_provider:
            context["webIdFederationData"] = {"federatedProvider": session.federated_provider}
        context["attributes"] = {
            "creationDate": _time(datetime.fromtimestamp(session.issued_at, timezone.utc)),
            "mfaAuthenticated": "true" if session.mfa_authenticated_at is not None else "false",
        }
        if session.source_identity:
            context["sourceIdentity"] = session.source_identity
        identity["sessionContext"] = context
    return identity, username


def _federated_identity(call: ApiCall) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    result, request = call.result, call.request
    web = call.action == "AssumeRoleWithWebIdentity"
    if result is not None and web:
        provider, audience, subject = result.provider, result.audience, result.subject_from_web_identity_token
        identity = {"type": "WebIdentityUser", "principalId": f"{provider}:{audience}:{subject}",
                    "userName": subject, "identityProvider": provider}
        return identity, subject, {}
    if result is not None:
        provider = getattr(request, "principal_arn", None)
        identity = {"type": "SAMLUser", "principalId": f"{result.name_qualifier}:{result.subject}",
                    "userName": result.subject, "identityProvider": provider}
        return identity, result.subject, {}
    if web:
        claims = _unverified_claims(getattr(request, "web_identity_token", None))
        identity = {"type": "WebIdentityUser"}
        if claims:
            subject, issuer = claims.get("sub"), claims.get("iss")
            audience = claims.get("aud")
            audience = audience[0] if isinstance(audience, list) and audience else audience
            provider = _provider_arn(issuer, getattr(request, "role_arn", None))
            identity.update({k: v for k, v in (("principalId", f"{provider}:{audience}:{subject}"),
                                                 ("userName", subject), ("identityProvider", provider))
                             if isinstance(v, str) and len(v) <= 512})
            return identity, identity.get("userName"), {"identityUnverified": True}
        return identity, None, {"identityUnverified": True}
    identity = {"type": "SAMLUser"}
    if request is not None:
        identity["identityProvider"] = request.principal_arn
    return identity, None, {"identityUnverified": True}


def _provider_arn(issuer: Any, role_arn: Any) -> str | None:
    """The ARN of the OIDC provider a token claims to come from (in the role's account), as a
    successful call records its ``Provider``; the issuer without scheme if the role ARN is unusable."""
    if not isinstance(issuer, str):
        return None
    host_path = issuer.removeprefix("https://")
    account = _arn_account(role_arn) if isinstance(role_arn, str) else None
    if account is None or not ids.is_account_id(account):
        return host_path
    return f"arn:aws:iam::{account}:oidc-provider/{host_path}"


def _unverified_claims(token: str | None) -> dict[str, Any] | None:
    """The payload of a JWT, not verified (it failed): who the caller claimed to be, for the record."""
    if not token or token.count(".") != 2 or len(token) > 20000:
        return None
    payload = token.split(".")[1]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _key_id(caller: Caller | None, claimed: str | None) -> str | None:
    return caller.access_key_id if caller is not None else claimed


# --- Resources and accounts ----------------------------------------------------------------------
def _resources(value: Any, depth: int = 0) -> Iterable[tuple[str, str]]:
    """(ResourceType, ResourceName) for every field of ``value`` (and its nested dataclasses) that names one."""
    if value is None or depth > 3:
        return
    plan = _RESOURCE_PLANS.get(type(value))
    if plan is None:
        if not is_dataclass(value) or isinstance(value, type):
            return
        plan = _RESOURCE_PLANS[type(value)] = tuple(
            (f.name, _RESOURCE_FIELDS.get(f.name)) for f in fields(value) if not f.metadata.get(SECRET)
        )
    for name, kind in plan:
        item = getattr(value, name)
        if item is None:
            continue
        if kind is not None and isinstance(item, str):
            if item:
                yield kind, item
        elif hasattr(type(item), "__dataclass_fields__"):
            yield from _resources(item, depth + 1)


# Per dataclass: (attribute, resource type or None) of its fields that are not secret. Classes do not
# change at run time: entries never go stale.
_RESOURCE_PLANS: dict[type, tuple[tuple[str, str | None], ...]] = {}


def _arn_type_and_account(arn: str) -> tuple[str, str | None]:
    """(LookupEvents' ResourceType, the account) of ``arn``, from one split."""
    parts = _arn_parts(arn)
    if parts is None:
        return "AWS::Unknown", None
    resource = parts[5].split("/", 1)[0].split(":", 1)[0]
    return f"AWS::{parts[2].upper()}::{resource[:1].upper()}{resource[1:]}", parts[4] or None


def _arn_account(arn: str) -> str | None:
    parts = _arn_parts(arn)
    return parts[4] or None if parts is not None else None


def _arn_parts(arn: str) -> list[str] | None:
    """The six colon-separated parts of ``arn`` (the last may hold colons); None if fewer."""
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 else None


def _accounts(
    caller_account: str | None, claimed_key_id: str | None, arn_resources: list[tuple[str, str]],
    default_account: str, known_account: Any,
) -> list[str]:
    """The accounts that receive the event: the caller's first, then those of the resources it names."""
    accounts: list[str] = []
    if caller_account:
        accounts.append(caller_account)
    elif claimed_key_id:
        account = ids.account_from_access_key_id(claimed_key_id)
        if account and known_account(account):
            accounts.append(account)
    for _, name in arn_resources:
        account = _arn_account(name)
        if account and account not in accounts and ids.is_account_id(account) and known_account(account):
            accounts.append(account)
    return accounts or [default_account]


_EVENT_ID_PREFIX = str(uuid.uuid4())[:24]  # random per process: 8-4-4-4- of a UUID
_event_counter = itertools.count(secrets.randbelow(1 << 40))


def next_event_id() -> str:
    """A UUID-shaped event id, unique across processes (random prefix) and within one (counter):
    a fifth of uuid4()'s cost, and the trail makes one per event."""
    return f"{_EVENT_ID_PREFIX}{next(_event_counter) & 0xFFFFFFFFFFFF:012x}"


# --- Assembling ---------------------------------------------------------------------------------------
def _events(
    record: dict[str, Any], accounts: list[str], event_time: datetime, error_code: str | None,
    username: str | None, access_key_id: str | None, resources: list[tuple[str, str]],
) -> list[NewEvent]:
    shared = next_event_id() if len(accounts) > 1 else None
    # The indexed columns are the same in every account's copy: made once.
    source = _column(record["eventSource"], 64) or "unknown"
    name = _column(record["eventName"], 128) or "unknown"
    read_only = bool(record["readOnly"])
    user_column, key_column, error_column = _column(username, 512), _column(access_key_id, 128), _column(error_code, 128)
    named = tuple((_column(kind, 64) or "", _column(arn, 2048) or "") for kind, arn in resources[:16])
    out = []
    for account in accounts:
        event_id = next_event_id()
        record["eventID"] = event_id
        record["recipientAccountId"] = account
        if shared:
            record["sharedEventID"] = shared
        try:
            text = to_json(record, fallback=str).decode()
        except PydanticSerializationError:  # a lone surrogate in a client-sent string
            text = to_json(_text_safe(record), fallback=str).decode()
        out.append(NewEvent(
            account, event_id, event_time, source, name, read_only, user_column, key_column, error_column, named, text,
        ))
    return out


def _column(value: str | None, limit: int) -> str | None:
    """A value for an indexed column: at most ``limit`` characters, no NUL, no lone surrogate.
    Claimed key ids, unverified token claims and authorize actions come from the client: one
    value the store refuses must not fail the whole group's transaction."""
    if not value:
        return None
    if len(value) <= limit and value.isascii() and "\x00" not in value:
        return value  # the common case, in one pass each
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\x00", "")[:limit] or None


def _text_safe(value: Any, depth: int = 0) -> Any:
    """``value`` with lone surrogates replaced in its strings (not encodable in UTF-8 JSON)."""
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    if depth > 20:
        return None
    if isinstance(value, dict):
        return {_text_safe(k, depth + 1): _text_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_safe(v, depth + 1) for v in value]
    return value


def _scrubbed(message: str, call: ApiCall) -> str:
    return _cut(message, (*call.secret_params, call.session_token))


def _cut(message: str, secrets_: Iterable[str | None]) -> str:
    for value in secrets_:
        if value and len(value) >= 4 and value in message:
            message = message.replace(value, "HIDDEN_DUE_TO_SECURITY_REASONS")
    return message[:MAX_MESSAGE]


def secret_parameter_values(request_type: type | None, params: dict[str, Any]) -> tuple[str, ...]:
    """The raw values of ``request_type``'s secret parameters in ``params`` (to cut from messages)."""
    if request_type is None or not is_dataclass(request_type):
        return ()
    out = []
    for f in fields(request_type):
        if not f.metadata.get(SECRET):
            continue
        spec = f.metadata.get(PARAM)
        name = getattr(spec, "name", None)
        value = params.get(name) if name else None
        if isinstance(value, str):
            out.append(value)
            out.append(value.strip())
    return tuple(out)


def _time(value: datetime) -> str:
    """ISO 8601 to the second, in UTC, as CloudTrail writes times (the last one is remembered:
    events come in bursts within the same second)."""
    global _last_time
    second = int(value.timestamp())
    last = _last_time  # one tuple, replaced whole: safe to share between threads
    if last[0] != second:
        last = _last_time = (second, datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return last[1]


_last_time: tuple[int, str] = (-1, "")


def carries_secret(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` (a result) holds a field marked secret: it issues credentials or keys."""
    if depth > 4 or value is None or not is_dataclass(value) or isinstance(value, type):
        return False
    for name, secret in _secret_markings(type(value)):
        item = getattr(value, name)
        if item is None:
            continue
        if secret:
            return True
        if type(item) not in _LEAVES and carries_secret(item, depth + 1):
            return True
    return False


# Field values that are never a dataclass: not looked into (most of a result's fields are these).
_LEAVES = frozenset({str, int, bool, float, bytes, datetime})


@functools.cache  # keyed by class: a class's fields do not change while the server runs
def _secret_markings(cls: type) -> tuple[tuple[str, bool], ...]:
    """Each field of the dataclass ``cls`` and whether it is marked secret (once per class: this
    runs for every call that may wait for its record)."""
    return tuple((f.name, bool(f.metadata.get(SECRET))) for f in fields(cls))
