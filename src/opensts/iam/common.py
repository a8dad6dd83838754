"""What every IAM action shares: authorization, name/path validation, pagination, tags, and
policy-document handling, with AWS's error codes and messages.

An IAM action module looks like this::

    @action("iam", "GetUser")
    def get_user(ctx: ActionContext, params: Params) -> GetUserResult:
        reader = ParamReader(params)
        name = reader.string("UserName", min_len=1, max_len=64, pattern=USER_NAME_PATTERN)
        reader.done()
        account = caller_account(ctx)
        authorize_iam(ctx, "GetUser", user_resource(account, name or ...))
        ...
        return GetUserResult(user=...)

Every write transaction of an IAM repository bumps the store's IAM change counter as it commits
(store/meta.py); writes then call ``ctx.runtime.bump_iam_version()``, so this process drops its
cached credentials and policies at once (other processes do within a poll interval).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence, TypeVar
from urllib.parse import quote

from opensts.access.authorize import authorize, iam_resource_arn
from opensts.actions import ActionContext
from opensts.errors import InvalidInput, MalformedPolicyDocument, ValidationError, validation_message
from opensts.params import (
    LONE_SURROGATE,
    POLICY_TEXT_PATTERN,
    TAG_KEY_PATTERN,
    TAG_VALUE_PATTERN,
    ParamReader,
    json_has_lone_surrogate,
    tag_text_valid,
)
from opensts.policy import Policy, PolicyValidationError, parse_policy

T = TypeVar("T")

# Patterns and limits from botocore's IAM model.
USER_NAME_PATTERN = r"[\w+=,.@-]+"
ROLE_NAME_PATTERN = r"[\w+=,.@-]+"
GROUP_NAME_PATTERN = r"[\w+=,.@-]+"
POLICY_NAME_PATTERN = r"[\w+=,.@-]+"
PATH_PATTERN = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
PATH_PREFIX_PATTERN = r"\u002F[\u0021-\u007E]*"
POLICY_DOCUMENT_PATTERN = POLICY_TEXT_PATTERN
DESCRIPTION_PATTERN = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*"
MAX_ITEMS_LIMIT = 1000
DEFAULT_MAX_ITEMS = 100


def caller_account(ctx: ActionContext) -> str:
    assert ctx.caller is not None, "IAM actions are always signed"
    return ctx.caller.account_id


def authorize_iam(ctx: ActionContext, action: str, resource: str, context: dict[str, Any] | None = None) -> None:
    """Authorize ``iam:ACTION`` on ``resource`` (an ARN in the caller's account) or raise AccessDenied.

    ``context``: the action's own condition keys (``aws:RequestTag/*``, ``aws:TagKeys``,
    ``iam:PermissionsBoundary``, ``iam:PolicyARN``), so that policies conditioned on them hold.
    """
    authorize(ctx, f"iam:{action}", resource, context=context)


def tag_context(tags: "Sequence[Tag]") -> dict[str, Any]:
    """``aws:RequestTag/K`` and ``aws:TagKeys`` for authorizing calls that set tags."""
    context: dict[str, Any] = {f"aws:RequestTag/{t.key}": t.value for t in tags}
    if tags:
        context["aws:TagKeys"] = [t.key for t in tags]
    return context


def boundary_context(boundary_arn: str | None) -> dict[str, Any]:
    """``iam:PermissionsBoundary``: the boundary being set, or the entity's current one."""
    return {"iam:PermissionsBoundary": boundary_arn} if boundary_arn else {}


def resource_arn(account: str, resource_type: str, name: str = "", path: str = "/") -> str:
    """``arn:aws:iam::ACCT:user/PATH/NAME`` and the like; ``name=""`` for list calls (``user/PATH``)."""
    return iam_resource_arn(account, f"{resource_type}{path}{name}")


def read_path(reader: ParamReader, name: str = "Path") -> str:
    return reader.string(name, min_len=1, max_len=512, pattern=PATH_PATTERN) or "/"


def read_path_prefix(reader: ParamReader) -> str:
    return reader.string("PathPrefix", min_len=1, max_len=512, pattern=PATH_PREFIX_PATTERN) or "/"


# --- Pagination -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    is_truncated: bool
    marker: str | None


