"""Typed readings of condition values (policy side and request side).

Every reader returns None for a value of the wrong type: a comparison with an unreadable value
never matches (AWS evaluates such a condition to false).

Numbers: integers of up to 4,000 digits are ``int``; every other number (fractions, exponents,
longer integers) is an exact ``Decimal``, so comparisons are exact and no input reaches CPython's
4,300-digit int/str conversion limit. A number whose exponent is beyond what ``Decimal`` holds
(``1e999999999999999999``) is unreadable. *Deviation*: AWS does not document its numeric range.

Dates: the W3C profiles of ISO 8601 (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``,
``YYYY-MM-DDThh:mmTZD``, ``YYYY-MM-DDThh:mm:ssTZD``, ``YYYY-MM-DDThh:mm:ss.sTZD``; TZD ``Z`` or
``±hh:mm``) and epoch seconds. A missing zone means UTC, and other ISO 8601 forms Python reads
(``20240101``, ``2024-01-01T10``) are accepted too. A bare four-digit number is a year, not epoch
seconds (the W3C ``YYYY`` profile; epoch 0..9999 is the first hours of 1970). Texts longer than 64
characters are not dates, which keeps parsing bounded.
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_EPOCH_RE = re.compile(r"^-?\d+(?:\.\d+)?$")
_INT_DIGITS_MAX = 4000  # below CPython's 4,300-digit int/str conversion limit
_DATE_MAX = 64
# W3C profiles of ISO 8601 (nested optional parts, no ambiguous repetition: linear-time).
_W3C_DATE_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,12}))?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?)?)?",
    re.ASCII,
)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4096)
def read_number(text: str) -> int | Decimal | None:
    text = text.strip()
    if not _NUMBER_RE.match(text):
        return None
    if len(text) <= _INT_DIGITS_MAX and _INT_RE.match(text):
        return int(text)
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None  # exponent out of Decimal's range
    return value if value.is_finite() else None


@lru_cache(maxsize=4096)
def read_date(text: str) -> float | None:
    """A W3C ISO 8601 date/date-time (no zone = UTC) or epoch seconds -> epoch seconds."""
    text = text.strip()
    if not text or len(text) > _DATE_MAX:
        return None
    m = _W3C_DATE_RE.fullmatch(text)
    if m is not None:
        return _w3c_epoch(m)
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


def _w3c_epoch(m: re.Match[str]) -> float | None:
    year, month, day, hour, minute, second, fraction, _, sign, tz_h, tz_m = m.groups()
    try:
        zone = timezone.utc
        if sign is not None:
            offset = timedelta(hours=int(tz_h), minutes=int(tz_m))
            zone = timezone(-offset if sign == "-" else offset)
        dt = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone,
        )
    except ValueError:  # month 13, hour 25, zone offset of a day or more, year 0, ...
        return None
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
