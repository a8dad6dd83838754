"""Forwarding headers: believed only from configured trusted proxies (server/forwarded.py).

Over HTTP: spoofed X-Forwarded-For/-Proto and Forwarded headers from a loopback client change nothing
by default; with trusted proxies, only the right-most untrusted address counts, and a real nginx in
front of OpenSTS shows the address nginx saw is used. Then unit and property tests of the parser.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from opensts.server.forwarded import (
    MAX_HOPS,
    TrustedProxies,
    client_from_forwarded,
    client_from_x_forwarded,
    parse_address,
)
from tests.authorize.conftest import signed_headers
from tests.conftest import Credentials, ServerInfo, free_port, start_server, stop_server
from tests.iam.conftest import make_user

SPOOFED = {
    "X-Forwarded-For": "10.1.2.3",
    "X-Forwarded-Proto": "https",
    "X-Real-IP": "10.1.2.3",
    "Forwarded": 'for=10.1.2.3;proto=https, for="[2001:db8::1]:4711"',
}


def only_from(condition: dict) -> dict:  # type: ignore[type-arg]
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListUsers", "opensts:Authorize"], "Resource": "*", "Condition": condition}]}


FROM_TEN = only_from({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
OVER_TLS = only_from({"Bool": {"aws:SecureTransport": "true"}})


def list_users(url: str, creds: Credentials, headers: dict[str, str] | None = None,
               local_address: str | None = None) -> tuple[int, str]:
    """A signed iam:ListUsers; ``headers`` are added after signing, as a proxy adds them."""
    body = urllib.parse.urlencode({"Action": "ListUsers", "Version": "2010-05-08"}).encode()
    signed = signed_headers("POST", url + "/", creds, "iam", body,
                            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
    with httpx.Client(transport=transport, timeout=10) as client:
        response = client.post(url + "/", content=body, headers={**signed, **(headers or {})})
    code = "" if response.status_code == 200 else response.text.split("<Code>")[1].split("</Code>")[0]
    return response.status_code, code


# --- no trusted proxies (the default) ----------------------------------------------------------
@pytest.mark.parametrize("policy", [FROM_TEN, OVER_TLS], ids=["SourceIp", "SecureTransport"])
def test_spoofed_forwarding_headers_are_ignored_by_default(server: ServerInfo, policy: dict) -> None:  # type: ignore[type-arg]
    _, creds = make_user(server, policy)
    assert list_users(server.url, creds, SPOOFED) == (403, "AccessDenied")


def test_spoofed_headers_do_not_reach_v1_authorize(server: ServerInfo) -> None:
    """/v1/authorize's own permission check sees the same (peer) address as the Query API."""
    from tests.authorize.conftest import inner_request

    _, outer = make_user(server, FROM_TEN)
    _, inner = make_user(server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*"}]})
    body = json.dumps({"request": inner_request(inner), "action": "ec2:StopInstances"}).encode()
    url = server.url + "/v1/authorize"
    headers = signed_headers("POST", url, outer, "opensts", body, {"Content-Type": "application/json"})
    response = httpx.post(url, content=body, headers={**headers, **SPOOFED}, timeout=10)
    assert response.status_code == 403 and response.json()["error"]["code"] == "AccessDenied"


# --- trusted proxies ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """A server that trusts 127.0.0.1 as its reverse proxy (clients use 127.0.0.2, also loopback)."""
    info = start_server(tmp_path_factory.mktemp("proxied"), "sqlite", {"OPENSTS_TRUSTED_PROXIES": "127.0.0.1/32"})
    yield info
    stop_server(info)


def test_trusted_peer_headers_give_the_client(proxied: ServerInfo) -> None:
    _, ten = make_user(proxied, FROM_TEN)
    _, tls = make_user(proxied, OVER_TLS)
    assert list_users(proxied.url, ten, {"X-Forwarded-For": "10.1.2.3"}) == (200, "")
    assert list_users(proxied.url, tls, {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https"}) == (200, "")
    # The right-most address that is not a trusted proxy is the client; what is left of it is not.
    assert list_users(proxied.url, ten, {"X-Forwarded-For": "10.1.2.3, 192.0.2.9"}) == (403, "AccessDenied")
    assert list_users(proxied.url, ten, {"X-Forwarded-For": "10.1.2.3, 127.0.0.1"}) == (200, "")
    # Malformed: the peer's own address is used.
    assert list_users(proxied.url, ten, {"X-Forwarded-For": "10.1.2.3, not-an-address"}) == (403, "AccessDenied")
    # Only the configured header kind is read (x-forwarded-for by default).
    assert list_users(proxied.url, ten, {"Forwarded": "for=10.1.2.3"}) == (403, "AccessDenied")


def test_untrusted_peer_headers_are_ignored(proxied: ServerInfo) -> None:
    _, ten = make_user(proxied, FROM_TEN)
    assert list_users(proxied.url, ten, {"X-Forwarded-For": "10.1.2.3"}, local_address="127.0.0.2") == (403, "AccessDenied")


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


@pytest.fixture(scope="module")
def nginx(proxied: ServerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nginx on a free loopback port in front of ``proxied`` (CI installs nginx: never skipped there)."""
    if NGINX is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (.ci/run installs it)")
        pytest.skip("nginx is not installed")
    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    upstream = urllib.parse.urlsplit(proxied.url).netloc
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(f"""{user}daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
""")
    process = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"nginx did not start: {(prefix / 'error.log').read_text() if (prefix / 'error.log').exists() else ''}")
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_behind_nginx_the_address_nginx_saw_is_used(proxied: ServerInfo, nginx: str) -> None:
    _, ten = make_user(proxied, FROM_TEN)
    _, tls = make_user(proxied, OVER_TLS)
    _, here = make_user(proxied, only_from({"IpAddress": {"aws:SourceIp": "127.0.0.2/32"}}))
    client = "127.0.0.2"  # loopback, but not the trusted proxy's address
    # nginx appends the address it saw: "10.1.2.3, 127.0.0.2"; the client's claim is ignored.
    assert list_users(nginx, ten, {"X-Forwarded-For": "10.1.2.3"}, local_address=client) == (403, "AccessDenied")
    assert list_users(nginx, here, {"X-Forwarded-For": "10.1.2.3"}, local_address=client) == (200, "")
    assert list_users(nginx, here, local_address=client) == (200, "")
    # nginx overwrites X-Forwarded-Proto with the scheme the client used (http).
    assert list_users(nginx, tls, {"X-Forwarded-Proto": "https"}, local_address=client) == (403, "AccessDenied")
    # Straight to OpenSTS from the same client: not through the proxy, so its own address.
    assert list_users(proxied.url, here, local_address=client) == (200, "")
    assert list_users(proxied.url, here) == (403, "AccessDenied")


# --- the parser --------------------------------------------------------------------------------
TRUST_LOOPBACK = TrustedProxies(["127.0.0.0/8", "::1/128"]).is_trusted


@pytest.mark.parametrize("text, expected", [
    ("192.0.2.1", "192.0.2.1"), (" 192.0.2.1 ", "192.0.2.1"), ("192.0.2.1:80", "192.0.2.1"),
    ("2001:db8::1", "2001:db8::1"), ("[2001:db8::1]", "2001:db8::1"), ("[2001:DB8::1]:4711", "2001:db8::1"),
    ('"[2001:db8::1]:4711"', "2001:db8::1"), ('"192.0.2.1:80"', "192.0.2.1"),
    ("", None), ("unknown", None), ("_hidden", None), ("[192.0.2.1]", None), ("192.0.2.1:x", None),
    ("[2001:db8::1", None), ("[2001:db8::1]x", None), ("999.1.1.1", None), ("1" * 100, None),
])
def test_parse_address(text: str, expected: str | None) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("xff, proto, expected", [
    ("10.1.2.3", None, ("10.1.2.3", None)),
    ("10.1.2.3", "https", ("10.1.2.3", "https")),
    ("10.1.2.3, 192.0.2.9", "https", ("192.0.2.9", "https")),
    ("10.1.2.3, 192.0.2.9, 127.0.0.1", "https, http, http", ("192.0.2.9", "http")),
    ("10.1.2.3, 127.0.0.1", "https,http", ("10.1.2.3", "https")),
    ("127.0.0.5, 127.0.0.1", None, ("127.0.0.5", None)),  # all trusted: the furthest
    ("garbage, 192.0.2.9", None, ("192.0.2.9", None)),  # left of the client: never read
    ("192.0.2.9, garbage", None, None),
    ("192.0.2.9,", None, None),
    ("10.1.2.3", "ftp", ("10.1.2.3", None)),
    ("10.1.2.3", "https, https, https", ("10.1.2.3", None)),  # misaligned: peer's scheme
])
def test_x_forwarded(xff: str, proto: str | None, expected: tuple[str, str | None] | None) -> None:
    assert client_from_x_forwarded(xff, proto, TRUST_LOOPBACK) == expected


@pytest.mark.parametrize("value, expected", [
    ("for=192.0.2.60;proto=https;by=203.0.113.43", ("192.0.2.60", "https")),
    ('for="[2001:db8:cafe::17]:4711"', ("2001:db8:cafe::17", None)),
    ("For=10.1.2.3, for=192.0.2.9;proto=http", ("192.0.2.9", "http")),
    ("for=10.1.2.3;proto=https, for=127.0.0.1", ("10.1.2.3", "https")),
    ("for=unknown", None), ("for=_hidden", None), ("proto=https", None), ("for=1.2.3.4;for=5.6.7.8", None),
    ('for="1.2.3.4', None), ("for=1.2.3.4;proto=gopher", None), ('for="a"b"', None), ("for", None),
])
def test_forwarded(value: str, expected: tuple[str, str | None] | None) -> None:
    assert client_from_forwarded(value, TRUST_LOOPBACK) == expected


def test_trusted_proxies_apply_only_for_a_trusted_peer() -> None:
    proxies = TrustedProxies(["127.0.0.1/32"])
    headers = [(b"x-forwarded-for", b"10.1.2.3"), (b"x-forwarded-proto", b"https")]
    scope = {"client": ("127.0.0.2", 5), "scheme": "http", "headers": headers}
    proxies.apply(scope)
    assert scope["client"] == ("127.0.0.2", 5) and scope["scheme"] == "http"
    scope = {"client": ("127.0.0.1", 5), "scheme": "http", "headers": headers}
    proxies.apply(scope)
    assert scope["client"] == ("10.1.2.3", 0) and scope["scheme"] == "https"
    scope = {"client": ("::ffff:127.0.0.1", 5), "scheme": "http", "headers": [(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-for", b"10.0.0.1")]}
    proxies.apply(scope)
    assert scope["client"] == ("10.0.0.1", 0)  # repeated headers are one list
    forwarded = TrustedProxies(["127.0.0.1/32"], "forwarded")
    scope = {"client": ("127.0.0.1", 5), "scheme": "http", "headers": headers + [(b"forwarded", b"for=192.0.2.1;proto=https")]}
    forwarded.apply(scope)
    assert scope["client"] == ("192.0.2.1", 0) and scope["scheme"] == "https"


addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
untrusted = addresses.filter(lambda a: not TRUST_LOOPBACK(a))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.one_of(st.none(), st.text(max_size=50)))
def test_any_header_text_is_handled(xff: str, proto: str | None) -> None:
    result = client_from_x_forwarded(xff, proto, TRUST_LOOPBACK)
    if result is not None:
        ipaddress.ip_address(result[0])
        assert result[1] in (None, "http", "https")
    forwarded = client_from_forwarded(xff, TRUST_LOOPBACK)
    if forwarded is not None:
        ipaddress.ip_address(forwarded[0])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), untrusted, st.lists(st.sampled_from(["127.0.0.1", "::1", "127.9.9.9"]), max_size=5))
def test_client_written_prefix_never_wins(prefix: str, client: str, proxies: list[str]) -> None:
    """Whatever a client writes, the right-most untrusted address (the one the first trusted proxy
    appended) is the answer."""
    chain = ", ".join([prefix, client, *proxies])
    assert client_from_x_forwarded(chain, None, TRUST_LOOPBACK) == (client, None)
    quoted = [f'for="[{a}]"' if ":" in a else f"for={a}" for a in (client, *proxies)]
    assert client_from_forwarded(", ".join([prefix.replace('"', ""), *quoted]), TRUST_LOOPBACK) == (client, None)


def test_hops_examined_are_bounded() -> None:
    chain = ", ".join(["10.9.9.9"] + ["127.0.0.1"] * (MAX_HOPS + 5))
    address, _ = client_from_x_forwarded(chain, None, TRUST_LOOPBACK)  # type: ignore[misc]
    assert address == "127.0.0.1"  # the cap was reached before the client: the furthest examined hop
    huge = ",".join(["1.2.3.4"] * 20_000)
    started = time.perf_counter()
    assert client_from_x_forwarded(huge, None, TRUST_LOOPBACK) == ("1.2.3.4", None)
    assert time.perf_counter() - started < 0.5
