"""The ``opensts`` command line: serve, account, keys, policy, audit, backup, restore, plan, apply, export."""

from __future__ import annotations

import json
import logging
import logging.config
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from opensts import __version__
from opensts.commands.audit import audit
from opensts.commands.backup import backup, open_serving_runtime, restore
from opensts.commands.common import fail, open_existing_store_or_fail, open_runtime_or_fail, store_options
from opensts.commands.audit_events import record_cli_event
from opensts.commands.iac import apply, export, plan
from opensts.commands.policy import policy
from opensts.config import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_HOST,
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADERS,
    DEFAULT_PORT,
    DEFAULT_SHUTDOWN_TIMEOUT,
    LOG_LEVELS,
    MAX_WORKERS,
    Settings,
    SettingsError,
)
from opensts.server.metrics import create_shared_dir, remove_shared_dir

if TYPE_CHECKING:
    from opensts.server.tls import TlsFiles

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="opensts")
def cli() -> None:
    """OpenSTS: a self-hosted, AWS-compatible Security Token Service.

    Point boto3 or the AWS CLI at it with --endpoint-url / AWS_ENDPOINT_URL.
    Every option also reads an OPENSTS_* environment variable.
    """


_serve_options = [
    click.option("--host", default=None, help=f"Address to listen on [env OPENSTS_HOST; default {DEFAULT_HOST}]."),
    click.option("--port", default=None, metavar="PORT", help=f"Port to listen on, 1-65535 [env OPENSTS_PORT; default {DEFAULT_PORT}]."),
    click.option("--workers", default=None, metavar="N", help=f"Worker processes, 1-{MAX_WORKERS} [env OPENSTS_WORKERS; default 1]."),
    click.option("--log-level", default=None, metavar="LEVEL", help=f"{'|'.join(LOG_LEVELS)} [env OPENSTS_LOG_LEVEL; default info]."),
    click.option("--log-format", default=None, metavar="text|json", help="Log lines as text, or one JSON object per line [env OPENSTS_LOG_FORMAT; default text]."),
    click.option(
        "--trusted-proxies", default=None, metavar="CIDR[,CIDR...]",
        help="Reverse proxies whose forwarding headers give the client's address and scheme "
        "[env OPENSTS_TRUSTED_PROXIES; default none: no forwarding header is believed].",
    ),
    click.option(
        "--forwarded-header", default=None, metavar="x-forwarded-for|forwarded",
        help="The header the trusted proxies write [env OPENSTS_FORWARDED_HEADER; default x-forwarded-for].",
    ),
    click.option("--keep-alive-timeout", default=None, metavar="SECONDS", help=f"Idle keep-alive connections are closed after this [env OPENSTS_KEEP_ALIVE_TIMEOUT; default {DEFAULT_KEEP_ALIVE_TIMEOUT:g}]."),
    click.option("--header-timeout", default=None, metavar="SECONDS", help=f"Time allowed to send a request's headers [env OPENSTS_HEADER_TIMEOUT; default {DEFAULT_HEADER_TIMEOUT:g}]."),
    click.option("--body-timeout", default=None, metavar="SECONDS", help=f"Time allowed to send a request's body [env OPENSTS_BODY_TIMEOUT; default {DEFAULT_BODY_TIMEOUT:g}]."),
    click.option("--max-header-bytes", default=None, metavar="BYTES", help=f"Request line and headers, at most [env OPENSTS_MAX_HEADER_BYTES; default {DEFAULT_MAX_HEADER_BYTES}]."),
    click.option("--max-headers", default=None, metavar="N", help=f"Header fields per request, at most [env OPENSTS_MAX_HEADERS; default {DEFAULT_MAX_HEADERS}]."),
    click.option("--max-connections", default=None, metavar="N", help=f"Open connections per worker, at most; more are answered 503 [env OPENSTS_MAX_CONNECTIONS; default {DEFAULT_MAX_CONNECTIONS}]."),
    click.option("--tls-cert", default=None, metavar="FILE", help="Serve HTTPS with this PEM certificate chain; reloaded when it changes or on SIGHUP [env OPENSTS_TLS_CERT]."),
    click.option("--tls-key", default=None, metavar="FILE", help="The certificate's PEM private key [env OPENSTS_TLS_KEY]."),
    click.option("--tls-client-ca", default=None, metavar="FILE", help="Mutual TLS: require client certificates issued by these PEM CAs [env OPENSTS_TLS_CLIENT_CA]."),
    click.option("--shutdown-timeout", default=None, metavar="SECONDS", help=f"On SIGTERM, requests in progress get this long to finish [env OPENSTS_SHUTDOWN_TIMEOUT; default {DEFAULT_SHUTDOWN_TIMEOUT:g}]."),
    click.option("--audit", default=None, metavar="on|off", help="Record every call in the audit trail (docs/AUDIT.md) [env OPENSTS_AUDIT; default on]."),
    click.option("--audit-retention-days", default=None, metavar="DAYS", help="Remove audit events older than this [env OPENSTS_AUDIT_RETENTION_DAYS; default 90]."),
    click.option("--audit-log", default=None, metavar="PATH|-", help="Also write each event as a JSON line to PATH, or to standard output with - [env OPENSTS_AUDIT_LOG]."),
    click.option("--audit-dir", default=None, metavar="DIR", help="Also write CloudTrail's delivery files under DIR/AWSLogs/ [env OPENSTS_AUDIT_DIR]."),
    click.option("--audit-writer", default=None, metavar="auto|process|inline", help="Commit audit events in a writer process once the trail is busy (auto), always (process), or on the server's event loop (inline) [env OPENSTS_AUDIT_WRITER; default auto]."),
    click.option("--rate-limit-access-key", default=None, metavar="RATE[/BURST]|off", help="Signed requests per second per access key id, per worker [env OPENSTS_RATE_LIMIT_ACCESS_KEY; default 20000/40000]."),
    click.option("--rate-limit-source", default=None, metavar="RATE[/BURST]|off", help="Signed requests per second per source address, per worker [env OPENSTS_RATE_LIMIT_SOURCE; default 40000/80000]."),
    click.option("--rate-limit-unauthenticated", default=None, metavar="RATE[/BURST]|off", help="Unsigned STS calls and presigned URLs per second per source address, per worker [env OPENSTS_RATE_LIMIT_UNAUTHENTICATED; default 1000/2000]."),
    click.option("--brute-force", default=None, metavar="on|off", help="Slow down failed signatures and MFA codes per address, key id and device [env OPENSTS_BRUTE_FORCE; default on]."),
    click.option("--brute-force-max-delay", default=None, metavar="SECONDS", help="The longest delay after repeated failures [env OPENSTS_BRUTE_FORCE_MAX_DELAY; default 900]."),
    click.option("--brute-force-exempt", default=None, metavar="CIDR[,CIDR...]|none", help="Addresses whose failures are not counted per address [env OPENSTS_BRUTE_FORCE_EXEMPT; default 127.0.0.0/8,::1]."),
    click.option(
        "--public-url", default=None, metavar="URL",
        help="The URL clients reach this server at; each account's OIDC issuer is a path under it "
        "[env OPENSTS_PUBLIC_URL; default http(s)://HOST:PORT, for local use only].",
    ),
    click.option(
        "--bootstrap", default=None, metavar="FILE",
        help="Apply this IAM-as-code file (docs/IAM-AS-CODE.md) once the store is open, before serving; "
        "an invalid file refuses the start [env OPENSTS_BOOTSTRAP].",
    ),
    click.option("--audit-checkpoint-seconds", default=None, metavar="SECONDS", help="Sign each account's audit chain head this often [env OPENSTS_AUDIT_CHECKPOINT_SECONDS; default 60]."),
]


