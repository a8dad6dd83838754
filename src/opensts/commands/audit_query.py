"""``opensts audit query``: LookupEvents on the command line, reading the store directly.

The filters are LookupEvents' (``audit/lookup.py``): ``--lookup-attribute KEY=VALUE`` (at most one;
keys EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource,
AccessKeyId), ``--start-time`` / ``--end-time`` (ISO 8601; a time without an offset is UTC; both
inclusive), ``--account`` (default: the store's default account). Unlike the API, ``--max-results``
is the number of events to print in all (1..10000, default 50): the command pages through
LookupEvents' 50-event pages itself. Newest first.

``--output json`` (the default) prints ``{"Events": [...]}`` as LookupEvents answers, with
``EventTime`` in ISO 8601 and ``CloudTrailEvent`` as the JSON text; ``--output table`` prints one
line per event: time, event name, source, user name, error code (``-`` when none), event id.

No authorization: whoever can open the store can read every account's events. Errors are one line
on stderr with exit status 1, never a traceback; the store is opened as every command but
``serve`` opens it (an existing store only).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, NoReturn

import click

from opensts.commands.common import fail, open_existing_store_or_fail, store_options

from opensts.audit.lookup import (
    ATTRIBUTE_KEYS,
    MAX_RESULTS,
    LookupAttribute,
    LookupEvent,
    LookupEventsRequest,
    query_events,
)
from opensts.errors import AwsError

MAX_CLI_RESULTS = 10_000


def _fail(message: str) -> NoReturn:
    fail(" ".join(message.split()))


def _attribute(text: str) -> LookupAttribute:
    key, sep, value = text.partition("=")
    if not sep or key not in ATTRIBUTE_KEYS:
        _fail(f"--lookup-attribute takes KEY=VALUE with KEY one of {', '.join(ATTRIBUTE_KEYS)}; got {text[:80]!r}")
    return LookupAttribute(key, value)


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        _fail(f"{option} must be an ISO 8601 time such as 2024-05-01T12:00:00Z; got {text[:80]!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


@click.command("query")
@click.option("--lookup-attribute", "attributes", multiple=True, metavar="KEY=VALUE",
              help=f"Filter on one attribute: {', '.join(ATTRIBUTE_KEYS)}.")
@click.option("--start-time", default=None, metavar="ISO8601", help="Only events at or after this time.")
@click.option("--end-time", default=None, metavar="ISO8601", help="Only events at or before this time.")
@click.option("--max-results", type=int, default=MAX_RESULTS, show_default=True,
              help=f"How many events to print in all (1..{MAX_CLI_RESULTS}).")
@click.option("--account", "account_id", default=None, help="Whose events (default: the store's default account).")
@click.option("--output", type=click.Choice(["json", "table"]), default="json", show_default=True)
@store_options
def query(
    attributes: tuple[str, ...], start_time: str | None, end_time: str | None, max_results: int,
    account_id: str | None, output: str, data_dir: str | None, database_url: str | None,
) -> None:
    """Look up recorded events, newest first, with LookupEvents' filters."""
    if len(attributes) > 1:
        _fail("give at most one --lookup-attribute (LookupEvents filters on one attribute)")
    if not 1 <= max_results <= MAX_CLI_RESULTS:
        _fail(f"--max-results must be between 1 and {MAX_CLI_RESULTS}")
    request = LookupEventsRequest(
        lookup_attributes=tuple(_attribute(a) for a in attributes),
        start_time=_time(start_time, "--start-time"),
        end_time=_time(end_time, "--end-time"),
    )
    runtime = open_existing_store_or_fail(data_dir, database_url)
    try:
        account = account_id or runtime.default_account_id
        if runtime.store.accounts.get(account) is None:
            _fail(f"no account {account[:20]!r} in this store")
        events: list[LookupEvent] = []
        token: str | None = None
        for _ in range(MAX_CLI_RESULTS):  # bounded: each page brings at least one event or ends
            page = query_events(runtime.store, account, LookupEventsRequest(
                lookup_attributes=request.lookup_attributes, start_time=request.start_time,
                end_time=request.end_time, max_results=min(MAX_RESULTS, max_results - len(events)),
                next_token=token,
            ))
            events.extend(page.events)
            token = page.next_token
            if token is None or len(events) >= max_results:
                break
    except AwsError as error:
        _fail(f"{error.code}: {error.message}")
    finally:
        runtime.close()
    if output == "json":
        click.echo(json.dumps({"Events": [_json(e) for e in events]}, indent=2, ensure_ascii=False))
        return
    for e in events:
        click.echo("  ".join([
            _iso(e.event_time), e.event_name, e.event_source, e.username or "-", e.error_code or "-", e.event_id,
        ]))


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(event: LookupEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"EventId": event.event_id, "EventName": event.event_name, "ReadOnly": event.read_only}
    if event.access_key_id:
        out["AccessKeyId"] = event.access_key_id
    out["EventTime"] = _iso(event.event_time)
    out["EventSource"] = event.event_source
    if event.username:
        out["Username"] = event.username
    out["Resources"] = [{"ResourceType": r.resource_type, "ResourceName": r.resource_name} for r in event.resources]
    out["CloudTrailEvent"] = event.cloud_trail_event
    return out
