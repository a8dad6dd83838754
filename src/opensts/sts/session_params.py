"""Parameters shared by the credential-issuing STS actions, read as ``custom(...)`` request fields.

Session policies (``Policy``, ``PolicyArns``), session tags (``Tags``, ``TransitiveTagKeys``),
``SourceIdentity`` and MFA (``SerialNumber`` with ``TokenCode``), with the lengths, patterns and list
sizes of AWS's API reference:
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (the other issuing actions
give the same members the same limits). Session tag rules:
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html

Each ``read_*`` function reads its parameters from the request's reader and reports failures with
AWS's validation messages; the action then checks what needs more than the parameters themselves
(:func:`validate_session_policy`, :func:`check_session_tags`). ``SerialNumber`` and ``TokenCode`` are
one field (:class:`MfaInput`, whose code is marked secret): sending one without the other is a
validation error. A ``SourceIdentity`` starting with ``aws:`` (a prefix AWS reserves) is refused
while reading. ``MinimumSessionTokenSize`` (0-4,096) is one plain field every issuing action
declares with :func:`minimum_session_token_size`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opensts.errors import InvalidParameterValue, MalformedPolicyDocument
from opensts.fields import SECRET_FIELD, integer
from opensts.params import (
    LONE_SURROGATE,
    POLICY_TEXT_PATTERN,
    ParamReader,
    json_has_lone_surrogate,
)
from opensts.policy import PolicyValidationError, parse_policy

ROLE_SESSION_NAME_PATTERN = r"[\w+=,.@-]*"
EXTERNAL_ID_PATTERN = r"[\w+=,.@:\/-]*"
SERIAL_NUMBER_PATTERN = r"[\w+=/:,.@-]*"
TOKEN_CODE_PATTERN = r"[\d]*"
SOURCE_IDENTITY_PATTERN = r"[\w+=,.@-]*"
MAX_TAGS = 50
MAX_POLICY_ARNS = 10
MAX_MINIMUM_SESSION_TOKEN_SIZE = 4096

DUPLICATE_TAGS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
TRANSITIVE_NOT_IN_TAGS = "The specified transitive tag key must be included in the requested tags."
TRANSITIVE_CONFLICT = (
    "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key "
    "from the calling session."
)


@dataclass(frozen=True, slots=True)
class SessionPolicies:
    policy: str | None
    policy_arns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SessionTags:
    tags: tuple[tuple[str, str], ...]
    transitive_keys: tuple[str, ...]


NO_SESSION_POLICIES = SessionPolicies(None, ())
NO_SESSION_TAGS = SessionTags((), ())


@dataclass(frozen=True, slots=True)
class MfaInput:
    serial_number: str
    token_code: str = field(repr=False, metadata=SECRET_FIELD)


def minimum_session_token_size() -> Any:
    """The ``MinimumSessionTokenSize`` field: pad the session token to at least this many bytes."""
    return integer("MinimumSessionTokenSize", min_value=0, max_value=MAX_MINIMUM_SESSION_TOKEN_SIZE)


def read_session_policies(reader: ParamReader) -> SessionPolicies:
    """``Policy`` and ``PolicyArns.member.N.arn``; :data:`NO_SESSION_POLICIES` when neither is sent."""
    if "Policy" not in reader.params and "PolicyArns" not in reader.params:
        return NO_SESSION_POLICIES
    policy = reader.string("Policy", min_len=1, max_len=2048, pattern=POLICY_TEXT_PATTERN)
    arns: list[str] = []
    for i, item in enumerate(reader.list("PolicyArns", max_items=MAX_POLICY_ARNS), start=1):
        arn = item.get("arn") if isinstance(item, dict) else None
        if not isinstance(arn, str):
            reader.fail(None, f"policyArns.{i}.member.arn", "Member must not be null")
            continue
        reader.check_string(arn, f"policyArns.{i}.member.arn", min_len=20, max_len=2048)
        arns.append(arn)
    return SessionPolicies(policy, tuple(arns))


def validate_session_policy(policy: str | None) -> None:
    """An inline session policy must be a valid identity policy: MalformedPolicyDocument otherwise."""
    if policy is None:
        return
    if json_has_lone_surrogate(policy):
        raise MalformedPolicyDocument(LONE_SURROGATE)
    try:
        parse_policy(policy, "identity", name="session-policy")
    except PolicyValidationError as exc:
        raise MalformedPolicyDocument(str(exc)) from None


def read_tags(reader: ParamReader) -> list[tuple[str, str]]:
    """``Tags.member.N.Key/Value``: at most 50; keys 1-128 and values 0-256 characters (STS's tag
    rules, shared by the session-issuing actions and GetWebIdentityToken)."""
    tags: list[tuple[str, str]] = []
    for i, item in enumerate(reader.list("Tags", max_items=MAX_TAGS)[:MAX_TAGS], start=1):
        key = item.get("Key") if isinstance(item, dict) else None
        value = item.get("Value") if isinstance(item, dict) else None
        if not isinstance(key, str):
            reader.fail(None, f"tags.{i}.member.key", "Member must not be null")
            continue
        if not isinstance(value, str):
            reader.fail(None, f"tags.{i}.member.value", "Member must not be null")
            continue
        reader.check_tag_key(key, f"tags.{i}.member.key", pattern_when_empty=False)
        reader.check_tag_value(value, f"tags.{i}.member.value")
        tags.append((key, value))
    return tags


def read_session_tags(reader: ParamReader) -> SessionTags:
    """``Tags.member.N.Key/Value`` and ``TransitiveTagKeys.member.N``; :data:`NO_SESSION_TAGS` when
    neither is sent. Duplicates and transitive keys are :func:`check_session_tags`'s to judge."""
    if "Tags" not in reader.params and "TransitiveTagKeys" not in reader.params:
        return NO_SESSION_TAGS
    tags = read_tags(reader)
    transitive: list[str] = []
    for i, key in enumerate(reader.list("TransitiveTagKeys", max_items=MAX_TAGS), start=1):
        if not isinstance(key, str):
            reader.fail(None, f"transitiveTagKeys.{i}.member", "Member must not be null")
            continue
        reader.check_tag_key(key, f"transitiveTagKeys.{i}.member", pattern_when_empty=False)
        transitive.append(key)
    return SessionTags(tuple(tags), tuple(transitive))


