"""Typed readings of condition values (policy side and request side).

Every reader returns None for a value of the wrong type: a comparison with an unreadable value
never matches (AWS evaluates such a condition to false).
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import datetime, timezone
from functools import lru_cache

_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_EPOCH_RE = re.compile(r"^-?\d+(?:\.\d+)?$")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4096)
def read_number(text: str) -> int | float | None:
    text = text.strip()
    if not _NUMBER_RE.match(text):
        return None
    if _INT_RE.match(text):
        return int(text)
    return float(text)


@lru_cache(maxsize=4096)
def read_date(text: str) -> float | None:
    """ISO-8601 date/date-time (naive = UTC) or epoch seconds -> epoch seconds."""
    text = text.strip()
    if not text:
        return None
    if _EPOCH_RE.match(text):
        return float(text)
    candidate = text
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def read_bool(text: str) -> bool | None:
    low = text.strip().lower()
    if low == "true":
        return True
    if low == "false":
        return False
    return None


@lru_cache(maxsize=4096)
def read_network(text: str) -> IpNetwork | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def read_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        # A request value may also arrive as a /32 or /128 network.
        net = read_network(text)
        if net is not None and net.num_addresses == 1:
            return net.network_address
        return None


def read_binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
