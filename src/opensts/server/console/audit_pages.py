"""The audit trail and the sessions it shows, read with CloudTrail's ``LookupEvents``.

- ``GET /console/audit``: ``cloudtrail:LookupEvents`` with its filters in the query string (one
  lookup attribute, ``start``/``end`` in UTC, ``max`` results up to 50, ``next``: the NextToken
  of the "Next" link); a table of the events, each with its full record (pretty-printed JSON) in a
  ``<details>``; and a bar chart (inline SVG, drawn here) of the calls and denials over time among
  the events the filters select: at most ``CHART_PAGES`` pages of ``PAGE_SIZE`` events are read for
  it (the newest ones), and the page says when it stopped there.
- ``GET /console/sessions``: temporary credentials issued in the last 36 hours (the longest
  session) that have not expired: one ``LookupEvents`` per issuing EventName (AssumeRole,
  AssumeRoleWithWebIdentity, AssumeRoleWithSAML, GetSessionToken, GetFederationToken), at most
  ``SESSION_PAGES`` pages each; the successful ones whose ``responseElements.credentials.expiration``
  is after the server's clock. A lookup that fails is said so on the page; if all fail, the page is
  the error (e.g. 403 AccessDenied without ``cloudtrail:LookupEvents``).

Deviations from AWS's console: times are entered and shown in UTC; the chart counts only the newest
``CHART_PAGES × PAGE_SIZE`` events; AWS has no sessions page (its records are the same).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from opensts.server.console.api_calls import ApiCallFailed
from opensts.server.console.site import Console, ConsoleError, Page

ATTRIBUTE_KEYS = ("EventName", "Username", "EventId", "ReadOnly", "ResourceType", "ResourceName", "EventSource",
                  "AccessKeyId")
PAGE_SIZE = 50
CHART_PAGES = 10
MAX_BUCKETS = 40
MIN_BUCKETS = 12
BUCKET_SECONDS = (10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400)
ISSUING_EVENTS = ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetSessionToken",
                  "GetFederationToken")
SESSION_WINDOW = timedelta(hours=36)  # GetSessionToken's and GetFederationToken's longest session
SESSION_PAGES = 4
MAX_VALUE_CHARS = 2048
TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


async def lookup(page: Page, payload: dict[str, Any]) -> dict[str, Any]:
    """LookupEvents as the signed-in principal. CloudTrail answers AccessDeniedException with HTTP
    400 (as AWS does); the console shows it as what it is, 403."""
    try:
        return await page.lookup_events(payload)
    except ApiCallFailed as failed:
        if failed.code.startswith("AccessDenied") and failed.status == 400:
            raise ApiCallFailed(failed.code, failed.message, 403) from None
        raise


# --- Events -------------------------------------------------------------------------------------
@dataclass
class Event:
    event_id: str
    time: datetime
    name: str
    source: str
    user: str
    source_ip: str
    error_code: str
    record: dict[str, Any]

    @property
    def pretty(self) -> str:
        return json.dumps(self.record, indent=2, ensure_ascii=False, sort_keys=False)

    @property
    def denied(self) -> bool:
        return self.error_code.startswith("AccessDenied")


def read_event(event: dict[str, Any]) -> Event:
    """One LookupEvents event, with its record parsed."""
    try:
        record = json.loads(str(event.get("CloudTrailEvent") or "{}"))
    except ValueError:
        record = {}
    record = record if isinstance(record, dict) else {}
    when = event.get("EventTime")
    moment = datetime.fromtimestamp(float(when), timezone.utc) if isinstance(when, (int, float)) else _iso(
        str(record.get("eventTime", ""))) or datetime.fromtimestamp(0, timezone.utc)
    return Event(
        str(event.get("EventId", "")), moment, str(event.get("EventName", "")), str(event.get("EventSource", "")),
        str(event.get("Username") or ""), str(record.get("sourceIPAddress") or ""), str(record.get("errorCode") or ""),
        record,
    )


def _iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --- The audit page's filters -------------------------------------------------------------------
@dataclass
class Filters:
    attribute: str = "EventName"
    value: str = ""
    start: str = ""
    end: str = ""
    max_results: int = PAGE_SIZE
    next_token: str = ""

    def payload(self, *, paging: bool = True) -> dict[str, Any]:
        """LookupEvents' request for these filters (without paging: the first page of PAGE_SIZE)."""
        out: dict[str, Any] = {"MaxResults": self.max_results if paging else PAGE_SIZE}
        if self.value:
            out["LookupAttributes"] = [{"AttributeKey": self.attribute, "AttributeValue": self.value}]
        for name, text in (("StartTime", self.start), ("EndTime", self.end)):
            if text:
                out[name] = int(_parse_time(text).timestamp())
        if paging and self.next_token:
            out["NextToken"] = self.next_token
        return out

    def query(self, **changes: str) -> str:
        """This page's query string, with ``changes``."""
        params = {"attribute": self.attribute, "value": self.value, "start": self.start, "end": self.end,
                  "max": str(self.max_results), **changes}
        return urlencode({k: v for k, v in params.items() if v})


