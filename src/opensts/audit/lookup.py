"""CloudTrail's LookupEvents as plain Python: a typed request, the action, a typed result.

The HTTP edge (``server/cloudtrail_api.py``) decodes the JSON 1.1 body with :func:`parse_request`
and answers with :func:`result_json`; ``opensts audit query`` builds the request from its options
and calls :func:`query_events` on the store directly.

Request (botocore's ``LookupEventsRequest``, cloudtrail 2013-11-01):

- ``LookupAttributes``: at most one ``{AttributeKey, AttributeValue}``; keys ``EventId``,
  ``EventName``, ``ReadOnly``, ``Username``, ``ResourceType``, ``ResourceName``, ``EventSource``,
  ``AccessKeyId``; values 1..2000 characters. ``ReadOnly`` takes ``true`` or ``false``. Anything
  else: ``InvalidLookupAttributesException``.
- ``StartTime`` / ``EndTime``: epoch seconds (botocore sends JSON 1.1 timestamps as numbers),
  both inclusive. Start after end, or a time no datetime can hold: ``InvalidTimeRangeException``.
- ``EventCategory``: only ``insight`` (else ``InvalidEventCategoryException``). OpenSTS records no
  Insights events, so the answer is then empty.
- ``MaxResults``: 1..50, default 50 (else ``InvalidMaxResultsException``).
- ``NextToken``: from the previous page. Validated, not secret: it names the account and a digest
  of the query (attribute, times, category) and where the previous page ended. A token that does
  not decode, or that was issued for another account or another query, is
  ``InvalidNextTokenException``; editing one can at most page differently through the caller's own
  events, never reach another account's.

Result: ``Events`` newest first (in the order the account's chain recorded them), each with
``EventId``, ``EventName``, ``ReadOnly`` (``"true"``/``"false"``, a string as in AWS),
``AccessKeyId``, ``EventTime`` (epoch seconds), ``EventSource``, ``Username``, ``Resources``
``[{ResourceType, ResourceName}]`` and ``CloudTrailEvent`` (the full record's JSON text); and
``NextToken`` when more may follow.

Authorization: ``cloudtrail:LookupEvents`` on ``*`` through the policy engine; an account sees its
own events only. Deviations from AWS: no rate limit (AWS allows 2 calls a second per account);
events of every region are returned (AWS returns the region called).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from opensts.access.authorize import authorize
from opensts.actions import ActionContext
from opensts.errors import AwsError
from opensts.store import Store
from opensts.store.audit import StoredEvent

ATTRIBUTE_KEYS = (
    "EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId",
)
MAX_ATTRIBUTES = 1
MAX_ATTRIBUTE_VALUE = 2000
MAX_RESULTS = 50
EVENT_CATEGORIES = ("insight",)
MAX_TOKEN = 512
_TOKEN_VERSION = 1


# --- Errors (all 400, sender's fault, as CloudTrail's model says) -------------------------------
class InvalidLookupAttributesException(AwsError):
    code, status = "InvalidLookupAttributesException", 400


class InvalidTimeRangeException(AwsError):
    code, status = "InvalidTimeRangeException", 400


class InvalidMaxResultsException(AwsError):
    code, status = "InvalidMaxResultsException", 400


class InvalidNextTokenException(AwsError):
    code, status = "InvalidNextTokenException", 400


class InvalidEventCategoryException(AwsError):
    code, status = "InvalidEventCategoryException", 400


class SerializationException(AwsError):
    """A body that is not JSON, or a member of the wrong JSON type (AWS's JSON protocol error)."""

    code, status = "SerializationException", 400


# --- Request and result ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LookupAttribute:
    attribute_key: str
    attribute_value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupEventsRequest:
    lookup_attributes: tuple[LookupAttribute, ...] = ()
    start_time: datetime | None = None
    end_time: datetime | None = None
    event_category: str | None = None
    max_results: int | None = None
    next_token: str | None = None


@dataclass(frozen=True, slots=True)
class EventResource:
    resource_type: str
    resource_name: str


@dataclass(frozen=True, slots=True)
class LookupEvent:
    event_id: str
    event_name: str
    read_only: str  # "true" | "false"
    access_key_id: str | None
    event_time: datetime
    event_source: str
    username: str | None
    resources: tuple[EventResource, ...]
    cloud_trail_event: str
    error_code: str | None = None  # not in LookupEvents' answer; shown by `opensts audit query`


@dataclass(frozen=True, slots=True)
class LookupEventsResult:
    events: tuple[LookupEvent, ...]
    next_token: str | None = None


# --- Decoding the JSON body -------------------------------------------------------------------
def parse_request(body: Any) -> LookupEventsRequest:
    """The request from the decoded JSON 1.1 body; members of the wrong JSON type are
    ``SerializationException`` (as AWS), values out of range are the action's own errors
    (:func:`validate`). Unknown members are ignored, as AWS does."""
    if not isinstance(body, dict):
        raise SerializationException("The request body must be a JSON object.")
    raw_attributes = body.get("LookupAttributes")
    attributes: list[LookupAttribute] = []
    if raw_attributes is not None:
        if not isinstance(raw_attributes, list):
            raise SerializationException("LookupAttributes must be a list.")
        if len(raw_attributes) > MAX_ATTRIBUTES:
            raise InvalidLookupAttributesException("You can specify only one lookup attribute.")
        for item in raw_attributes:
            if not isinstance(item, dict):
                raise SerializationException("Each lookup attribute must be an object.")
            key, value = item.get("AttributeKey"), item.get("AttributeValue")
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidLookupAttributesException("A lookup attribute needs an AttributeKey and an AttributeValue.")
            attributes.append(LookupAttribute(key, value))
    category = body.get("EventCategory")
    if category is not None and not isinstance(category, str):
        raise SerializationException("EventCategory must be a string.")
    max_results = body.get("MaxResults")
    if max_results is not None and (isinstance(max_results, bool) or not isinstance(max_results, int)):
        raise SerializationException("MaxResults must be an integer.")
    token = body.get("NextToken")
    if token is not None and not isinstance(token, str):
        raise SerializationException("NextToken must be a string.")
    request = LookupEventsRequest(
        lookup_attributes=tuple(attributes),
        start_time=_timestamp(body.get("StartTime"), "StartTime"),
        end_time=_timestamp(body.get("EndTime"), "EndTime"),
        event_category=category,
        max_results=max_results,
        next_token=token,
    )
    validate(request)
    return request


def _timestamp(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SerializationException(f"{name} must be a timestamp in epoch seconds.")
    if not math.isfinite(value):
        raise InvalidTimeRangeException(f"{name} is outside the range of possible values.")
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise InvalidTimeRangeException(f"{name} is outside the range of possible values.") from None


def validate(request: LookupEventsRequest) -> None:
    """AWS's checks of a request, in the order of CloudTrail's model."""
    if len(request.lookup_attributes) > MAX_ATTRIBUTES:
        raise InvalidLookupAttributesException("You can specify only one lookup attribute.")
    for attribute in request.lookup_attributes:
        if attribute.attribute_key not in ATTRIBUTE_KEYS:
            raise InvalidLookupAttributesException(
                f"Invalid AttributeKey {attribute.attribute_key[:64]!r}: valid keys are {', '.join(ATTRIBUTE_KEYS)}."
            )
        if not 1 <= len(attribute.attribute_value) <= MAX_ATTRIBUTE_VALUE:
            raise InvalidLookupAttributesException(
                f"AttributeValue must be 1 to {MAX_ATTRIBUTE_VALUE} characters long."
            )
        if attribute.attribute_key == "ReadOnly" and attribute.attribute_value.lower() not in ("true", "false"):
            raise InvalidLookupAttributesException("The value of the ReadOnly attribute must be true or false.")
    if request.start_time is not None and request.end_time is not None and request.start_time > request.end_time:
        raise InvalidTimeRangeException("Start time must be before or equal to end time.")
    if request.event_category is not None and request.event_category not in EVENT_CATEGORIES:
        raise InvalidEventCategoryException(
            f"Invalid EventCategory {request.event_category[:64]!r}: the only valid value is insight."
        )
    if request.max_results is not None and not 1 <= request.max_results <= MAX_RESULTS:
        raise InvalidMaxResultsException(f"MaxResults must be between 1 and {MAX_RESULTS}.")
    if request.next_token is not None and not 1 <= len(request.next_token) <= MAX_TOKEN:
        raise InvalidNextTokenException("Invalid NextToken.")


# --- The action -------------------------------------------------------------------------------
def lookup_events(ctx: ActionContext, request: LookupEventsRequest) -> LookupEventsResult:
    """Authorize ``cloudtrail:LookupEvents`` and look up the caller's account's events. Blocking."""
    assert ctx.caller is not None, "LookupEvents is always signed"
    authorize(ctx, "cloudtrail:LookupEvents", "*")
    return query_events(ctx.runtime.store, ctx.caller.account_id, request)


def query_events(store: Store, account_id: str, request: LookupEventsRequest) -> LookupEventsResult:
    """One page of ``account_id``'s events (no authorization: the caller decided whose events to read)."""
    validate(request)
    digest = _query_digest(account_id, request)
    before_seq = _read_token(request.next_token, account_id, digest) if request.next_token else None
    if request.event_category is not None:  # "insight": OpenSTS records no Insights events
        return LookupEventsResult(())
    limit = request.max_results or MAX_RESULTS
    attribute = None
    if request.lookup_attributes:
        first = request.lookup_attributes[0]
        attribute = (first.attribute_key, first.attribute_value)
    # One more than the page: a token is given only when there is more to see.
    stored = store.audit.lookup(
        account_id, attribute=attribute, start=_whole_second_from(request.start_time),
        end=_whole_second_until(request.end_time), before_seq=before_seq, limit=limit + 1,
    )
    page, more = stored[:limit], len(stored) > limit
    resources = store.audit.resources(account_id, [event.seq for event in page])
    events = tuple(_event(event, resources.get(event.seq, [])) for event in page)
    token = _token(account_id, digest, page[-1].seq) if more and page else None
    return LookupEventsResult(events, token)


def _whole_second_from(start: datetime | None) -> datetime | None:
    """EventTime is whole seconds: an event matches when its second is within [start, end]."""
    if start is None or start.microsecond == 0:
        return start
    try:
        return start.replace(microsecond=0) + timedelta(seconds=1)
    except OverflowError:  # the last second datetime holds: nothing can be later
        return start


def _whole_second_until(end: datetime | None) -> datetime | None:
    return None if end is None else end.replace(microsecond=999_999)


def _event(event: StoredEvent, resources: list[tuple[str, str]]) -> LookupEvent:
    return LookupEvent(
        event_id=event.event_id,
        event_name=event.event_name,
        read_only="true" if event.read_only else "false",
        access_key_id=event.access_key_id,
        event_time=event.event_time,
        event_source=event.event_source,
        username=event.username,
        resources=tuple(EventResource(kind, name) for kind, name in resources),
        cloud_trail_event=event.record,
        error_code=event.error_code,
    )


# --- NextToken ----------------------------------------------------------------------------------
def _query_digest(account_id: str, request: LookupEventsRequest) -> str:
    attribute = request.lookup_attributes[0] if request.lookup_attributes else None
    parts = [
        account_id,
        attribute.attribute_key if attribute else "",
        attribute.attribute_value if attribute else "",
        request.start_time.isoformat() if request.start_time else "",
        request.end_time.isoformat() if request.end_time else "",
        request.event_category or "",
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _token(account_id: str, digest: str, before_seq: int) -> str:
    payload = json.dumps([_TOKEN_VERSION, account_id, digest, before_seq], separators=(",", ":")).encode()
    check = hashlib.sha256(payload).digest()[:8]
    return base64.urlsafe_b64encode(payload + check).decode().rstrip("=")


def _read_token(token: str, account_id: str, digest: str) -> int:
    """Where the previous page ended, or InvalidNextTokenException (malformed, or another account's
    or another query's token)."""
    invalid = InvalidNextTokenException("Invalid NextToken.")
    if len(token) > MAX_TOKEN or not token.isascii():
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    payload, check = raw[:-8], raw[-8:]
    if len(raw) <= 8 or hashlib.sha256(payload).digest()[:8] != check:
        raise invalid
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):
        raise invalid from None
    if (
        not isinstance(value, list) or len(value) != 4 or value[0] != _TOKEN_VERSION
        or value[1] != account_id or value[2] != digest
        or isinstance(value[3], bool) or not isinstance(value[3], int) or value[3] < 1
    ):
        raise invalid
    return value[3]


# --- Encoding the answer --------------------------------------------------------------------------
def result_json(result: LookupEventsResult) -> dict[str, Any]:
    """The JSON 1.1 answer: timestamps as epoch seconds, absent members left out (as AWS)."""
    events = []
    for event in result.events:
        item: dict[str, Any] = {
            "EventId": event.event_id,
            "EventName": event.event_name,
            "ReadOnly": event.read_only,
        }
        if event.access_key_id:
            item["AccessKeyId"] = event.access_key_id
        item["EventTime"] = int(event.event_time.timestamp())
        item["EventSource"] = event.event_source
        if event.username:
            item["Username"] = event.username
        item["Resources"] = [
            {"ResourceType": r.resource_type, "ResourceName": r.resource_name} for r in event.resources
        ]
        item["CloudTrailEvent"] = event.cloud_trail_event
        events.append(item)
    out: dict[str, Any] = {"Events": events}
    if result.next_token:
        out["NextToken"] = result.next_token
    return out
