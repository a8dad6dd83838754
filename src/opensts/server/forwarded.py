"""The client's address and scheme behind trusted reverse proxies.

By default no forwarding header is believed: ``aws:SourceIp`` is the TCP peer's address and
``aws:SecureTransport`` is true only for a TLS connection to OpenSTS itself. With trusted proxies
configured (``--trusted-proxies CIDR[,CIDR...]``), a request whose TCP peer is in one of those
networks has its client address and scheme taken from the proxy's header, chosen by
``--forwarded-header``:

- ``x-forwarded-for`` (the default; nginx, HAProxy, AWS ALB): ``X-Forwarded-For`` is read right to
  left, skipping addresses of trusted proxies; the first address that is not a trusted proxy is the
  client. Everything left of it was written by the client or an untrusted hop and is ignored.
  ``X-Forwarded-Proto`` gives the scheme: the entry aligned with the chosen address when each proxy
  appended one, else its single entry.
- ``forwarded`` (RFC 7239): the same walk over the elements' ``for=`` parameters (``192.0.2.1``,
  ``"192.0.2.1:4711"``, ``"[2001:db8::1]:4711"``); the chosen element's ``proto=`` gives the scheme.

Only one header kind is read: a proxy that appends to one passes the other through untouched, so a
client could otherwise forge it. The trusted proxy must also overwrite ``X-Forwarded-Proto``
(nginx: ``proxy_set_header X-Forwarded-Proto $scheme``), since it is not a list proxies append to.

A malformed value (not an address, ``unknown``, an obfuscated identifier, a scheme other than http
or https) ends the walk and the headers are ignored: the peer's own address and scheme are used. At
most ``MAX_HOPS`` entries are examined. Deviation from RFC 7239: a quoted value containing ``,`` or
``;`` is treated as malformed (no ``for``/``proto`` value can contain them).

The result replaces the ASGI scope's ``client`` and ``scheme`` once, before routing, so every
endpoint (the Query API, ``/v1/authorize``) sees the same address. The port of a forwarded client is
unknown and given as 0.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from starlette.types import Scope

from opensts.cache import BoundedCache

MAX_HOPS = 32
HEADER_KINDS = ("x-forwarded-for", "forwarded")
_SCHEMES = ("http", "https")
_IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(scope: Scope) -> str | None:
    """The request's client address: the TCP peer's, or the one trusted proxies named (applied to
    the scope before any endpoint sees it: :meth:`TrustedProxies.apply`)."""
    client = scope.get("client")
    return client[0] if client else None


def parse_address(text: str) -> str | None:
    """The IP address in a forwarding entry, normalised, or None if it is not one.

    Accepts ``192.0.2.1``, ``192.0.2.1:80``, ``2001:db8::1``, ``[2001:db8::1]`` and
    ``[2001:db8::1]:80`` (one pair of surrounding double quotes allowed)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    if not text or len(text) > 64:
        return None
    if text[0] == "[":
        end = text.find("]")
        if end < 0:
            return None
        rest = text[end + 1:]
        if rest and not (rest[0] == ":" and _is_port(rest[1:])):
            return None
        text = text[1:end]
        if ":" not in text:  # brackets are for IPv6 only
            return None
    elif text.count(":") == 1:  # IPv4 with a port
        text, port = text.split(":")
        if not _is_port(port):
            return None
    if "%" in text:  # an IPv6 scope id names an interface of the sender's host: no use here, and free text
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5


def _scheme(text: str) -> str | None:
    scheme = text.strip().strip('"').lower()
    return scheme if scheme in _SCHEMES else None


def client_from_x_forwarded(
    forwarded_for: str, forwarded_proto: str | None, trusted: Callable[[str], bool]
) -> tuple[str, str | None] | None:
    """(client address, scheme or None) from X-Forwarded-For/-Proto values, or None to use the peer."""
    entries = forwarded_for.rsplit(",", MAX_HOPS)
    if len(entries) > MAX_HOPS:
        entries = entries[1:]  # the unexamined rest, left of the cap
    chosen = -1
    address = None
    for index in range(len(entries) - 1, -1, -1):
        address = parse_address(entries[index])
        if address is None:
            return None
        chosen = index
        if not trusted(address):
            break
    if address is None:
        return None
    scheme = None
    if forwarded_proto is not None:
        protos = forwarded_proto.rsplit(",", MAX_HOPS)
        if len(protos) == 1:
            scheme = _scheme(protos[0])
        elif len(protos) == len(entries):
            scheme = _scheme(protos[chosen])
    return address, scheme


def parse_forwarded_element(element: str) -> dict[str, str] | None:
    """One RFC 7239 element's parameters (lower-case names, unquoted values), or None if malformed."""
    params: dict[str, str] = {}
    for pair in element.split(";"):
        pair = pair.strip()
        if not pair:
            continue
        name, equals, value = pair.partition("=")
        name = name.strip().lower()
        value = value.strip()
        if not equals or not name or name in params:
            return None
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"') or '"' in value[1:-1]:
                return None
            value = value[1:-1]
        elif '"' in value:
            return None
        params[name] = value
    return params


def client_from_forwarded(forwarded: str, trusted: Callable[[str], bool]) -> tuple[str, str | None] | None:
    """(client address, scheme or None) from a ``Forwarded`` value, or None to use the peer."""
    elements = forwarded.rsplit(",", MAX_HOPS)
    if len(elements) > MAX_HOPS:
        elements = elements[1:]
    result = None
    for element in reversed(elements):
        params = parse_forwarded_element(element)
        if params is None or "for" not in params:
            return None
        address = parse_address(params["for"])
        if address is None:
            return None
        proto = params.get("proto")
        scheme = None
        if proto is not None:
            scheme = _scheme(proto)
            if scheme is None:
                return None
        result = (address, scheme)
        if not trusted(address):
            break
    return result


class TrustedProxies:
    """Rewrites a request's ``client`` and ``scheme`` from its trusted proxy's headers (see module)."""

    def __init__(self, cidrs: Iterable[str], header: str = "x-forwarded-for") -> None:
        if header not in HEADER_KINDS:
            raise ValueError(f"unknown forwarding header {header!r}")
        self.networks: tuple[_IpNetwork, ...] = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
        self.use_forwarded = header == "forwarded"
        # Peer address → trusted: peers are few; bounded all the same.
        self._trusted: BoundedCache[str, bool] = BoundedCache("trusted-peers", 4096)

    def is_trusted(self, address: str) -> bool:
        known = self._trusted.get(address)
        if known is not None:
            return known
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            trusted = False
        else:
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            trusted = any(ip in network for network in self.networks)
        return self._trusted.put(address, trusted)

    def apply(self, scope: MutableMapping[str, Any]) -> None:
        """Resolve in place: only when the TCP peer is a trusted proxy and its header is well formed."""
        client = scope.get("client")
        if not client or not self.is_trusted(client[0]):
            return
        if self.use_forwarded:
            values = [v for n, v in scope["headers"] if n == b"forwarded"]
            if not values:
                return
            result = client_from_forwarded(b",".join(values).decode("latin-1"), self.is_trusted)
        else:
            values = [v for n, v in scope["headers"] if n == b"x-forwarded-for"]
            if not values:
                return
            protos = [v for n, v in scope["headers"] if n == b"x-forwarded-proto"]
            result = client_from_x_forwarded(
                b",".join(values).decode("latin-1"),
                b",".join(protos).decode("latin-1") if protos else None,
                self.is_trusted,
            )
        if result is None:
            return
        address, scheme = result
        scope["client"] = (address, 0)
        if scheme is not None:
            scope["scheme"] = scheme
