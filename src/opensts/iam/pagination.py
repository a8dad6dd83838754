"""Paging of IAM list actions: ``Marker`` and ``MaxItems`` in, ``IsTruncated`` and ``Marker`` out.

The marker is the sort key of the last item returned: opaque to clients, stable while the list
changes between pages (https://docs.aws.amazon.com/IAM/latest/APIReference/Welcome.html, "paginated").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    is_truncated: bool
    marker: str | None


def paginate(items: Sequence[T], marker: str | None, max_items: int, key: Callable[[T], Any] | None = None) -> Page:
    """Page a sorted list: the items after ``marker`` (a sort key), at most ``max_items`` of them."""
    sort_key: Callable[[T], Any] = key or (lambda item: str(item))
    start = 0
    if marker is not None:
        start = next((i for i, item in enumerate(items) if sort_key(item) > marker), len(items))
    chunk = list(items[start : start + max_items])
    truncated = start + max_items < len(items)
    return Page(chunk, truncated, sort_key(chunk[-1]) if truncated and chunk else None)