def _parse_time(text: str) -> datetime:
    for form in TIME_FORMATS:
        try:
            return datetime.strptime(text.strip().removesuffix("Z"), form).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ConsoleError(f"{text!r} is not a time (YYYY-MM-DDTHH:MM[:SS], UTC).")


def read_filters(query: Any) -> Filters:
    """The filters of the query string; ConsoleError for values that are not valid."""
    attribute = str(query.get("attribute") or "EventName")
    if attribute not in ATTRIBUTE_KEYS:
        raise ConsoleError(f"Filter by one of {', '.join(ATTRIBUTE_KEYS)}.")
    try:
        max_results = int(query.get("max") or PAGE_SIZE)
    except ValueError:
        raise ConsoleError("The number of events per page must be a number from 1 to 50.") from None
    if not 1 <= max_results <= PAGE_SIZE:
        raise ConsoleError("The number of events per page must be a number from 1 to 50.")
    filters = Filters(attribute, str(query.get("value") or "").strip()[:MAX_VALUE_CHARS],
                      str(query.get("start") or "")[:32], str(query.get("end") or "")[:32], max_results,
                      str(query.get("next") or "")[:4096])
    filters.payload()  # the times are readable
    return filters


# --- The chart ----------------------------------------------------------------------------------
@dataclass
class Bucket:
    start: datetime
    calls: int = 0
    errors: int = 0  # an errorCode other than AccessDenied*
    denials: int = 0  # AccessDenied*
    # Drawn: (class, y, height) of each stacked part, computed by the chart.
    bars: list[tuple[str, float, float]] = field(default_factory=list)
    x: float = 0


@dataclass
class Chart:
    buckets: list[Bucket]
    seconds: int
    events: int
    complete: bool  # every selected event was read
    peak: int
    width: int = 960
    height: int = 180
    plot_top: int = 16
    plot_bottom: int = 150
    plot_left: int = 40
    bar_width: float = 0

    @property
    def denials(self) -> int:
        return sum(b.denials for b in self.buckets)


