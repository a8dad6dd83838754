"""LookupEvents' request decoding and NextToken in-process: any JSON body gets the request or one
of AWS's errors (never another exception); tokens bind the account and the query."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensts.audit import lookup
from opensts.audit.lookup import LookupAttribute, LookupEventsRequest, query_events
from opensts.errors import AwsError
from opensts.store import Store
from opensts.store.audit import NewEvent
from tests.unit.conftest import ACCOUNT

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
members = st.sampled_from(["LookupAttributes", "StartTime", "EndTime", "EventCategory", "MaxResults", "NextToken",
                           "AttributeKey", "AttributeValue", "Other"])
bodies = st.dictionaries(members, json_values, max_size=6) | json_values


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_any_body_is_a_request_or_an_aws_error(body: Any) -> None:
    try:
        request = lookup.parse_request(body)
    except AwsError as error:
        assert error.status == 400 and error.code.endswith("Exception")
        return
    assert isinstance(request, LookupEventsRequest)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=700))
def test_any_token_is_invalid_or_a_page(token: str) -> None:
    try:
        lookup._read_token(token, ACCOUNT, "0" * 32)
    except lookup.InvalidNextTokenException:
        return
    raise AssertionError("an arbitrary string was taken for a token")


def _events(count: int, start: datetime) -> list[NewEvent]:
    return [
        NewEvent(ACCOUNT, f"00000000-0000-0000-0000-{i:012d}", start + timedelta(seconds=i), "iam.amazonaws.com",
                 "CreateUser", False, "root", "AKIAEXAMPLE", None, (("AWS::IAM::User", f"u{i}"),),
                 json.dumps({"eventID": i}))
        for i in range(count)
    ]


def test_pages_and_tokens(store: Store) -> None:
    start = datetime(2024, 5, 1, tzinfo=timezone.utc)
    store.accounts.create("210987654321", "b")
    store.audit.append(_events(5, start))
    request = LookupEventsRequest(max_results=2)
    seen: list[str] = []
    token = None
    for _ in range(5):
        page = query_events(store, ACCOUNT, LookupEventsRequest(max_results=2, next_token=token))
        seen += [e.event_id for e in page.events]
        token = page.next_token
        if token is None:
            break
    assert seen == [f"00000000-0000-0000-0000-{i:012d}" for i in range(4, -1, -1)]
    first = query_events(store, ACCOUNT, request)
    assert first.next_token
    with pytest.raises(lookup.InvalidNextTokenException):
        query_events(store, "210987654321", LookupEventsRequest(next_token=first.next_token))
    with pytest.raises(lookup.InvalidNextTokenException):
        query_events(store, ACCOUNT, LookupEventsRequest(
            next_token=first.next_token, lookup_attributes=(LookupAttribute("EventName", "CreateUser"),)))
    # Whole seconds: an event at 00:00:01.5 shows as 00:00:01 and is inside [00:00:01, 00:00:01].
    store.audit.append([NewEvent(ACCOUNT, "11111111-0000-0000-0000-000000000000",
                                 start + timedelta(seconds=60, microseconds=500_000), "sts.amazonaws.com",
                                 "GetCallerIdentity", True, None, None, None, (), "{}")])
    at = start + timedelta(seconds=60)
    found = query_events(store, ACCOUNT, LookupEventsRequest(start_time=at, end_time=at))
    assert [e.event_name for e in found.events] == ["GetCallerIdentity"]
    assert lookup.result_json(found)["Events"][0]["EventTime"] == int(at.timestamp())
