"""What the IAM pages share: one screen of an IAM list (with search), result times, policy documents.

IAM lists have no name filter: ``?q=`` keeps the entries whose name contains it (case-insensitive)
while paging through the list, reading at most :data:`SEARCH_MAX_PAGES` API pages of
:data:`SEARCH_PAGE_ITEMS` per screen and stopping once a screen holds :data:`PAGE_SIZE` matches;
"Next" goes on from there. Without ``q``, a screen is one API page of :data:`PAGE_SIZE`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import unquote, urlencode

PAGE_SIZE = 50  # rows of a list screen (MaxItems), and the matches after which a search screen stops
SEARCH_PAGE_ITEMS = 100  # MaxItems of each API page a search reads
SEARCH_MAX_PAGES = 10  # API pages one search screen reads at most
MAX_QUERY = 128
MAX_MARKER = 1024


class Caller(Protocol):
    """What a list needs of a page: its query string and its signed calls (site.Page)."""

    @property
    def query(self) -> Any: ...

    async def call(self, service: str, action: str, params: dict[str, str]) -> dict[str, Any]: ...


@dataclass
class Listing:
    """A list screen: its rows, the link to the next screen (or None), and how many entries were read."""

    rows: list[dict[str, Any]]
    next_url: str | None
    scanned: int


async def listing(page: Caller, base: str, action: str, key: str, name_key: str,
                  params: dict[str, str] | None = None, keep: dict[str, str] | None = None) -> Listing:
    """One screen of ``action``'s list at ``base`` (see the module's text). ``params``: the action's
    other parameters; ``keep``: other query-string values the "Next" link carries."""
    query = (page.query.get("q") or "").strip()[:MAX_QUERY]
    marker = (page.query.get("marker") or "")[:MAX_MARKER]
    needle = query.casefold()
    rows: list[dict[str, Any]] = []
    scanned = 0
    for _ in range(SEARCH_MAX_PAGES if query else 1):
        call_params = {**(params or {}), "MaxItems": str(SEARCH_PAGE_ITEMS if query else PAGE_SIZE),
                       **({"Marker": marker} if marker else {})}
        result = await page.call("iam", action, call_params)
        found = [row for row in result.get(key) or [] if isinstance(row, dict)]
        scanned += len(found)
        rows += [row for row in found if needle in str(row.get(name_key, "")).casefold()]
        marker = str(result.get("Marker") or "") if result.get("IsTruncated") else ""
        if not marker or len(rows) >= PAGE_SIZE:
            break
    carried = {**{k: v for k, v in (keep or {}).items() if v}, **({"q": query} if query else {})}
    next_url = f"{base}?{urlencode({**carried, 'marker': marker})}" if marker else None
    return Listing(rows, next_url, scanned)


def when(epoch: Any) -> datetime | None:
    """A result's timestamp (epoch seconds in the JSON form) as a UTC datetime."""
    return datetime.fromtimestamp(float(epoch), timezone.utc) if isinstance(epoch, (int, float)) else None


def policy_document(encoded: str) -> str:
    """A policy document as IAM returns it (URL-encoded), decoded and pretty-printed when it is JSON."""
    text = unquote(encoded)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return text
