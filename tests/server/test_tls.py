"""TLS (``--tls-cert``/``--tls-key``/``--tls-client-ca``): boto3 and the AWS CLI over HTTPS with a CA the
test makes, ``aws:SecureTransport``, mutual TLS, certificate rotation under load (file change and
SIGHUP, one and several workers), the answer to plain HTTP on the TLS port, and the settings' errors."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import BACKENDS, REGION, ServerInfo, free_port, start_server, stop_server

# --- a CA and its certificates -------------------------------------------------------------------


@dataclass
class Ca:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    path: Path  # the CA certificate, PEM


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(directory: Path, name: str = "OpenSTS test CA") -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name.replace(' ', '-')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Ca(cert, key, path)


def issue(ca: Ca, *, serial: int | None = None, client: bool = False) -> tuple[bytes, bytes, int]:
    """(certificate PEM, key PEM, serial): a server certificate for 127.0.0.1/localhost, or a client one."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    serial = serial or x509.random_serial_number()
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(_name("client" if client else "localhost")).issuer_name(ca.cert.subject)
        .public_key(key.public_key()).serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if not client:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(ca.key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, serial


def write_atomically(path: Path, data: bytes) -> None:
    """As ACME clients do: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class TlsSetup:
    ca: Ca
    cert: Path
    key: Path
    serial: int

    def env(self) -> dict[str, str]:
        return {"OPENSTS_TLS_CERT": str(self.cert), "OPENSTS_TLS_KEY": str(self.key)}

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca.path))

    def rotate(self) -> int:
        """A new certificate and key from the same CA (key first, then certificate); its serial."""
        cert, key, serial = issue(self.ca)
        write_atomically(self.key, key)
        write_atomically(self.cert, cert)
        self.serial = serial
        return serial


def make_tls(directory: Path) -> TlsSetup:
    directory.mkdir(parents=True, exist_ok=True)
    ca = make_ca(directory)
    cert, key, serial = issue(ca)
    (directory / "server.pem").write_bytes(cert)
    (directory / "server.key").write_bytes(key)
    (directory / "server.key").chmod(0o600)
    return TlsSetup(ca, directory / "server.pem", directory / "server.key", serial)


def served_serial(url: str, tls: TlsSetup) -> int:
    """The serial of the certificate a new connection is shown."""
    host, port = url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with tls.client_context().wrap_socket(raw, server_hostname=host) as conn:
            der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def boto3_client(server: ServerInfo, tls: TlsSetup, service: str = "sts", credentials=None, **config):  # type: ignore[no-untyped-def]
    creds = credentials or server.root
    return boto3.client(
        service, endpoint_url=server.url, region_name=REGION, verify=str(tls.ca.path),
        aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
        aws_session_token=getattr(creds, "session_token", None),
        config=Config(retries={"max_attempts": 1}, **config),
    )


def wait_for(predicate, seconds: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def log_text(server: ServerInfo) -> str:
    return (server.data_dir / "server.log").read_text(errors="replace")


@pytest.fixture
def tls(tmp_path: Path) -> TlsSetup:
    return make_tls(tmp_path / "tls")


@pytest.fixture(params=BACKENDS)
def https_server(request: pytest.FixtureRequest, tmp_path: Path, tls: TlsSetup):  # type: ignore[no-untyped-def]
    server = start_server(tmp_path, request.param, tls.env(), https=tls.client_context())
    yield server
    stop_server(server)


# --- tests ---------------------------------------------------------------------------------------


def test_boto3_and_aws_cli_over_https(https_server: ServerInfo, tls: TlsSetup) -> None:
    assert "listening on https://" in log_text(https_server)
    identity = boto3_client(https_server, tls).get_caller_identity()
    assert identity["Account"] == https_server.account_id

    env = {**os.environ, "AWS_CA_BUNDLE": str(tls.ca.path), "AWS_ACCESS_KEY_ID": https_server.root.access_key_id,
           "AWS_SECRET_ACCESS_KEY": https_server.root.secret_access_key, "AWS_DEFAULT_REGION": REGION}
    env.pop("AWS_SESSION_TOKEN", None)
    out = subprocess.run(
        ["aws", "sts", "get-caller-identity", "--endpoint-url", https_server.url, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Account"] == https_server.account_id

    # An unknown CA is refused by the client: the server really presents the test CA's certificate.
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        boto3.client("sts", endpoint_url=https_server.url, region_name=REGION,
                     aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x",
                     config=Config(retries={"max_attempts": 1})).get_caller_identity()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_secure_transport_true_over_https_only(backend: str, tmp_path: Path, tls: TlsSetup) -> None:
    """A policy allowing an action only with aws:SecureTransport true: allowed over HTTPS, denied over
    plain HTTP (a second, plain server on the same store)."""
    server = start_server(tmp_path, backend, tls.env(), https=tls.client_context())
    plain = None
    try:
        iam = boto3_client(server, tls, "iam")
        iam.create_user(UserName="tls-user")
        iam.put_user_policy(UserName="tls-user", PolicyName="https-only", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
                           "Condition": {"Bool": {"aws:SecureTransport": "true"}}}],
        }))
        key = iam.create_access_key(UserName="tls-user")["AccessKey"]
        from tests.conftest import Credentials

        user = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        boto3_client(server, tls, "iam", user).list_users()  # allowed over TLS

        port = free_port()
        log = open(tmp_path / "plain.log", "wb")
        plain = subprocess.Popen([sys.executable, "-m", "opensts", "serve", "--port", str(port)],
                                 env=server.env(), stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(up, 30), (tmp_path / "plain.log").read_text()
        plain_iam = boto3.client("iam", endpoint_url=url, region_name=REGION, aws_access_key_id=user.access_key_id,
                                 aws_secret_access_key=user.secret_access_key, config=Config(retries={"max_attempts": 1}))
        with pytest.raises(ClientError) as denied:
            plain_iam.list_users()
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        if plain is not None:
            plain.terminate()
            plain.wait(10)
        stop_server(server)


def test_plain_http_to_the_tls_port_gets_a_clear_error(https_server: ServerInfo) -> None:
    plain_url = https_server.url.replace("https://", "http://")
    response = httpx.get(f"{plain_url}/health", timeout=5)
    assert response.status_code == 400
    assert response.text == "The plain HTTP request was sent to the HTTPS port."
    assert response.headers["connection"] == "close"


def _handshake(url: str, context: ssl.SSLContext) -> str:
    host, port = url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as conn:
            return f"{conn.version()} {conn.cipher()[0]}"  # type: ignore[index]


def test_only_modern_protocols_and_ciphers(https_server: ServerInfo, tls: TlsSetup) -> None:
    assert _handshake(https_server.url, tls.client_context()).startswith("TLSv1.3")
    tls12 = tls.client_context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = _handshake(https_server.url, tls12).split()
    assert version == "TLSv1.2" and ("GCM" in cipher or "CHACHA20" in cipher)
    cbc = tls.client_context()
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA")  # CBC suites only
    with pytest.raises(ssl.SSLError):
        _handshake(https_server.url, cbc)


def test_mutual_tls(tmp_path: Path, tls: TlsSetup) -> None:
    client_ca = make_ca(tmp_path, "client CA")
    cert, key, _ = issue(client_ca, client=True)
    (tmp_path / "client.pem").write_bytes(cert)
    (tmp_path / "client.key").write_bytes(key)
    with_cert = tls.client_context()
    with_cert.load_cert_chain(tmp_path / "client.pem", tmp_path / "client.key")
    server = start_server(tmp_path, "sqlite", {**tls.env(), "OPENSTS_TLS_CLIENT_CA": str(client_ca.path)}, https=with_cert)
    try:
        # Without a client certificate: the handshake fails (TLS 1.3 reports it on the first read).
        with pytest.raises((ssl.SSLError, ConnectionError, httpx.HTTPError)):
            httpx.get(f"{server.url}/health", verify=tls.client_context(), timeout=5)
        # A certificate from another CA (the server's own CA) is refused too.
        other_cert, other_key, _ = issue(tls.ca, client=True)
        (tmp_path / "other.pem").write_bytes(other_cert)
        (tmp_path / "other.key").write_bytes(other_key)
        wrong = tls.client_context()
        wrong.load_cert_chain(tmp_path / "other.pem", tmp_path / "other.key")
        with pytest.raises((ssl.SSLError, ConnectionError, httpx.HTTPError)):
            httpx.get(f"{server.url}/health", verify=wrong, timeout=5)
        # With one: boto3 works.
        sts = boto3_client(server, tls, client_cert=(str(tmp_path / "client.pem"), str(tmp_path / "client.key")))
        assert sts.get_caller_identity()["Account"] == server.account_id
    finally:
        stop_server(server)


class Load:
    """Threads calling the server until stopped: boto3 on kept-alive connections, and raw HTTPS
    requests on a new connection each (new handshakes during the rotation)."""

    def __init__(self, server: ServerInfo, tls: TlsSetup) -> None:
        self.server, self.tls = server, tls
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._boto3) for _ in range(2)]
        self.threads += [threading.Thread(target=self._fresh_connections) for _ in range(2)]

    def _count(self, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.ok += 1
            else:
                self.failures.append(error)

    def _boto3(self) -> None:
        sts = boto3_client(self.server, self.tls)
        while not self.stop.is_set():
            try:
                sts.get_caller_identity()
                self._count(None)
            except Exception as exc:  # every failure is counted, whatever it is
                self._count(repr(exc))

    def _fresh_connections(self) -> None:
        host, port = self.server.url.removeprefix("https://").split(":")
        context = self.tls.client_context()
        while not self.stop.is_set():
            conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
            try:
                conn.request("GET", "/health")
                response = conn.getresponse()
                response.read()
                self._count(None if response.status == 200 else f"status {response.status}")
            except Exception as exc:
                self._count(repr(exc))
            finally:
                conn.close()

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


@pytest.mark.parametrize("workers", [1, 2])
def test_certificate_rotates_under_load_without_failures(tmp_path: Path, tls: TlsSetup, workers: int) -> None:
    server = start_server(tmp_path, "sqlite", {**tls.env(), "OPENSTS_WORKERS": str(workers)}, https=tls.client_context())
    try:
        first = tls.serial
        assert served_serial(server.url, tls) == first
        with Load(server, tls) as load:
            time.sleep(1)
            new = tls.rotate()
            # Every worker picks it up from the files (each new connection may land on any worker).
            assert wait_for(lambda: all(served_serial(server.url, tls) == new for _ in range(6)), 30), log_text(server)
            time.sleep(1)
        assert load.failures == [], load.failures[:5]
        assert load.ok > 0
        assert "TLS certificate reloaded" in log_text(server)
    finally:
        stop_server(server)


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_reloads_the_certificate_in_every_worker(tmp_path: Path, tls: TlsSetup, workers: int) -> None:
    server = start_server(tmp_path, "sqlite", {**tls.env(), "OPENSTS_WORKERS": str(workers)}, https=tls.client_context())
    try:
        with Load(server, tls) as load:
            time.sleep(0.5)
            server.process.send_signal(signal.SIGHUP)
            assert wait_for(lambda: log_text(server).count("TLS certificate reloaded (SIGHUP)") == workers, 20), log_text(server)
            time.sleep(0.5)
        assert load.failures == [], load.failures[:5]
        assert server.process.poll() is None  # SIGHUP neither ended the server nor restarted its workers
        assert "restarting processes" not in log_text(server)
        assert boto3_client(server, tls).get_caller_identity()["Account"] == server.account_id
    finally:
        stop_server(server)


def test_a_bad_new_certificate_keeps_the_old_one(tmp_path: Path, tls: TlsSetup) -> None:
    server = start_server(tmp_path, "sqlite", tls.env(), https=tls.client_context())
    try:
        first = tls.serial
        write_atomically(tls.cert, b"-----BEGIN CERTIFICATE-----\nMIIB half written")
        assert wait_for(lambda: "TLS certificate not reloaded" in log_text(server), 20), log_text(server)
        assert served_serial(server.url, tls) == first
        assert boto3_client(server, tls).get_caller_identity()["Account"] == server.account_id
        new = tls.rotate()  # the next change is tried again
        assert wait_for(lambda: served_serial(server.url, tls) == new, 20), log_text(server)
    finally:
        stop_server(server)


def _serve_fails(env: dict[str, str], tmp_path: Path) -> str:
    full = {**os.environ, "OPENSTS_DATA_DIR": str(tmp_path / "data"), **env}
    out = subprocess.run([sys.executable, "-m", "opensts", "serve", "--port", str(free_port())],
                         env=full, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())  # nothing created
    return lines[0]


def test_settings_errors(tmp_path: Path, tls: TlsSetup) -> None:
    assert "OPENSTS_TLS_KEY" in _serve_fails({"OPENSTS_TLS_CERT": str(tls.cert)}, tmp_path)
    assert "OPENSTS_TLS_CERT" in _serve_fails({"OPENSTS_TLS_KEY": str(tls.key)}, tmp_path)
    assert "--tls-client-ca" in _serve_fails({"OPENSTS_TLS_CLIENT_CA": str(tls.ca.path)}, tmp_path)
    missing = _serve_fails({"OPENSTS_TLS_CERT": str(tmp_path / "nope.pem"), "OPENSTS_TLS_KEY": str(tls.key)}, tmp_path)
    assert "nope.pem" in missing and "No such file" in missing
    tls.key.chmod(0o000)
    if os.geteuid() != 0:  # root reads any file
        assert "Permission denied" in _serve_fails(tls.env(), tmp_path)
    tls.key.chmod(0o600)
    _, other_key, _ = issue(tls.ca)
    (tmp_path / "other.key").write_bytes(other_key)
    mismatch = _serve_fails({"OPENSTS_TLS_CERT": str(tls.cert), "OPENSTS_TLS_KEY": str(tmp_path / "other.key")}, tmp_path)
    assert "key values mismatch" in mismatch
    bad_ca = _serve_fails({**tls.env(), "OPENSTS_TLS_CLIENT_CA": str(tls.key)}, tmp_path)
    assert "client CA" in bad_ca


def test_plain_http_on_a_public_address_warns(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "OPENSTS_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen([sys.executable, "-m", "opensts", "serve", "--host", "0.0.0.0", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # ends: the startup lines come first, the warning among them
            seen.append(line)
            if "TLS is off" in line or len(seen) > 20:
                break
        assert "TLS is off" in seen[-1] and "clear text" in seen[-1], seen
        assert any("listening on http://0.0.0.0:" in line for line in seen), seen
    finally:
        process.terminate()
        process.wait(10)


def test_handshake_is_under_the_header_timeout_and_the_connection_cap(tmp_path: Path, tls: TlsSetup) -> None:
    server = start_server(tmp_path, "sqlite", {**tls.env(), "OPENSTS_HEADER_TIMEOUT": "3", "OPENSTS_MAX_CONNECTIONS": "2"},
                          https=tls.client_context())
    host, port = server.url.removeprefix("https://").split(":")
    try:
        # A handshake that never completes (slowloris on TLS) is closed by the header timeout.
        with socket.create_connection((host, int(port)), timeout=30) as stalled:
            stalled.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, no more
            assert stalled.recv(100) == b""
        # Connections still in their handshake count toward the cap: a third is closed unanswered.
        idle = [socket.create_connection((host, int(port)), timeout=30) for _ in range(2)]
        try:
            # (Accepted in order: the third after these two, which the header timeout keeps 3 s.)
            with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
                served_serial(server.url, tls)
        finally:
            for conn in idle:
                conn.close()
        assert wait_for(lambda: _serves(server, tls), 10)
    finally:
        stop_server(server)


def test_handshakes_the_client_abandons_free_their_slot_at_once(tmp_path: Path, tls: TlsSetup) -> None:
    """A client that starts a handshake and goes away frees its place under the cap at once (not
    after the header timeout): the TLS layer reports no connection_lost for a connection it never
    made, and the slot used to stay taken until the timeout (and a stop waited for it)."""
    server = start_server(tmp_path, "sqlite", {**tls.env(), "OPENSTS_HEADER_TIMEOUT": "60", "OPENSTS_MAX_CONNECTIONS": "2"},
                          https=tls.client_context())
    host, port = server.url.removeprefix("https://").split(":")
    try:
        for _ in range(4):
            # A whole ClientHello, then gone while the server is still answering it (as wrk's last connections).
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            client = tls.client_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
            with pytest.raises(ssl.SSLWantReadError):
                client.do_handshake()
            with socket.create_connection((host, int(port)), timeout=30) as abandoned:
                abandoned.sendall(outgoing.read())  # and gone at once, the server's answer unread
        assert wait_for(lambda: _serves(server, tls), 20)  # well before the 60 s header timeout
        stop_server(server)
        assert "timeout graceful shutdown exceeded" not in log_text(server)  # nothing left to wait for
    finally:
        if server.process.poll() is None:
            stop_server(server)


def _serves(server: ServerInfo, tls: TlsSetup) -> bool:
    try:
        return boto3_client(server, tls).get_caller_identity()["Account"] == server.account_id
    except Exception:
        return False


def test_a_request_sent_with_the_handshakes_last_message_is_served(https_server: ServerInfo, tls: TlsSetup) -> None:
    """The client's Finished and its first request in one TCP write (one server read): the request may
    be decrypted before the TLS connection is handed to HTTP, and must still be answered."""
    assert _finished_and_request_together(https_server.url, tls).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_both_event_loops_terminate_tls(tmp_path: Path, tls: TlsSetup, loop: str) -> None:
    """The protocol's TLS layer on asyncio's loop as on uvloop's (their SSLProtocol classes differ;
    asyncio's hands over data decrypted with the handshake's last message before the handshake's
    completion is seen)."""
    import uvicorn

    from opensts.server import serving
    from opensts.server.tls import TlsFiles

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body = scope["scheme"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    sock = serving.bind("127.0.0.1", 0)
    config = serving.ServeConfig(app, limits=serving.Limits(), tls_files=TlsFiles(str(tls.cert), str(tls.key)),
                                 http=serving.LimitedHttpToolsProtocol, loop=loop, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        url = f"https://127.0.0.1:{sock.getsockname()[1]}"
        assert wait_for(lambda: server.started, 20)
        for _ in range(3):
            assert _finished_and_request_together(url, tls).endswith(b"\r\n\r\nhttps")
            assert httpx.get(url, verify=tls.client_context(), timeout=5).text == "https"
        assert httpx.get(url.replace("https", "http"), timeout=5).status_code == 400
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def _finished_and_request_together(url: str, tls: TlsSetup) -> bytes:
    host, port = url.removeprefix("https://").split(":")
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_client = tls.client_context().wrap_bio(incoming, outgoing, server_hostname=host)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        for _ in range(10):  # a TLS handshake takes at most a few round trips
            try:
                tls_client.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                data = raw.recv(65536)
                assert data
                incoming.write(data)
        tls_client.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        raw.sendall(outgoing.read())  # Finished and the request together
        response = b""
        while True:
            data = raw.recv(65536)
            if not data:
                break
            incoming.write(data)
            try:
                while chunk := tls_client.read(65536):  # ends: b"" once the TLS stream is closed
                    response += chunk
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
            head, sep, body = response.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
            if sep and length and len(body) >= length[0]:
                break
    return response