def serve_options(func: Any) -> Any:
    for option in reversed(_serve_options):
        func = option(func)
    return func


@cli.command()
@serve_options
@store_options
def serve(data_dir: str | None, database_url: str | None, **flags: str | None) -> None:
    """Start the STS/IAM server (HTTP, AWS Query protocol) on HOST:PORT.

    First start creates the store, the signing key ring and a default account whose root
    credentials go to DATA_DIR/root-credentials (mode 0600), unless OPENSTS_ROOT_ACCESS_KEY_ID and
    OPENSTS_ROOT_SECRET_ACCESS_KEY are set.
    """
    from opensts.server import serving
    from opensts.server.app import AppFactory

    try:
        settings = Settings.from_env(data_dir=data_dir, database_url=database_url, **flags)
    except SettingsError as exc:
        fail(str(exc))
    configure_logging(settings.log_level, settings.log_format)
    tls_files = _tls_files_or_fail(settings)
    # First-start work happens once, before any worker. store_lock stays open for the server's life.
    runtime, store_lock = open_serving_runtime(settings)
    account = runtime.default_account_id
    if settings.bootstrap:  # idempotent: a restart applies the same file and changes nothing
        from opensts.commands.iac import bootstrap

        bootstrap(runtime, settings.bootstrap)
    try:
        account_count = len(runtime.store.accounts.list())
    finally:
        runtime.close()
    try:
        sock = serving.bind(settings.host, settings.port)
    except serving.ListenError as exc:
        fail(str(exc))
    limits = serving.Limits(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        max_connections=serving.effective_max_connections(settings.max_connections),
        shutdown_timeout=settings.shutdown_timeout,
    )
    if limits.max_connections < settings.max_connections:
        logging.getLogger("opensts").info(
            "connection cap lowered to %d per worker to fit the open-file limit", limits.max_connections
        )
    metrics_dir = None
    if settings.workers > 1 and not settings.metrics_dir:
        metrics_dir = create_shared_dir()
    # The workers get these settings as they are (flags included), with the paths resolved.
    worker_settings = replace(
        settings,
        data_dir=settings.data_dir.resolve(),
        database_url=settings.resolved_database_url,
        metrics_dir=settings.metrics_dir or metrics_dir,
    )
    tls = tls_files is not None
    startup = logging.getLogger("opensts")  # once, in this (the parent) process: never a secret
    startup.info(
        "OpenSTS %s listening on %s://%s:%d (tls %s, %d worker%s)",
        __version__, "https" if tls else "http", f"[{settings.host}]" if ":" in settings.host else settings.host,
        sock.getsockname()[1], "on" if tls else "off", settings.workers, "" if settings.workers == 1 else "s",
    )
    startup.info(
        "store %s; %d account%s (default %s); audit %s; log level %s, format %s",
        settings.store_summary, account_count, "" if account_count == 1 else "s", account, settings.audit,
        settings.log_level, settings.log_format,
    )
    if tls_files is None and not _is_loopback(settings.host):
        logging.getLogger("opensts").warning(
            "TLS is off and %s is not a loopback address: secret access keys and session tokens in "
            "responses travel in clear text over the network (use --tls-cert/--tls-key, or a TLS proxy)",
            settings.host,
        )
    try:
        serving.run(
            AppFactory(worker_settings), settings.host, settings.port, settings.workers, settings.log_level,
            settings.keep_alive_timeout, limits, sock, tls_files, log_format=settings.log_format,
        )
    finally:
        sock.close()
        if metrics_dir is not None:
            remove_shared_dir(metrics_dir)