def check_session_tags(tags: SessionTags, inherited: SessionTags | None = None) -> SessionTags:
    """Apply AWS's session-tag rules and merge inherited transitive tags (role chaining).

    Keys compare case-insensitively (case preserved). Returns the session's final tags and
    transitive keys.
    """
    if not tags.tags and not tags.transitive_keys and (inherited is None or not inherited.transitive_keys):
        return NO_SESSION_TAGS
    lower = [k.lower() for k, _ in tags.tags]
    if len(set(lower)) != len(lower):
        raise InvalidParameterValue(DUPLICATE_TAGS)
    if any(key.lower() not in lower for key in tags.transitive_keys):
        raise InvalidParameterValue(TRANSITIVE_NOT_IN_TAGS)
    if inherited is None or not inherited.transitive_keys:
        return SessionTags(tags.tags, _unique_lower(tags.transitive_keys))
    inherited_keys = {k.lower() for k in inherited.transitive_keys}
    if any(k in inherited_keys for k in lower):
        raise InvalidParameterValue(TRANSITIVE_CONFLICT)
    carried = tuple((k, v) for k, v in inherited.tags if k.lower() in inherited_keys)
    return SessionTags(carried + tags.tags, _unique_lower(inherited.transitive_keys + tags.transitive_keys))


def _unique_lower(keys: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for key in keys:
        if key.lower() not in seen:
            seen.add(key.lower())
            out.append(key)
    return tuple(out)


def read_mfa(reader: ParamReader) -> MfaInput | None:
    """``SerialNumber`` and ``TokenCode``, read together: None when neither is sent."""
    serial = reader.string("SerialNumber", min_len=9, max_len=256, pattern=SERIAL_NUMBER_PATTERN)
    code = reader.string("TokenCode", min_len=6, max_len=6, pattern=TOKEN_CODE_PATTERN, secret=True)
    if serial is None and code is None:
        return None
    if serial is None or code is None:
        reader.fail(None, "serialNumber" if serial is None else "tokenCode", "Member must not be null when MFA is used")
        return None
    return MfaInput(serial, code)


def read_source_identity(reader: ParamReader) -> str | None:
    """``SourceIdentity``; the ``aws:`` prefix is reserved."""
    value = reader.string("SourceIdentity", min_len=2, max_len=64, pattern=SOURCE_IDENTITY_PATTERN)
    if value is not None and value.lower().startswith("aws:"):
        reader.fail(value, "sourceIdentity", "Member must not start with the reserved prefix aws:")
    return value
