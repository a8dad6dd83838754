"""Helpers for the outbound identity federation tests (a helper, not tests).

Each test works in accounts of its own (``opensts account create`` on the running server's store), so
that enabling and disabling the feature in one test never shows in another. Tokens are verified as a
relying party would: discovery and JWKS fetched over HTTP from the issuer in the token's ``iss``,
then PyJWT, and independently joserfc.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from tests.conftest import Credentials, ServerInfo, random_name

AWS = "https://sts.amazonaws.com/"


@dataclass
class Account:
    account_id: str
    root: Credentials


def new_account(server: ServerInfo) -> Account:
    out = subprocess.run([sys.executable, "-m", "opensts", "account", "create"], env=server.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    return Account(created["AccountId"], Credentials(created["AccessKeyId"], created["SecretAccessKey"]))


def enabled_account(server: ServerInfo) -> tuple[Account, str]:
    """A new account with outbound identity federation on, and its issuer URL."""
    account = new_account(server)
    issuer = server.client("iam", account.root).enable_outbound_web_identity_federation()["IssuerIdentifier"]
    return account, issuer


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: str | list[str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return statement


def make_user(server: ServerInfo, account: Account, *statements: dict[str, Any],
              tags: list[dict[str, str]] | None = None) -> tuple[str, Credentials]:
    """A user of ``account`` with an inline policy of ``statements``; its ARN and access key."""
    iam = server.client("iam", account.root)
    name = random_name("user")
    arn = iam.create_user(UserName=name, **({"Tags": tags} if tags else {}))["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def discovery(issuer: str) -> dict[str, Any]:
    response = httpx.get(issuer + "/.well-known/openid-configuration", timeout=10, verify=False)
    assert response.status_code == 200, response.text
    return response.json()


def verify_pyjwt(token: str, issuer: str, audience: str, **options: Any) -> dict[str, Any]:
    """PyJWT, with the key found by kid in the JWKS named by the issuer's discovery document."""
    jwks = httpx.get(discovery(issuer)["jwks_uri"], timeout=10, verify=False).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid))
    return jwt.decode(token, key, algorithms=["RS256", "ES384"], audience=audience, issuer=issuer,
                      options={"require": ["exp", "iat", "iss", "sub", "aud"], **options})


def verify_joserfc(token: str, issuer: str, audience: str) -> dict[str, Any]:
    """joserfc, an independent JOSE implementation: signature with the JWKS, then the claims."""
    jwks = httpx.get(discovery(issuer)["jwks_uri"], timeout=10, verify=False).json()
    decoded = jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256", "ES384"])
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer}, aud={"essential": True, "value": audience},
        exp={"essential": True}, sub={"essential": True},
    )
    registry.validate(decoded.claims)
    return dict(decoded.claims)


def error_of(exc: Any) -> tuple[str, int]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


class TlsProxy:
    """A TLS-terminating proxy on 127.0.0.1:``port`` in front of an HTTP server (threads, for tests):
    lets an OpenSTS server's issuer be reached over HTTPS, as OpenSTS's OIDC client requires."""

    def __init__(self, port: int, backend_port: int, cert_path: str, key_path: str) -> None:
        import socket
        import ssl
        import threading

        self._socket_module = socket
        self._threading = threading
        self.backend_port = backend_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_path, key_path)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: Any) -> None:
        try:
            tls = self.context.wrap_socket(client, server_side=True)
            backend = self._socket_module.create_connection(("127.0.0.1", self.backend_port), timeout=30)
        except OSError:
            client.close()
            return
        self._threading.Thread(target=self._pipe, args=(backend, tls), daemon=True).start()
        self._pipe(tls, backend)

    @staticmethod
    def _pipe(source: Any, target: Any) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.listener.close()