def _tls_files_or_fail(settings: Settings) -> "TlsFiles | None":
    """The TLS files, checked to load (one line and exit 1 if not), or None with TLS off."""
    from opensts.server.tls import TlsError, TlsFiles, load_context

    if not (settings.tls_cert and settings.tls_key):
        return None
    files = TlsFiles.resolved(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
    try:
        load_context(files)
    except TlsError as exc:
        fail(str(exc))
    return files


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def configure_logging(level: str, log_format: str = "text") -> None:
    """The same configuration uvicorn applies in every worker (server/serving.py)."""
    from opensts.server.serving import log_config

    logging.config.dictConfig(log_config(level, log_format))


@cli.group()
def account() -> None:
    """Create and list accounts (works while a server runs on the same store)."""


@account.command("create")
@click.option("--id", "account_id", default=None, help="12-digit account id (default: random).")
@click.option("--name", default=None, help="A unique name for the account, 1 to 64 characters (default: the id).")
@store_options
def account_create(account_id: str | None, name: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Create an account; print its root credentials as one JSON object.

    Exit status 1, and nothing created, if the id or the name is already in use.
    """
    from opensts.identity import ids
    from opensts.store import AccountExists
    from opensts.store.errors import AccountNameExists

    if account_id is not None and not ids.is_account_id(account_id):
        fail(f"invalid account id {account_id!r}: an account id is exactly 12 digits")
    if name is not None and not (1 <= len(name) <= 64):
        fail("the account name must be 1 to 64 characters")
    if name is not None and not name.isprintable():
        fail("the account name must not contain control characters")
    runtime = open_existing_store_or_fail(data_dir, database_url)
    try:
        new_id = account_id or ids.new_account_id()
        try:
            runtime.store.accounts.create(new_id, name or new_id)
        except AccountExists:
            fail(f"account {new_id} already exists")
        except AccountNameExists:
            fail(f"an account named {name or new_id!r} already exists (account names are unique)")
        key_id = ids.new_long_term_access_key_id(new_id)
        secret = ids.new_secret_access_key()
        runtime.store.access_keys.create(key_id, secret, new_id)
        record_cli_event(runtime, "CreateAccount", {"accountId": new_id, "accountName": name or new_id},
                         {"accountId": new_id, "accessKeyId": key_id})  # never the secret key
    finally:
        runtime.close()
    click.echo(json.dumps({"AccountId": new_id, "AccessKeyId": key_id, "SecretAccessKey": secret}))


@account.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@store_options
def account_list(as_json: bool, data_dir: str | None, database_url: str | None) -> None:
    """List accounts (the default account is marked with *)."""
    runtime = open_existing_store_or_fail(data_dir, database_url)
    try:
        accounts = runtime.store.accounts.list()
        default = runtime.default_account_id
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps([{"AccountId": a.account_id, "Name": a.name, "Default": a.account_id == default, "CreatedAt": a.created_at.isoformat()} for a in accounts]))
        return
    for a in accounts:
        click.echo(f"{'*' if a.account_id == default else ' '} {a.account_id}  {a.name}  {a.created_at:%Y-%m-%dT%H:%M:%SZ}")


@cli.group()
def keys() -> None:
    """Manage the key ring that seals session tokens and authorization messages."""


@keys.command("rotate")
@store_options
def keys_rotate(data_dir: str | None, database_url: str | None) -> None:
    """Make a new signing key active. Old keys keep verifying until the sessions they signed have expired.

    The JWT signing keys of GetWebIdentityToken (once it has been used) rotate too: the old ones stay
    in every issuer's JWKS until the tokens they signed have expired.
    """
    from opensts.runtime import rotate_jwt_keys, rotate_keyring

    runtime = open_existing_store_or_fail(data_dir, database_url)
    try:
        active = rotate_keyring(runtime)
        jwt_ids = rotate_jwt_keys(runtime)
        record_cli_event(runtime, "RotateSigningKey", None, {"activeKeyId": active, **({"jwtKeyIds": jwt_ids} if jwt_ids else {})})
    finally:
        runtime.close()
    out: dict[str, Any] = {"ActiveKeyId": active}
    if jwt_ids:
        out["JwtKeyIds"] = jwt_ids
    click.echo(json.dumps(out))


@keys.command("list")
@store_options
def keys_list(data_dir: str | None, database_url: str | None) -> None:
    """List signing keys (ids and dates only, never key material)."""
    runtime = open_existing_store_or_fail(data_dir, database_url)
    try:
        rows = runtime.store.signing_keys.load()
        jwt_rows = runtime.store.jwt_signing_keys.load()
    finally:
        runtime.close()
    def when(epoch: int) -> str:
        return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    for row in rows:
        retire = f"verify-only until {when(row.not_after)}" if row.not_after else ""
        click.echo(f"{'*' if row.active else ' '} {row.key_id}  created {when(row.created_at)}  {retire}".rstrip())
    for jwt_row in jwt_rows:  # GetWebIdentityToken's keys, by kid (the public key's thumbprint)
        retire = f"published until {when(jwt_row.not_after)}" if jwt_row.not_after else ""
        click.echo(
            f"{'*' if jwt_row.active else ' '} jwt {jwt_row.algorithm} {jwt_row.key_id}  "
            f"created {when(jwt_row.created_at)}  {retire}".rstrip()
        )


cli.add_command(policy)
cli.add_command(audit)
cli.add_command(backup)
cli.add_command(restore)
cli.add_command(plan)
cli.add_command(apply)
cli.add_command(export)


def main() -> None:
    try:
        cli(prog_name="opensts")
    except SettingsError as exc:  # a bad OPENSTS_* variable, met by any command
        fail(str(exc))


if __name__ == "__main__":
    main()
