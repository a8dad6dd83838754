"""Tags on IAM entities: the one implementation behind Tag*/Untag*/List*Tags of users, roles, managed
policies, OIDC and SAML providers and MFA devices, and the ``Tags`` parameter of Create* actions.

AWS's rules (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html): at most 50 tags per
entity; keys are 1-128 and values 0-256 characters of letters, separators, numbers and ``_.:/=+-@``;
keys compare case-insensitively (a tag call with a known key replaces its value and spelling);
duplicate keys in one call are InvalidInput; more than 50 is LimitExceeded "Cannot exceed quota for
TagsPerUser: 50". A call that sets tags is authorized with ``aws:RequestTag/KEY`` and
``aws:TagKeys``; an untag call with ``aws:TagKeys``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from opensts.errors import InvalidInput, LimitExceeded
from opensts.fields import custom
from opensts.params import ParamReader, member_name
from opensts.iam.pagination import paginate
from opensts.store.errors import TooManyTags
from opensts.store.tags import MAX_TAGS_PER_ENTITY

MAX_TAGS = MAX_TAGS_PER_ENTITY
DUPLICATE_KEYS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ListTagsResult:
    """The answer of every List*Tags action."""

    tags: list[Tag]
    is_truncated: bool
    marker: str | None = None


# --- Reading ---------------------------------------------------------------------------------------
def read_tags(reader: ParamReader, name: str = "Tags", *, max_items: int = MAX_TAGS, required: bool = False) -> list[Tag]:
    """A ``Tags.member.N.Key/Value`` list, each tag checked as AWS does; duplicate keys are InvalidInput."""
    raw = reader.list(name, max_items=max_items, required=required)
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
        reader.check_tag_key(key, f"tags.{i}.member.key")
        reader.check_tag_value(value, f"tags.{i}.member.value")
        if key.lower() in seen:
            raise InvalidInput(DUPLICATE_KEYS)
        seen.add(key.lower())
        tags.append(Tag(key, value))
    return tags


def read_tag_keys(reader: ParamReader, name: str = "TagKeys", *, max_items: int = MAX_TAGS) -> list[str]:
    """The required ``TagKeys`` list of the Untag* actions, each key validated like a tag key."""
    member = member_name(name)
    out: list[str] = []
    for i, key in enumerate(reader.list(name, max_items=max_items, required=True), start=1):
        if not isinstance(key, str):
            reader.fail(None, f"{member}.{i}.member", "Member must be a string")
            continue
        reader.check_tag_key(key, f"{member}.{i}.member", pattern_when_empty=False)
        out.append(key)
    return out


def tags(*, required: bool = False) -> Any:
    """The ``Tags`` field of a request: optional on Create* actions (``[]``), required on Tag* actions."""
    return custom(partial(read_tags, required=required), default=[])


def tag_keys() -> Any:
    """The ``TagKeys`` field of Untag* actions."""
    return custom(read_tag_keys, default=[])


# --- Authorizing ---------------------------------------------------------------------------------
def tag_context(tags: Sequence[Tag]) -> dict[str, Any]:
    """``aws:RequestTag/K`` and ``aws:TagKeys`` for authorizing calls that set tags."""
    context: dict[str, Any] = {f"aws:RequestTag/{t.key}": t.value for t in tags}
    if tags:
        context["aws:TagKeys"] = [t.key for t in tags]
    return context


def untag_context(keys: Sequence[str]) -> dict[str, Any] | None:
    """``aws:TagKeys`` for authorizing an untag call."""
    return {"aws:TagKeys": list(keys)} if keys else None


# --- Applying ------------------------------------------------------------------------------------
def pairs(tags: Sequence[Tag]) -> list[tuple[str, str]]:
    return [(t.key, t.value) for t in tags]


def add_tags(add: Callable[[list[tuple[str, str]]], Any], tags: Sequence[Tag], quota: str) -> None:
    """``add(pairs)`` in the store, answering AWS's LimitExceeded for ``quota`` (e.g. ``TagsPerUser``)."""
    try:
        add(pairs(tags))
    except TooManyTags:
        raise too_many_tags(quota) from None


def too_many_tags(quota: str) -> LimitExceeded:
    return LimitExceeded(f"Cannot exceed quota for {quota}: {MAX_TAGS}")


def tags_page(stored: Sequence[tuple[str, str]], marker: str | None, max_items: int) -> ListTagsResult:
    """One page of an entity's tags, in case-insensitive key order."""
    page = paginate(stored, marker, max_items, key=lambda t: t[0].lower())
    return ListTagsResult([Tag(k, v) for k, v in page.items], page.is_truncated, page.marker)
