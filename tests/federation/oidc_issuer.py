"""A real HTTPS OpenID Connect issuer for the tests (a helper, not tests).

``IssuerPki`` makes a private CA and a server certificate for 127.0.0.1/localhost signed by it.
``IssuerServer`` serves any number of issuers on one HTTPS port, each under its own path
(``https://127.0.0.1:PORT/NAME``): the discovery document and a JWKS, with key rotation, request
counters and failure modes (``hang``, ``huge``, ``error``, ``compressed``). ``Issuer.token`` signs ID tokens.

Fixtures for test modules (import them): ``oidc_pki``, ``oidc_idp`` and ``oidc_server`` (an
OpenSTS server trusting the private CA through ``SSL_CERT_FILE``), module-scoped.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from tests.conftest import ServerInfo, start_server, stop_server

CLIENT_ID = "opensts-test-client"


# --- PKI ----------------------------------------------------------------------------------------
def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class IssuerPki:
    directory: Path
    ca_path: Path = field(init=False)
    cert_path: Path = field(init=False)
    key_path: Path = field(init=False)
    ca_thumbprint: str = field(init=False)
    leaf_thumbprint: str = field(init=False)

    def __post_init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name("OpenSTS Test CA"))
            .issuer_name(_name("OpenSTS Test CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder()
            .subject_name(_name("127.0.0.1"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_path = self.directory / "ca.pem"
        self.cert_path = self.directory / "server.pem"
        self.key_path = self.directory / "server-key.pem"
        self.ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        self.key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.ca_thumbprint = hashlib.sha1(ca.public_bytes(serialization.Encoding.DER)).hexdigest()
        self.leaf_thumbprint = hashlib.sha1(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()


# --- Issuers ------------------------------------------------------------------------------------
@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if self.alg.startswith(("RS", "PS")):
            data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        elif self.alg.startswith("ES"):
            data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
        else:
            data = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public))
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}


def new_key(alg: str = "RS256", kid: str | None = None) -> SigningKey:
    if alg.startswith(("RS", "PS")):
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
    elif alg == "ES512":
        private = ec.generate_private_key(ec.SECP521R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return SigningKey(kid or secrets.token_hex(8), alg, private)


class Issuer:
    """One issuer at ``https://127.0.0.1:PORT/NAME``: keys, counters and a failure mode."""

    def __init__(self, base_url: str, name: str, alg: str = "RS256") -> None:
        self.name = name
        self.url = f"{base_url}/{name}"
        self.keys: list[SigningKey] = [new_key(alg)]
        self.mode = "ok"  # ok | hang | huge | error | compressed
        self.cache_control: str | None = None
        self.discovery_requests = 0
        self.jwks_requests = 0
        self.lock = threading.Lock()

    @property
    def key(self) -> SigningKey:
        return self.keys[0]

    @property
    def without_scheme(self) -> str:
        return self.url[len("https://") :]

    def rotate(self, alg: str = "RS256", keep_old: bool = False) -> SigningKey:
        """Publish a new signing key first in the JWKS (dropping the old ones unless ``keep_old``)."""
        key = new_key(alg)
        with self.lock:
            self.keys = [key] + (self.keys if keep_old else [])
        return key

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys}),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
        }

    def jwks(self) -> dict[str, Any]:
        with self.lock:
            return {"keys": [k.jwk() for k in self.keys]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.url, "sub": "user-1", "aud": CLIENT_ID, "iat": now, "exp": now + 600}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        """An ID token signed with ``key`` (default: the current key), claims merged over defaults;
        a claim given as None is left out."""
        key = key or self.key
        return jwt.encode(
            self.claims(**claims), key.private, algorithm=key.alg, headers={"kid": key.kid, **(headers or {})}
        )


class _Handler(BaseHTTPRequestHandler):
    server: _HttpsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/", 1)
        issuer = self.server.issuers.get(parts[0]) if parts else None
        rest = parts[1] if len(parts) > 1 else ""
        if issuer is None or rest not in (".well-known/openid-configuration", "jwks"):
            self._send(404, b"{}")
            return
        with issuer.lock:
            if rest == "jwks":
                issuer.jwks_requests += 1
            else:
                issuer.discovery_requests += 1
        if rest == "jwks" and issuer.mode == "hang":
            time.sleep(5)
            return
        if rest == "jwks" and issuer.mode == "error":
            self._send(500, b"{}")
            return
        if rest == "jwks" and issuer.mode == "huge":
            padding = "x" * (1024 * 1024)
            self._send(200, json.dumps({"keys": [], "padding": padding}).encode())
            return
        body = json.dumps(issuer.discovery() if rest != "jwks" else issuer.jwks()).encode()
        extra = {}
        if rest == "jwks" and issuer.mode == "compressed":
            extra["Content-Encoding"] = "gzip"
        if rest == "jwks" and issuer.cache_control:
            extra["Cache-Control"] = issuer.cache_control
        self._send(200, body, extra)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    issuers: dict[str, Issuer]


class IssuerServer:
    """Serves issuers over HTTPS on 127.0.0.1 with the test PKI's server certificate."""

    def __init__(self, pki: IssuerPki) -> None:
        self.httpd = _HttpsServer(("127.0.0.1", 0), _Handler)
        self.httpd.issuers = {}
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.cert_path, pki.key_path)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def issuer(self, name: str | None = None, alg: str = "RS256") -> Issuer:
        issuer = Issuer(self.base_url, name or f"iss-{secrets.token_hex(4)}", alg)
        self.httpd.issuers[issuer.name] = issuer
        return issuer

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- Helpers for tests --------------------------------------------------------------------------
def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)]
    )


def trust_policy(provider_arn: str, condition: dict[str, Any] | None = None, actions: Any = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": actions or "sts:AssumeRoleWithWebIdentity",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def register(server: ServerInfo, issuer: Issuer, client_ids: list[str] | None = None, thumbprints: list[str] | None = None) -> str:
    kwargs: dict[str, Any] = {"Url": issuer.url, "ClientIDList": client_ids or [CLIENT_ID]}
    if thumbprints:
        kwargs["ThumbprintList"] = thumbprints
    return server.client("iam").create_open_id_connect_provider(**kwargs)["OpenIDConnectProviderArn"]


def make_role(server: ServerInfo, trust: str, name: str | None = None, **kwargs: Any) -> str:
    name = name or f"web-{secrets.token_hex(4)}"
    return server.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust, **kwargs)["Role"]["Arn"]


# --- Fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def oidc_pki(tmp_path_factory: pytest.TempPathFactory) -> IssuerPki:
    return IssuerPki(tmp_path_factory.mktemp("oidc-pki"))


@pytest.fixture(scope="module")
def oidc_idp(oidc_pki: IssuerPki) -> Iterator[IssuerServer]:
    idp = IssuerServer(oidc_pki)
    yield idp
    idp.close()


@pytest.fixture(scope="module")
def oidc_server(oidc_pki: IssuerPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """An OpenSTS server (SQLite) that trusts the test CA for OIDC key fetches."""
    info = start_server(tmp_path_factory.mktemp("oidc-server"), "sqlite", extra_env={"SSL_CERT_FILE": str(oidc_pki.ca_path)})
    yield info
    stop_server(info)
