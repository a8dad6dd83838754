"""Settings, from command-line flags and ``OPENSTS_*`` environment variables (flags win).

Every value is validated here, flags and environment alike, by the same rules: a bad value raises
:class:`SettingsError` whose message is one line naming the flag or variable and the value given
(``OPENSTS_PORT must be a port number 1-65535, got 'abc'``). The CLI prints it and exits non-zero.

This module is the only reader of ``OPENSTS_*`` variables. ``opensts serve`` hands its
:class:`Settings` to the worker processes as an object (``server/app.py``: ``AppFactory``), never
through the environment. (``SSL_CERT_FILE``, OpenSSL's own variable, is read where the TLS context
is made: ``federation/oidc.py``.)
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7070
DEFAULT_DATA_DIR = "./opensts-data"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
MAX_WORKERS = 64

# Connection handling (docs/DEPLOYMENT.md). Keep-alive outlasts the SDKs' pooled-connection idle
# times (botocore and the AWS SDKs reuse connections idle up to ~60 s), as nginx (75 s) and ALBs do.
DEFAULT_KEEP_ALIVE_TIMEOUT = 75.0
DEFAULT_HEADER_TIMEOUT = 10.0  # from connection (or a request's first byte) to its complete headers
DEFAULT_BODY_TIMEOUT = 30.0  # from complete headers to the complete body (bodies are <= 512 KiB)
# Request line + headers: SigV4 headers and session tokens take a few KB, presigned URLs carry the
# token in the request line; 64 KiB leaves ample room.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_HEADERS = 100
DEFAULT_MAX_CONNECTIONS = 1000  # per worker; lowered to fit the open-file limit (server/serving.py)
# Requests per second per worker process (burst: twice as many); docs/DEPLOYMENT.md "Rate limits".
# Signed calls: per access key id and per source address.
DEFAULT_RATE_ACCESS_KEY = 20_000.0
DEFAULT_RATE_SOURCE = 40_000.0
DEFAULT_RATE_UNAUTHENTICATED = 1_000.0  # unsigned STS actions and presigned URLs: per source address
# SIGTERM drains: requests in progress are answered within this bound, then the process exits
# (server/serving.py). systemd's TimeoutStopSec must be longer (docs/DEPLOY.md).
DEFAULT_SHUTDOWN_TIMEOUT = 10.0


class SettingsError(ValueError):
    """A flag or environment variable has a bad value; the message is one line for the user."""


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str | None = None  # None: SQLite file in data_dir
    workers: int = 1
    account_id: str | None = None
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = field(default=None, repr=False)
    master_key: str | None = field(default=None, repr=False)
    # Regions accepted in SigV4 credential scopes; empty means any (ours: AWS knows its regions).
    allowed_regions: tuple[str, ...] = ()
    # OpenSTS's own SAML audience/recipient URLs, accepted besides AWS's (comma-separated).
    saml_audiences: tuple[str, ...] = ()
    log_level: str = "info"
    log_format: str = "text"  # or "json": one JSON object per line (server/access_log.py)
    # Peers (CIDRs, normalised) whose X-Forwarded-For/-Proto and Forwarded headers are believed.
    trusted_proxies: tuple[str, ...] = ()
    forwarded_header: str = "x-forwarded-for"  # or "forwarded" (RFC 7239): server/forwarded.py
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_headers: int = DEFAULT_MAX_HEADERS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    # Several workers: the directory where each publishes its /metrics figures for the others
    # (server/metrics.py). ``serve`` makes one when none is given.
    metrics_dir: str | None = None
    # Tests only: a file holding an offset in seconds added to the server's clock (clock.py).
    test_clock_file: str | None = None
    # The audit trail (docs/AUDIT.md): "on" or "off"; events older than the retention are removed;
    # streams: JSON lines to a file ("-": stdout), CloudTrail's delivery files under a directory.
    audit: str = "on"
    audit_retention_days: int = 90
    audit_log: str | None = None
    audit_dir: str | None = None
    # Where events are built and committed (audit/trail.py): "auto" (a writer process once the
    # trail is busy), "process" (from the first call), "inline" (on the server's event loop).
    audit_writer: str = "auto"
    # Seconds between signed checkpoints of each account's audit chain.
    audit_checkpoint_seconds: float = 60.0
    # Token-bucket rate limits per worker process (server/throttle.py): (requests per second, burst)
    # or None for off. Generous by default: above what one worker serves, so only a flood meets them.
    rate_limit_access_key: tuple[float, float] | None = (DEFAULT_RATE_ACCESS_KEY, 2 * DEFAULT_RATE_ACCESS_KEY)
    rate_limit_source: tuple[float, float] | None = (DEFAULT_RATE_SOURCE, 2 * DEFAULT_RATE_SOURCE)
    rate_limit_unauthenticated: tuple[float, float] | None = (
        DEFAULT_RATE_UNAUTHENTICATED, 2 * DEFAULT_RATE_UNAUTHENTICATED
    )
    # Failed authentication and MFA codes slow down (brute_force.py): "on" or "off"; the longest delay.
    brute_force: str = "on"
    brute_force_max_delay: float = 900.0
    # Addresses not counted per address (a reverse proxy not named in trusted_proxies looks like them).
    brute_force_exempt: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    # TLS (server/tls.py): certificate chain and key (PEM files, both or neither); a CA bundle for
    # mutual TLS (client certificates required).
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    # The URL clients reach this server at (https://sts.example.com), under which each account's OIDC
    # issuer lives (GetWebIdentityToken). None: SCHEME://HOST:PORT, right for local use only.
    public_url: str | None = None
    # IAM as code (docs/IAM-AS-CODE.md): a file ``serve`` applies once the store is open, before serving.
    bootstrap: str | None = None

    @property
    def public_base_url(self) -> str:
        """``public_url``, or ``http(s)://HOST:PORT`` (https with --tls-cert; brackets around an IPv6
        address); no trailing slash."""
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls_cert else 'http'}://{host}:{self.port}"

    @property
    def store_summary(self) -> str:
        """The store, for the startup log: ``sqlite PATH`` or ``postgresql HOST:PORT/DB``, never a
        user name or password."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(self.resolved_database_url)
        except (ArgumentError, ValueError):
            return "(unparsable database URL)"
        if url.get_backend_name() == "sqlite":
            return f"sqlite {url.database or ':memory:'}"
        port = f":{url.port}" if url.port else ""
        return f"{url.get_backend_name()} {url.host or 'localhost'}{port}/{url.database or ''}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'opensts.db').resolve()}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, /, **overrides: Any) -> "Settings":
        """Build settings from the environment, then apply non-None overrides (the CLI flags).

        Raises :class:`SettingsError` for any bad value, naming the variable or flag."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, parse in _FIELDS.items():
            raw = env.get(f"OPENSTS_{name.upper()}")
            if raw not in (None, ""):
                values[name] = parse(f"OPENSTS_{name.upper()}", raw)
        # The SAML audience variable is singular (it predates the field's plural name).
        audiences = env.get("OPENSTS_SAML_AUDIENCE")
        if audiences:
            values["saml_audiences"] = _csv("OPENSTS_SAML_AUDIENCE", audiences)
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in _FIELDS:
                raise TypeError(f"unknown setting {name}")
            values[name] = _FIELDS[name](f"--{name.replace('_', '-')}", value)
        settings = replace(cls(), **values)
        _check_tls(settings)
        return settings


def environment_without_settings() -> dict[str, str]:
    """This process's environment without its ``OPENSTS_*`` variables (the master key among them): for
    a child process that gets its settings another way (the audit writer, ``audit/writer.py``)."""
    return {name: value for name, value in os.environ.items() if not name.startswith("OPENSTS_")}


def _check_tls(settings: Settings) -> None:
    if bool(settings.tls_cert) != bool(settings.tls_key):
        given, missing = ("cert", "key") if settings.tls_cert else ("key", "cert")
        raise SettingsError(
            f"--tls-{given} (OPENSTS_TLS_{given.upper()}) needs --tls-{missing} (OPENSTS_TLS_{missing.upper()}) too"
        )
    if settings.tls_client_ca and not settings.tls_cert:
        raise SettingsError("--tls-client-ca (OPENSTS_TLS_CLIENT_CA) needs --tls-cert and --tls-key")


def _text(label: str, value: Any) -> str:
    return str(value)


def _path(label: str, value: Any) -> Path:
    return Path(value)


def _int_in(low: int, high: int, what: str) -> Callable[[str, Any], int]:
    def parse(label: str, value: Any) -> int:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 12 and low <= int(text) <= high):
            raise SettingsError(f"{label} must be {what} {low}-{high}, got {str(value)!r}")
        return int(text)

    return parse


def _seconds(low: float, high: float) -> Callable[[str, Any], float]:
    def parse(label: str, value: Any) -> float:
        text = str(value).strip()
        try:
            seconds = float(text) if len(text) <= 20 else float("nan")
        except ValueError:
            seconds = float("nan")
        if not (low <= seconds <= high):  # NaN fails too
            raise SettingsError(f"{label} must be a number of seconds {low:g}-{high:g}, got {str(value)!r}")
        return seconds

    return parse


def _csv(label: str, value: Any) -> tuple[str, ...]:
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def is_region_name(name: str) -> bool:
    """AWS region syntax: ``us-east-1``, ``us-gov-west-1``, ``ap-southeast-4``, ``us-isob-east-1``."""
    parts = name.split("-")
    return (
        3 <= len(parts) <= 5
        and len(parts[0]) == 2 and parts[0].isascii() and parts[0].isalpha() and parts[0].islower()
        and all(p.isascii() and p.isalpha() and p.islower() for p in parts[1:-1])
        and parts[-1].isascii() and parts[-1].isdigit() and len(parts[-1]) <= 2
    )


def _regions(label: str, value: Any) -> tuple[str, ...]:
    regions = _csv(label, value)
    for region in regions:
        if not is_region_name(region):
            raise SettingsError(f"{label} must be a comma-separated list of region names like us-east-1, got {region!r}")
    return regions


def _one_of(*choices: str) -> Callable[[str, Any], str]:
    def parse(label: str, value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise SettingsError(f"{label} must be one of {', '.join(choices)}, got {str(value)!r}")
        return text

    return parse


def _rate(label: str, value: Any) -> tuple[float, float] | None:
    """``RATE`` or ``RATE/BURST`` requests per second (burst default: twice the rate), or ``off``."""
    text = str(value).strip().lower()
    if text in ("off", "0"):
        return None
    rate_text, _, burst_text = text.partition("/")
    try:
        rate = float(rate_text) if len(rate_text) <= 20 else float("nan")
        burst = float(burst_text) if burst_text and len(burst_text) <= 20 else max(1.0, 2 * rate)
    except ValueError:
        rate = burst = float("nan")
    if not (0 < rate <= 1e7 and 1 <= burst <= 1e8):  # NaN fails too
        raise SettingsError(f"{label} must be RATE or RATE/BURST requests per second, or off, got {str(value)!r}")
    return rate, burst


def _cidrs(label: str, value: Any) -> tuple[str, ...]:
    networks = []
    for part in _csv(label, value):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise SettingsError(
                f"{label} must be a comma-separated list of addresses or CIDRs like 10.0.0.0/8, got {part!r}"
            ) from None
    return tuple(networks)


def _public_url(label: str, value: Any) -> str:
    """An absolute http(s) URL with a host and no query, fragment or user info; trailing ``/`` dropped."""
    from urllib.parse import urlsplit

    text = str(value).strip()
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None or not port_ok or parts.scheme not in ("http", "https") or not parts.hostname
        or parts.query or parts.fragment or "?" in text or "#" in text or parts.username is not None
        or any(c.isspace() for c in text) or not text.isascii()
    ):
        raise SettingsError(
            f"{label} must be an http(s) URL like https://sts.example.com, without query, fragment or user info, "
            f"got {text[:200]!r}"
        )
    return text.rstrip("/")


# Field -> parser. Environment variable: OPENSTS_<FIELD>; flag: --<field-with-dashes>.
_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "host": _text,
    "port": _int_in(1, 65535, "a port number"),
    "data_dir": _path,
    "database_url": _text,
    "workers": _int_in(1, MAX_WORKERS, "a number of worker processes"),
    "account_id": _text,
    "root_access_key_id": _text,
    "root_secret_access_key": _text,
    "master_key": _text,
    "allowed_regions": _regions,
    "log_level": _one_of(*LOG_LEVELS),
    "log_format": _one_of(*LOG_FORMATS),
    "trusted_proxies": _cidrs,
    "forwarded_header": _one_of("x-forwarded-for", "forwarded"),
    "keep_alive_timeout": _seconds(1, 3600),
    "header_timeout": _seconds(0.1, 3600),
    "body_timeout": _seconds(0.1, 3600),
    "max_header_bytes": _int_in(4096, 1024 * 1024, "a number of bytes"),
    "max_headers": _int_in(16, 1000, "a number of headers"),
    "max_connections": _int_in(1, 1_000_000, "a number of connections"),
    "shutdown_timeout": _seconds(1, 3600),
    "metrics_dir": _text,
    "test_clock_file": _text,
    "audit": _one_of("on", "off"),
    "audit_retention_days": _int_in(1, 36500, "a number of days"),
    "audit_log": _text,
    "audit_dir": _text,
    "audit_writer": _one_of("auto", "process", "inline"),
    "audit_checkpoint_seconds": _seconds(1, 86400),
    "rate_limit_access_key": _rate,
    "rate_limit_source": _rate,
    "rate_limit_unauthenticated": _rate,
    "brute_force": _one_of("on", "off"),
    "brute_force_max_delay": _seconds(1, 86400),
    "public_url": _public_url,
    "brute_force_exempt": lambda label, value: () if str(value).strip().lower() == "none" else _cidrs(label, value),
    "tls_cert": _text,
    "tls_key": _text,
    "tls_client_ca": _text,
    "bootstrap": _text,
}