def build_chart(events: list[Event], complete: bool) -> Chart | None:
    """Counts per time bucket (the smallest of BUCKET_SECONDS giving at most MAX_BUCKETS), drawn
    as stacked bars: successful calls, other errors, denials."""
    if not events:
        return None
    low = min(e.time for e in events).timestamp()
    high = max(e.time for e in events).timestamp()
    seconds = next((s for s in BUCKET_SECONDS if int(high // s) - int(low // s) + 1 <= MAX_BUCKETS), BUCKET_SECONDS[-1])
    last = int(high // seconds)
    first = min(int(low // seconds), last - MIN_BUCKETS + 1)  # a few empty buckets before: a timeline, not one bar
    count = last - first + 1
    buckets = [Bucket(datetime.fromtimestamp((first + i) * seconds, timezone.utc)) for i in range(count)]
    for event in events:
        bucket = buckets[int(event.time.timestamp() // seconds) - first]
        bucket.calls += 1
        if event.denied:
            bucket.denials += 1
        elif event.error_code:
            bucket.errors += 1
    peak = max(b.calls for b in buckets)
    chart = Chart(buckets, seconds, len(events), complete, peak)
    plot = chart.plot_bottom - chart.plot_top
    slot = (chart.width - chart.plot_left - 8) / count
    chart.bar_width = max(1.0, slot * 0.8)
    for i, bucket in enumerate(buckets):
        bucket.x = chart.plot_left + i * slot + (slot - chart.bar_width) / 2
        y = float(chart.plot_bottom)
        for kind, n in (("ok", bucket.calls - bucket.errors - bucket.denials), ("failed", bucket.errors),
                        ("denied", bucket.denials)):
            if n:
                h = plot * n / peak
                y -= h
                bucket.bars.append((kind, round(y, 1), round(h, 1)))
    return chart


async def chart_events(page: Page, filters: Filters, first_page: dict[str, Any] | None) -> tuple[list[Event], bool]:
    """The events the filters select, newest first, at most CHART_PAGES pages; (events, complete)."""
    payload = filters.payload(paging=False)
    events: list[Event] = []
    answer = first_page
    for _ in range(CHART_PAGES):
        if answer is None:
            answer = await lookup(page, payload)
        events += [read_event(e) for e in answer.get("Events") or []]
        token = answer.get("NextToken")
        if not token:
            return events, True
        payload = {**payload, "NextToken": token}
        answer = None
    return events, False


# --- Sessions -----------------------------------------------------------------------------------
@dataclass
class IssuedSession:
    event_id: str
    event_name: str
    issued: datetime
    expires: datetime
    who: str
    role: str
    session_name: str
    session_arn: str
    source_identity: str
    source_ip: str
    mfa: str
    access_key_id: str


def issued_session(event: Event, now: datetime) -> IssuedSession | None:
    """The credentials a successful issuing event handed out, if they have not expired at ``now``."""
    record = event.record
    if event.error_code or record.get("errorCode"):
        return None
    request, response = _object(record.get("requestParameters")), _object(record.get("responseElements"))
    credentials = _object(response.get("credentials"))
    expires = _expiration(credentials.get("expiration"))
    if expires is None or expires <= now:
        return None
    identity = _object(record.get("userIdentity"))
    attributes = _object(_object(identity.get("sessionContext")).get("attributes"))
    serial = _find(request, "serialNumber")
    if serial:
        mfa = f"yes ({serial})"
    else:
        mfa = "yes" if str(attributes.get("mfaAuthenticated", "")).lower() == "true" else "no"
    subject = _object(response.get("assumedRoleUser") or response.get("federatedUser"))
    return IssuedSession(
        event.event_id, event.name, event.time, expires,
        str(identity.get("arn") or identity.get("principalId") or identity.get("userName") or ""),
        str(request.get("roleArn") or ""), str(request.get("roleSessionName") or request.get("name") or ""),
        str(subject.get("arn") or ""),
        str(request.get("sourceIdentity") or response.get("sourceIdentity") or ""), event.source_ip, mfa,
        str(credentials.get("accessKeyId") or ""),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _expiration(value: Any) -> datetime | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), timezone.utc)
    return _iso(value) if isinstance(value, str) else None


def _find(value: Any, key: str, depth: int = 2) -> str:
    """``key``'s value in ``value`` or in its nested objects (structured parameters such as ``mfa``)."""
    if not isinstance(value, dict):
        return ""
    if value.get(key):
        return str(value[key])
    if depth:
        for nested in value.values():
            found = _find(nested, key, depth - 1)
            if found:
                return found
    return ""


async def issued_events(page: Page, event_name: str, since: datetime) -> tuple[list[Event], bool]:
    """The ``event_name`` events since ``since``, newest first, at most SESSION_PAGES pages; (events, complete)."""
    payload: dict[str, Any] = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": event_name}],
                               "StartTime": int(since.timestamp()), "MaxResults": PAGE_SIZE}
    events: list[Event] = []
    for _ in range(SESSION_PAGES):
        answer = await lookup(page, payload)
        events += [read_event(e) for e in answer.get("Events") or []]
        token = answer.get("NextToken")
        if not token:
            return events, True
        payload = {**payload, "NextToken": token}
    return events, False


# --- Pages --------------------------------------------------------------------------------------
def register(console: Console) -> None:
    @console.page("/console/audit", name="audit")
    async def audit(page: Page) -> Response:
        def refused(error: ConsoleError | ApiCallFailed, filters: Filters) -> Response:
            """The filters form with the error (the filters kept), and nothing else."""
            return page.render("audit.html", error.status, filters=filters, keys=ATTRIBUTE_KEYS, events=[],
                               next_query=None, chart=None, chart_error=None, error=error, failed=True)

        try:
            filters = read_filters(page.query)
        except ConsoleError as error:
            return refused(error, Filters())
        try:
            answer = await lookup(page, filters.payload())
        except ApiCallFailed as failed:  # e.g. 403 AccessDenied, InvalidTimeRange, an edited NextToken
            return refused(failed, filters)
        events = [read_event(e) for e in answer.get("Events") or []]
        token = answer.get("NextToken")
        chart, chart_error = None, None
        try:
            reuse = answer if not filters.next_token and filters.max_results == PAGE_SIZE else None
            chart = build_chart(*await chart_events(page, filters, reuse))
        except ApiCallFailed as failed:
            chart_error = failed
        return page.render(
            "audit.html", filters=filters, keys=ATTRIBUTE_KEYS, events=events, chart=chart, chart_error=chart_error,
            next_query=filters.query(next=str(token)) if token else None,
            first_query=filters.query() if filters.next_token else None,
        )

    @console.page("/console/sessions", name="sessions")
    async def sessions(page: Page) -> Response:
        now = page.console.runtime_().clock.now()
        since = now - SESSION_WINDOW
        answers = await asyncio.gather(*(issued_events(page, name, since) for name in ISSUING_EVENTS),
                                       return_exceptions=True)
        failures: list[tuple[str, ApiCallFailed]] = []
        found: list[IssuedSession] = []
        incomplete: list[str] = []
        for name, answer in zip(ISSUING_EVENTS, answers):
            if isinstance(answer, ApiCallFailed):
                failures.append((name, answer))
                continue
            if isinstance(answer, BaseException):
                raise answer
            events, complete = answer
            if not complete:
                incomplete.append(name)
            found += [s for s in (issued_session(e, now) for e in events) if s is not None]
        if len(failures) == len(ISSUING_EVENTS):
            raise failures[0][1]
        found.sort(key=lambda s: s.issued, reverse=True)
        return page.render("sessions.html", sessions=found, failures=failures, incomplete=incomplete, now=now,
                           since=since, page_limit=SESSION_PAGES * PAGE_SIZE)