def read_pagination(reader: ParamReader) -> tuple[str | None, int]:
    marker = reader.string("Marker", min_len=1, max_len=320, pattern=r"[\u0020-\u00FF]+")
    max_items = reader.integer("MaxItems", min_value=1, max_value=MAX_ITEMS_LIMIT) or DEFAULT_MAX_ITEMS
    return marker, max_items


def paginate(items: Sequence[T], marker: str | None, max_items: int, key: Any = None) -> Page:
    """Page a sorted list. The marker is the sort key of the last item returned (opaque to clients)."""
    key = key or (lambda item: str(item))
    start = 0
    if marker is not None:
        keys = [key(item) for item in items]
        start = next((i for i, k in enumerate(keys) if k > marker), len(items))
    chunk = list(items[start : start + max_items])
    truncated = start + max_items < len(items)
    return Page(chunk, truncated, key(chunk[-1]) if truncated and chunk else None)


# --- Policy documents -------------------------------------------------------------------------
def read_policy_document(reader: ParamReader, name: str = "PolicyDocument", *, max_len: int = 131072) -> str | None:
    return reader.string(name, min_len=1, max_len=max_len, pattern=POLICY_DOCUMENT_PATTERN)


def validate_policy_document(text: str, kind: str = "identity", *, managed: bool = False, name: str | None = None) -> Policy:
    """Parse and validate, or raise MalformedPolicyDocument with the engine's precise message.

    ``managed``: IAM managed policies must say ``"Version": "2012-10-17"``.
    """
    if json_has_lone_surrogate(text):
        raise MalformedPolicyDocument(LONE_SURROGATE)
    try:
        return parse_policy(text, kind, name=name, require_current_version=managed)
    except PolicyValidationError as exc:
        raise MalformedPolicyDocument(str(exc)) from None


def encode_policy_document(text: str) -> str:
    """AWS returns policy documents URL-encoded inside the XML; botocore decodes them back to dicts."""
    return quote(text, safe="")


# --- Tags -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


def read_tags(reader: ParamReader, name: str = "Tags", *, max_items: int = 50) -> list[Tag]:
    raw = reader.list(name, max_items=max_items)
    tags: list[Tag] = []
    seen: set[str] = set()
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            reader.fail(None, f"tags.{i}.member", "Member must be a structure")
            continue
        key, value = item.get("Key"), item.get("Value")
        if key is None:
            reader.fail(None, f"tags.{i}.member.key", "Member must not be null")
            continue
        if value is None:
            reader.fail(None, f"tags.{i}.member.value", "Member must not be null")
            continue
        reader.check_string(key, f"tags.{i}.member.key", min_len=1, max_len=128, text_check=False)
        if not tag_key_valid(key):
            reader.fail(key, f"tags.{i}.member.key", f"Member must satisfy regular expression pattern: {TAG_KEY_PATTERN}")
        reader.check_string(value, f"tags.{i}.member.value", max_len=256, text_check=False)
        if not tag_text_valid(value, allow_empty=True):
            reader.fail(value, f"tags.{i}.member.value", f"Member must satisfy regular expression pattern: {TAG_VALUE_PATTERN}")
        if key.lower() in seen:
            raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(key.lower())
        tags.append(Tag(key, value))
    return tags


def read_tag_keys(reader: ParamReader, name: str = "TagKeys", *, max_items: int = 50) -> list[str]:
    """The required ``TagKeys`` list of the Untag* actions, each key validated like a tag key."""
    member = name[:1].lower() + name[1:]
    if name not in reader.params:
        reader.fail(None, member, "Member must not be null")
    out: list[str] = []
    for i, key in enumerate(reader.list(name, max_items=max_items), start=1):
        if not isinstance(key, str):
            reader.fail(None, f"{member}.{i}.member", "Member must be a string")
            continue
        reader.check_string(key, f"{member}.{i}.member", min_len=1, max_len=128, text_check=False)
        if key and not tag_key_valid(key):
            reader.fail(key, f"{member}.{i}.member", f"Member must satisfy regular expression pattern: {TAG_KEY_PATTERN}")
        out.append(key)
    return out


def tag_key_valid(key: str) -> bool:
    return tag_text_valid(key)


def check_limit(count: int, limit: int, what: str) -> None:
    from opensts.errors import LimitExceeded

    if count > limit:
        raise LimitExceeded(f"Cannot exceed quota for {what}: {limit}")


def json_list(text: str) -> list[str]:
    return list(json.loads(text)) if text else []


def fail_validation(messages: list[str]) -> None:
    raise ValidationError(validation_message(messages))
